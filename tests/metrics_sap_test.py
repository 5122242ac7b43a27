"""SAP: continuous closed form, discrete 1-D SVMs."""

import numpy as np
import pytest

from dtransfer.metrics import sap
from tests import metrics_fixtures as fx

one_blas_thread = fx.one_blas_thread


def test_continuous_identity_scores_one():
  labels = fx.grid((4, 5, 6))
  r = sap.sap(labels.astype(float), labels, continuous_factors=True)
  assert r["sap"] == pytest.approx(1.0, abs=1e-6)
  np.testing.assert_allclose(r["score_matrix"], np.eye(3), atol=1e-6)


def test_continuous_matches_numpy_and_accepts_real_factors():
  rng = np.random.default_rng(0)
  y = rng.normal(size=(500, 3))
  z = np.concatenate([y @ rng.normal(size=(3, 3)), rng.normal(size=(500, 1)),
                      np.ones((500, 1))], axis=1)
  r = sap.sap(z, y, continuous_factors=True)
  want = np.zeros((5, 3))
  for i in range(5):
    for j in range(3):
      c = np.cov(z[:, i], y[:, j])
      want[i, j] = c[0, 1] ** 2 / (c[0, 0] * c[1, 1]) if c[0, 0] > 1e-12 else 0
  np.testing.assert_allclose(r["score_matrix"], want, atol=1e-5)
  top = np.sort(want, axis=0)[::-1]
  assert r["sap"] == pytest.approx(np.mean(top[0] - top[1]), abs=1e-5)


def test_continuous_invariances():
  labels = fx.random_labels((5, 7, 3), 1000)
  codes = fx.noisy_codes(labels, noise=0.3, extra=1)
  base = sap.sap(codes, labels, continuous_factors=True)["sap"]
  for name, z, _ in fx.transforms(codes):
    got = sap.sap(z, labels, continuous_factors=True)["sap"]
    assert got == pytest.approx(base, abs=1e-5), name


def test_discrete_identity_binary_factors():
  # Own dim: perfect; another dim: chance. So SAP ~ 1 - 1/2.
  labels = fx.shuffled(fx.grid((2, 2, 2), repeats=40))
  r = sap.sap(labels.astype(float), labels)
  m = np.asarray(r["score_matrix"])
  np.testing.assert_array_equal(np.diag(m), 1.0)
  assert 0.3 < r["sap"] < 0.7
  assert r == sap.sap(labels.astype(float), labels)


def test_discrete_rejects_real_factors():
  with pytest.raises(ValueError, match="integer class indices"):
    sap.sap(np.zeros((10, 2)), np.linspace(0, 1, 10))
