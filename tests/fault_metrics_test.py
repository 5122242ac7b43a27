"""Fault injection on the metrics: bad inputs end in a result, a warning or a
clear error naming the metric called; never in a silent NaN or a changed score."""

import numpy as np
import pytest
import scipy.linalg

from dtransfer import metrics
from dtransfer.metrics import _checks
from dtransfer.metrics import downstream
from dtransfer.metrics import factor_vae
from dtransfer.metrics import irs
from dtransfer.metrics import unsupervised
from tests import metrics_bad_input
from tests.metrics_fixtures import one_blas_thread  # pylint: disable=unused-import


def _dlib_wasserstein(codes):
  """disentanglement_lib's gaussian_wasserstein_correlation (scipy sqrtm, float64)."""
  cov = np.cov(np.asarray(codes, np.float64).T)
  sqrtm = scipy.linalg.sqrtm(cov * np.expand_dims(np.diag(cov), axis=1))
  return 2 * np.trace(cov) - 2 * np.trace(sqrtm)


def test_wasserstein_matches_dlib_within_1e5_on_float32_codes():
  rng = np.random.default_rng(0)
  mix = rng.normal(size=(6, 6))
  codes = (rng.normal(size=(2000, 6)) @ mix).astype(np.float32)
  r = unsupervised.unsupervised(codes)
  assert abs(r["gaussian_wasserstein_correlation"] - _dlib_wasserstein(codes)) < 1e-5


@pytest.mark.parametrize("value", [0.7, -3.25e5])
def test_constant_dim_at_any_value_is_left_out_with_a_warning(value):
  codes, labels = metrics_bad_input.clean()
  codes[:, 3] = value
  u = unsupervised.unsupervised(codes)
  assert np.isfinite(u["gaussian_total_correlation"]) and u["num_active_dims"] == 3
  assert any("constant dims [3]" in w for w in u["warnings"])
  rest = unsupervised.unsupervised(codes[:, :3])
  assert u["gaussian_total_correlation"] == pytest.approx(rest["gaussian_total_correlation"])
  r = irs.irs(codes, labels)
  assert np.isfinite(r["irs"]) and r["num_active_dims"] == 3


@pytest.mark.slow
@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_scale_invariant_metrics_standardise(scale):
  codes, labels = metrics_bad_input.clean()
  scaled = (codes.astype(np.float64) * scale).astype(np.float32)
  u0, u1 = unsupervised.unsupervised(codes), unsupervised.unsupervised(scaled)
  assert u1["gaussian_total_correlation"] == pytest.approx(
      u0["gaussian_total_correlation"], rel=1e-4)
  assert u1["gaussian_wasserstein_correlation_norm"] == pytest.approx(
      u0["gaussian_wasserstein_correlation_norm"], rel=1e-4)
  kw = dict(num_train=200, num_eval=100, batch_size=16, prune_threshold=0.05 * scale)
  f0 = factor_vae.factor_vae(codes, labels, **{**kw, "prune_threshold": 0.05})
  f1 = factor_vae.factor_vae(scaled, labels, **kw)
  assert f1["eval_accuracy"] == f0["eval_accuracy"]
  m0, m1 = (metrics.METRICS["omes"](c, labels) for c in (codes, scaled))
  assert m1["S"][:2] == pytest.approx(m0["S"][:2], abs=1e-5)


def test_scale_dependent_metrics_warn_and_name_themselves():
  codes, labels = metrics_bad_input.clean()
  r = downstream.downstream(codes[:120] * np.float32(1e-10), labels[:120], predictor="logreg")
  assert any(w.startswith("logreg depends on the scale") for w in r["warnings"])
  for ok in (codes, codes * 1e5, codes * 1e-5):
    warnings = []
    _checks.scale_warning(ok, "mlp", warnings)
    assert not warnings


def test_pruned_metrics_name_themselves_when_omes_fails():
  codes, labels = metrics_bad_input.clean()
  with pytest.raises(ValueError, match=r"^gbt_pruned: computing the OMES association"):
    downstream.downstream_pruned(codes, labels, predictor="gbt",
                                 omes_kwargs={"prune_threshold": 1e9, "reference": True})


def test_evaluate_takes_a_comma_separated_string():
  codes, labels = metrics_bad_input.clean()
  assert set(metrics.evaluate(codes, labels, "omes,mig")) == {"omes", "mig"}


@pytest.mark.slow
def test_bad_input_grid_has_no_silent_result_and_no_crash():
  rows = metrics_bad_input.run(n=240)  # the script's figures use 400; this is lighter
  bad = [r for r in rows if r[2] in ("silent", "crash")]
  assert len(rows) > 300
  assert not bad, "\n".join(map(str, bad))


def test_warnings_reach_the_console_and_summary_md(tmp_path, capsys):
  from configs import common as common_cfg  # pylint: disable=g-import-not-at-top
  from dtransfer import evaluate  # pylint: disable=g-import-not-at-top
  codes, labels = metrics_bad_input.clean()
  labels[:, 1] = 0  # a single-valued factor
  config = common_cfg.base_config()
  config.eval.metrics = ["mig"]
  evaluate.evaluate_codes(codes, labels, config, str(tmp_path))
  out = capsys.readouterr().out
  assert "warning: mig: factor 1 has a single value" in out
  summary = (tmp_path / "summary.md").read_text()
  assert "## Warnings" in summary and "- mig: factor 1 has a single value" in summary


def test_npy_given_as_codes_is_explained(tmp_path):
  from configs import common as common_cfg  # pylint: disable=g-import-not-at-top
  from dtransfer import evaluate  # pylint: disable=g-import-not-at-top
  np.save(tmp_path / "codes.npy", np.zeros((10, 3)))
  with pytest.raises(ValueError, match=r"codes.npy is not a readable .npz.*single array.*np.savez"):
    evaluate.evaluate_saved_codes(str(tmp_path / "codes.npy"), str(tmp_path / "out"),
                                  common_cfg.base_config().eval)
