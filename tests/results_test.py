"""The results schema: one measure table read by every report and table."""

from dtransfer import aggregate
from dtransfer import report
from dtransfer import results

R = {"omes": {"grid": {"avg": {"0.0": .1, "0.5": .2, "1.0": .3},
                       "max": {"0.0": .1, "0.5": .25, "1.0": .3}},
              "os": [.1, .2], "mes": [.3, .4], "score": [.5, .6]},
     "gbt": {"test_accuracy": [.7, .8], "mean_test_accuracy": .75},
     "mig": {"mig": .1, "gap": [.1, .2]}}


def test_measures_read_whole_and_per_factor_values():
  assert results.MEASURE["OMES"].value(R) == .2
  assert results.MEASURE["OS"].value(R) == .3 and results.MEASURE["MES"].value(R) == .1
  assert results.MEASURE["OMES max"].value(R) == .25
  assert results.MEASURE["GBT"].factors(R, 2) == [.7, .8]
  assert results.MEASURE["GBT"].factors(R, 3) == [None] * 3    # wrong length: absent
  assert results.MEASURE["DCI"].value(R) is None               # not computed


def test_report_and_study_tables_agree():
  head = report.headline(R)
  rows = aggregate.metric_values(R, 2)
  for label in ("OMES", "OS", "MES", "GBT"):
    m = results.MEASURE[label]
    assert head[m.title] == rows[label][-1] == m.value(R)
    assert rows[label][:2] == m.factors(R, 2)
  assert rows["DCI"] == [None, None, None]
  assert aggregate.headline_metrics(R)["GBT acc."] == .75
  assert report.per_factor(R, ["a", "b"])["OS"] == [.1, .2]
