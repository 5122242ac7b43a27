"""The study tables reproduce hand-computed cells from fabricated result files."""

import csv
import io
import os

import numpy as np
import pytest

from configs import study as study_cfg
from dtransfer import aggregate
from dtransfer import study
from dtransfer import study_report
from tests import study_fixtures as fx

R = fx.results


def _spec(pair, beta, seed):
  src, tgt, _ = study_cfg.PAIRS[pair]
  return study.RunSpec(pair, src, tgt, float(beta), int(seed))


@pytest.fixture(name="root")
def fabricated_root(tmp_path):
  """Pair 6: three models (C lacks the pruned and OMES metrics); pair 1: one model."""
  root = str(tmp_path)
  fx.write_run(root, _spec("6", 1, 0),
               R([.5, .7], [.3, .5], os_=[1.0, .5], mes=[.8, .6], grid={0.0: .7}, dci=.2,
                 mig=[.1, .3]),
               R([.6, .7], [.5, .5], os_=[1.0, .7], mes=[.8, .6], grid={0.0: .7}, dci=.4,
                 mig=[.1, .3]),
               dist={"encoding": {"mmd2": 0.1, "frechet": 2.0},
                     "pixel": {"mmd2": 0.5, "frechet": 30.0}})
  fx.write_run(root, _spec("6", 2, 0),
               R([.6, .9], [.5, .7], os_=[.6, .5], mes=[.4, .2], grid={0.0: .3}, dci=.4,
                 mig=[.2, .2]),
               R([.8, .9], [.5, .9], os_=[.6, .5], mes=[.6, .2], grid={0.0: .3}, dci=.4,
                 mig=[.2, .2]),
               dist={"encoding": {"mmd2": 0.3, "frechet": 4.0},
                     "pixel": {"mmd2": 0.5, "frechet": 30.0}})
  fx.write_run(root, _spec("6", 1, 1), R([.4, .8]), R([.4, .8]),
               dist={"encoding": {"mmd2": 0.2, "frechet": 3.0},
                     "pixel": {"mmd2": 0.5, "frechet": 30.0}})
  fx.write_run(root, _spec("1", 1, 0), R([.5]), R([.6]), factor_names=("color",),
               dist={"encoding": {"mmd2": 0.9, "frechet": 1.0},
                     "pixel": {"mmd2": 0.1, "frechet": 10.0}})
  # A run without its done.json marker is not collected.
  rdir = study.run_dir(root, _spec("6", 2, 1))
  os.makedirs(os.path.join(rdir, "transfer", "before"))
  return root


def _cells(root):
  return {(c["pair"], c["metric"], c["factor"]): c
          for c in aggregate.aggregate(aggregate.flat_table(aggregate.collect(root)))}


def test_collect_reads_only_finished_runs(root):
  recs = aggregate.collect(root)
  assert [(r["pair"], r["beta"], r["seed"]) for r in recs] == [
      ("1", 1.0, 0), ("6", 1.0, 0), ("6", 1.0, 1), ("6", 2.0, 0)]


def test_cells_match_hand_computation(root):
  cells = _cells(root)
  c = cells[("6", "GBT", "a")]          # before .5 .6 .4; deltas .1 .2 0
  assert c["n"] == 3
  assert c["before_mean"] == pytest.approx(0.5)
  assert c["before_std"] == pytest.approx(0.1)
  assert c["delta_mean"] == pytest.approx(0.1)
  assert c["delta_std"] == pytest.approx(0.1)
  assert aggregate.format_cell(c) == "50.0 ± 10.0 (+10.0 ± 10.0)"
  assert aggregate.format_cell(cells[("6", "GBT", "b")]) == "80.0 ± 10.0 (+0.0 ± 0.0)"
  # All = each model's mean accuracy: .6 .75 .6 -> 65.0 ± 8.7; deltas .05 .1 0.
  assert aggregate.format_cell(cells[("6", "GBT", "All")]) == "65.0 ± 8.7 (+5.0 ± 5.0)"
  # Pruned and OMES rows: only the two models that have them.
  p = cells[("6", "GBT pruned", "a")]
  assert p["n"] == 2 and aggregate.format_cell(p) == "40.0 ± 14.1 (+10.0 ± 14.1)"
  assert aggregate.format_cell(cells[("6", "OS", "b")]) == "50.0 ± 0.0 (+10.0 ± 14.1)"
  assert aggregate.format_cell(cells[("6", "MES", "All")]) == "50.0 ± 28.3 (+0.0 ± 0.0)"
  assert aggregate.format_cell(cells[("6", "DCI", "All")]) == "30.0 ± 14.1 (+10.0 ± 14.1)"
  assert cells[("6", "DCI", "a")]["n"] == 0   # DCI has no per-factor value
  assert aggregate.format_cell(cells[("6", "MIG", "All")]) == "20.0 ± 0.0 (+0.0 ± 0.0)"
  # One model: no std.
  one = cells[("1", "GBT", "color")]
  assert one["n"] == 1 and one["before_std"] is None
  assert aggregate.format_cell(one) == "50.0 (+10.0)"


