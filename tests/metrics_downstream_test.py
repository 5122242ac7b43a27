"""Downstream task: whole representation and OMES-pruned dims."""

import numpy as np
import pytest

from dtransfer.metrics import downstream as ds
from tests import metrics_fixtures as fx

one_blas_thread = fx.one_blas_thread

GBT = {"n_estimators": 10}


@pytest.fixture(scope="module")
def sample():
  labels = fx.shuffled(fx.grid((4, 5, 3), repeats=4))
  noise = np.random.default_rng(0).normal(size=(len(labels), 1))
  return np.concatenate([labels.astype(float), noise], axis=1), labels


def test_whole_representation(sample):
  codes, labels = sample
  r = ds.downstream(codes, labels, **GBT)
  assert r["mean_test_accuracy"] == 1.0 == r["min_test_accuracy"]
  assert r["num_train"] == 160 and r["num_test"] == 80  # ceil(2/3 N) / rest
  assert r == ds.downstream(codes, labels, **GBT)
  lr = ds.downstream(codes, labels, predictor="logreg", Cs=3)
  assert lr["mean_test_accuracy"] > 0.7
  mlp = ds.downstream(codes, labels, predictor="mlp",
                      hidden_layer_sizes=(16,), max_iter=30)
  assert 0.0 < mlp["mean_test_accuracy"] <= 1.0


def test_defaults_match_the_authors_split():
  labels = fx.shuffled(fx.grid((3, 2), repeats=50))
  r = ds.downstream(labels.astype(float), labels)
  assert (r["num_train"], r["num_test"]) == (200, 100)
  assert r["mean_test_accuracy"] == 1.0


def test_pruned_own_and_union(sample):
  codes, labels = sample
  # Factor 2's "own" dim is the noise dim: chance; union holds every factor.
  r = ds.downstream_pruned(codes, labels, association=[0, 1, 3], **GBT)
  assert r["union_dims"] == [0, 1, 3]
  assert r["own_test_accuracy"][:2] == [1.0, 1.0]
  assert r["own_test_accuracy"][2] < 0.7
  assert r["union_test_accuracy"][:2] == [1.0, 1.0]


def test_pruned_none_association_predicts_majority(sample):
  codes, labels = sample
  r = ds.downstream_pruned(codes, labels, association=[0, None, 2], **GBT)
  assert r["own_test_accuracy"][1] < 0.4
  assert any("majority" in w for w in r["warnings"])
  fx.assert_no_nan(r)
  with pytest.raises(ValueError, match="out of range"):
    ds.downstream_pruned(codes, labels, association=[0, 9, 2], **GBT)


def test_pruned_computes_omes_association(sample):
  codes, labels = sample
  r = ds.downstream_pruned(codes, labels, selection=("own",), **GBT)
  assert r["association"] == [0, 1, 2]
  assert r["own_mean_test_accuracy"] == 1.0
  assert "union_mean_test_accuracy" not in r


def test_threaded_factor_fits_equal_the_serial_loop(monkeypatch):
  from dtransfer.metrics import downstream as ds  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(3)
  labels = rng.integers(0, 4, size=(300, 3))
  codes = labels + rng.normal(scale=0.8, size=labels.shape)
  threaded = ds.downstream(codes, labels, predictor="gbt", n_estimators=5, seed=1)
  threaded_pruned = ds.downstream_pruned(codes, labels, predictor="gbt", n_estimators=5,
                                         seed=1)
  monkeypatch.setattr(ds.os, "cpu_count", lambda: 1)
  assert ds.downstream(codes, labels, predictor="gbt", n_estimators=5, seed=1) == threaded
  assert ds.downstream_pruned(codes, labels, predictor="gbt", n_estimators=5,
                              seed=1) == threaded_pruned
