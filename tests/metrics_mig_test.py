"""MIG, its histogram discretiser and mutual information."""

import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from dtransfer.metrics import discretize
from dtransfer.metrics import mig as mig_lib
from dtransfer.metrics import mutual_info
from tests import metrics_fixtures as fx


def _dlib_discretize(x, num_bins=20):
  return np.stack([np.digitize(c, np.histogram(c, num_bins)[1][:-1]) - 1
                   for c in x.T], axis=1)


def test_discretizer_matches_dlib():
  rng = np.random.default_rng(0)
  x = np.concatenate([rng.normal(size=(2000, 3)), rng.exponential(size=(2000, 1)),
                      np.full((2000, 1), 3.5)], axis=1).astype(np.float32)
  got = np.asarray(discretize.histogram_discretize(x, 20))
  want = _dlib_discretize(x.astype(np.float64))
  assert got.min() == 0 and got.max() == 19
  # Equal except where float32 and float64 bin edges straddle a value.
  assert np.mean(got == want) > 0.999
  assert len(np.unique(got[:, 4])) == 1  # a constant dim is one bin


def test_mutual_info_matches_sklearn():
  rng = np.random.default_rng(1)
  a = rng.integers(0, 7, size=(3000, 3))
  b = (a[:, :2] + rng.integers(0, 3, size=(3000, 2))) % 5
  got = np.asarray(mutual_info.mutual_info_matrix(a, b, 7, 5))
  want = np.array([[mutual_info_score(b[:, j], a[:, i]) for j in range(2)]
                   for i in range(3)])
  np.testing.assert_allclose(got, want, atol=1e-5)
  np.testing.assert_allclose(
      np.asarray(mutual_info.entropy(b, 5)),
      [mutual_info_score(b[:, j], b[:, j]) for j in range(2)], atol=1e-5)


def test_mig_matches_a_numpy_reference():
  labels = fx.random_labels((5, 8, 3), 3000)
  codes = fx.noisy_codes(labels, noise=0.3, extra=2)
  r = mig_lib.mig(codes, labels)
  m = np.array([[mutual_info_score(labels[:, k], c) for k in range(3)]
                for c in _dlib_discretize(codes).T])
  h = np.array([mutual_info_score(y, y) for y in labels.T])
  top = np.sort(m, axis=0)[::-1]
  assert r["mig"] == pytest.approx(np.mean((top[0] - top[1]) / h), abs=2e-4)
  np.testing.assert_allclose(r["mi"], m, atol=2e-4)


def test_identity_scores_one_and_a_duplicated_code_halves_it():
  labels = fx.grid((4, 6, 3))
  assert mig_lib.mig(labels.astype(float), labels)["mig"] == pytest.approx(
      1.0, abs=1e-5)
  dup = labels[:, [0, 0, 1, 2]].astype(float)
  r = mig_lib.mig(dup, labels)
  assert r["gap"][0] == pytest.approx(0.0, abs=1e-6)
  assert r["mig"] == pytest.approx(2 / 3, abs=1e-5)
  assert mig_lib.mig_from_mi(np.eye(3), np.ones(3)) == 1.0


def test_rotated_and_noise_codes_score_low():
  labels = fx.grid((6, 6, 6, 6))
  assert mig_lib.mig(fx.noisy_codes(labels, extra=0), labels)["mig"] > 0.8
  assert mig_lib.mig(fx.rotate(fx.noisy_codes(labels, extra=0)),
                     labels)["mig"] < 0.2
  noise = np.random.default_rng(0).normal(size=(len(labels), 4))
  assert mig_lib.mig(noise, labels)["mig"] < 0.05


def test_invariances_and_array_types():
  labels = fx.random_labels((5, 8, 3), 2000)
  codes = fx.noisy_codes(labels, noise=0.2, extra=2)
  base = mig_lib.mig(codes, labels)["mig"]
  for name, z, _ in fx.transforms(codes):
    assert mig_lib.mig(z, labels)["mig"] == pytest.approx(base, abs=1e-3), name
  assert mig_lib.mig(jnp.asarray(codes), jnp.asarray(labels))["mig"] == (
      pytest.approx(base, abs=1e-6))


def test_single_code_dim_and_constant_dim():
  labels = fx.grid((4, 3))
  r = mig_lib.mig(labels[:, :1].astype(float), labels)
  assert r["gap"][0] == pytest.approx(1.0, abs=1e-5)  # runner-up MI is 0
  codes = np.concatenate([labels.astype(float), np.zeros((len(labels), 1))], 1)
  r = mig_lib.mig(codes, labels)
  np.testing.assert_allclose(np.asarray(r["mi"])[2], 0.0, atol=1e-7)
  assert r["mig"] == pytest.approx(1.0, abs=1e-5)