def test_markdown_csv_latex(root):
  cells = aggregate.aggregate(aggregate.flat_table(aggregate.collect(root)))
  md = aggregate.markdown_tables(cells)
  assert "### Pair 6: dsprites → noisy_dsprites" in md
  assert "| GBT | 50.0 ± 10.0 (+10.0 ± 10.0) | 80.0 ± 10.0 (+0.0 ± 0.0) | " \
         "65.0 ± 8.7 (+5.0 ± 5.0) | 3 |" in md
  assert "| GBT pruned | 40.0 ± 14.1 (+10.0 ± 14.1) |" in md and "| 2 |" in md
  assert md.index("Pair 1:") < md.index("Pair 6:")
  rows = list(csv.DictReader(io.StringIO(aggregate.csv_text(cells))))
  row = next(r for r in rows if (r["pair"], r["metric"], r["factor"]) == ("6", "GBT", "a"))
  assert int(row["n"]) == 3 and float(row["before_mean"]) == pytest.approx(0.5)
  assert float(row["after_mean"]) == pytest.approx(0.6)
  assert float(row["delta_std"]) == pytest.approx(0.1)
  tex = aggregate.latex_tables(cells)
  assert r"\toprule" in tex and r"$50.0_{\pm 10.0}$ ($+10.0_{\pm 10.0}$)" in tex
  assert r"noisy\_dsprites" in tex


def test_rank_correlation():
  np.testing.assert_allclose(aggregate.rankdata([3, 1, 2, 2]), [3, 0, 1.5, 1.5])
  assert aggregate.spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
  assert aggregate.spearman([1, 2, 3, 4], [1, 4, 9, 16]) == pytest.approx(1.0)
  assert np.isnan(aggregate.spearman([1, 1, 1], [1, 2, 3]))
  assert aggregate.spearman([1, 2, np.nan, 3], [1, 2, 5, 3]) == pytest.approx(1.0)


def test_distance_rows_and_correlations(root):
  rows = aggregate.distance_rows(aggregate.collect(root))
  six = next(r for r in rows if r["pair"] == "6")
  assert six["encoding mmd2"] == pytest.approx(0.2)       # mean of .1 .3 .2
  assert six["delta GBT"] == pytest.approx(0.05)
  corr = aggregate.distance_correlations(rows)
  # Pair 1 has the larger encoding MMD and the larger GBT gain (+.1 vs +.05).
  assert corr["encoding mmd2"]["delta GBT"] == pytest.approx(1.0)
  assert corr["pixel mmd2"]["delta GBT"] == pytest.approx(-1.0)


def test_report_is_written(root):
  spec_study = study_cfg.get_config("tiny,pairs=6+1,betas=1+2,seeds=0+1")
  path = study_report.write_report(root, spec_study)
  text = open(path).read()
  assert "4 of 8 runs complete" in text and "Missing runs (4)" in text
  assert "65.0 ± 8.7 (+5.0 ± 5.0)" in text
  out = os.path.dirname(path)
  for name in ("tables.md", "tables.csv", "tables.tex", "runs.csv", "association_6.png",
               "factors_6.png", "factors_1.png", "metric_correlations.png",
               "distances.png"):
    assert os.path.getsize(os.path.join(out, name)) > 0, name
