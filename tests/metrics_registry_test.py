"""The registry, evaluate(), input validation shared by every metric, plots."""

import json
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from dtransfer import metrics
from dtransfer.metrics import plots
from tests import metrics_fixtures as fx

one_blas_thread = fx.one_blas_thread

# Small settings so every metric runs in well under a second.
FAST = {
    "dci": {"n_estimators": 5}, "gbt": {"n_estimators": 5},
    "gbt_pruned": {"n_estimators": 5},
    "mlp": {"hidden_layer_sizes": (8,), "max_iter": 20},
    "mlp_pruned": {"hidden_layer_sizes": (8,), "max_iter": 20},
    "logreg": {"Cs": 2, "cv": 2},
    "beta_vae": {"num_train": 200, "num_eval": 100, "batch_size": 8},
    "factor_vae": {"num_train": 200, "num_eval": 100, "batch_size": 8},
}
ALL = list(metrics.METRICS)


@pytest.fixture(scope="module")
def sample():
  labels = fx.shuffled(fx.grid((3, 4, 3), repeats=5))
  return fx.noisy_codes(labels, noise=0.1, extra=1), labels


def _run(name, codes, labels, **kw):
  return metrics.METRICS[name](codes, labels, seed=0, **{**FAST.get(name, {}),
                                                         **kw})


def test_import_is_light():
  code = ("import sys, dtransfer.metrics as m; "
          "assert 'sklearn' not in sys.modules, 'sklearn'; "
          "assert 'matplotlib' not in sys.modules, 'matplotlib'; "
          "from dtransfer.metrics import omes; "
          "assert callable(omes.omes) and callable(omes.score_matrix)")
  subprocess.run([sys.executable, "-c", code], check=True)


def test_registry_names_and_headlines():
  assert set(metrics.METRICS) == {
      "omes", "mig", "dci", "sap", "modularity", "beta_vae", "factor_vae",
      "irs", "unsupervised", "gbt", "mlp", "gbt_pruned", "mlp_pruned", "logreg"}
  assert set(metrics.HEADLINE) == set(metrics.METRICS)


def test_evaluate_everything_is_seeded_finite_and_serialisable(sample):
  codes, labels = sample
  a = metrics.evaluate(codes, labels, ALL, seed=0, **FAST)
  b = metrics.evaluate(codes, labels, ALL, seed=0, **FAST)
  # jax arrays work too (float32 here, so classifiers may differ slightly).
  c = metrics.evaluate(jnp.asarray(codes), jnp.asarray(labels),
                       ["omes", "mig", "irs"], seed=0)
  assert list(a) == ALL
  for name in ALL:
    headline = a[name][metrics.HEADLINE[name]]
    assert isinstance(headline, float) and np.isfinite(headline), name
    assert headline == b[name][metrics.HEADLINE[name]], name
    fx.assert_no_nan(a[name], name)
    if name in c:
      assert c[name][metrics.HEADLINE[name]] == pytest.approx(headline,
                                                              abs=1e-5)
  assert a["gbt_pruned"]["association"] == a["omes"]["association"]
  json.dumps(a, default=lambda o: np.asarray(o).tolist())


def test_evaluate_routes_keyword_arguments(sample):
  codes, labels = sample
  r = metrics.evaluate(codes, labels, ["gbt", "gbt_pruned"],
                       downstream_num_train=60, downstream_num_test=30,
                       gbt={"n_estimators": 3}, gbt_pruned_n_estimators=3)
  assert r["gbt"]["num_train"] == 60 and r["gbt_pruned"]["num_test"] == 30
  with pytest.raises(ValueError, match="cannot route"):
    metrics.evaluate(codes, labels, ["mig"], bogus=1)
  with pytest.raises(ValueError, match="unknown metrics"):
    metrics.evaluate(codes, labels, ["nope"])


def test_downstream_group_kwargs_reach_the_classifiers_that_take_them(sample):
  # n_estimators is GBT's; the MLP beside it must not receive it (it used to crash).
  codes, labels = sample
  r = metrics.evaluate(codes, labels, ["gbt", "mlp"], downstream_n_estimators=3,
                       downstream_num_train=60, downstream_num_test=30,
                       mlp={"max_iter": 20})
  assert r["gbt"]["num_train"] == r["mlp"]["num_train"] == 60
  with pytest.raises(ValueError, match="n_estimaters.*spelling"):
    metrics.evaluate(codes, labels, ["gbt"], downstream_n_estimaters=3)


@pytest.mark.parametrize("name", ALL)
def test_invalid_inputs_raise_clear_errors(name, sample):
  codes, labels = sample
  bad = codes.copy()
  bad[3, 1] = np.nan
  with pytest.raises(ValueError, match=f"{name}.*NaN.*np.isfinite"):
    _run(name, bad, labels)
  bad[3, 1] = np.inf
  with pytest.raises(ValueError, match="infinite"):
    _run(name, bad, labels)
  if name == "unsupervised":
    return  # labels are optional there
  with pytest.raises(ValueError, match="samples but labels"):
    _run(name, codes, labels[:-1])
  with pytest.raises(ValueError, match="integer class indices"):
    _run(name, codes, labels + 0.5)
  with pytest.raises(ValueError, match="shape"):
    _run(name, codes[:, 0], labels)


@pytest.mark.parametrize("name", ALL)
def test_single_valued_factor_and_constant_dim(name, sample):
  codes, labels = sample
  labels = np.concatenate([labels, np.full((len(labels), 1), 4)], axis=1)
  codes = np.concatenate([codes, np.full((len(codes), 1), 2.5)], axis=1)
  r = _run(name, codes, labels)
  fx.assert_no_nan(r, name)
  if name != "unsupervised":
    assert any("single value" in w for w in r["warnings"]), name
  per_factor = [v for k, v in r.items() if isinstance(v, list) and len(v) == 4
                and not isinstance(v[0], list) and k != "num_pairs"]
  for values in per_factor:
    assert values[3] is None, name


def test_every_factor_single_valued_raises(sample):
  codes, _ = sample
  with pytest.raises(ValueError, match="every factor has a single value"):
    metrics.METRICS["mig"](codes, np.zeros((len(codes), 2), int))


def test_association_heatmap(tmp_path):
  path = plots.save_association_heatmap(
      np.random.default_rng(0).random((5, 3)), str(tmp_path / "a" / "s.png"),
      factor_names=["x", "y", "z"], title="S")
  with open(path, "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  with pytest.raises(ValueError, match="factor names"):
    plots.save_association_heatmap(np.zeros((2, 2)), str(tmp_path / "b.png"),
                                   factor_names=["x"])
