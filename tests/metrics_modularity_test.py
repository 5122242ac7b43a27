"""Modularity (closed forms, MI) and explicitness."""

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from dtransfer.metrics import modularity as mod
from tests import metrics_fixtures as fx

one_blas_thread = fx.one_blas_thread

DIAG = np.diag(5.0 * np.ones(5))


@pytest.mark.parametrize("mi, want", [
    (DIAG, 1.0),
    (np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), 2 / 3),
    (np.zeros((10, 10)), 0.0),
    (np.vstack([DIAG, DIAG]), 1.0),
    (DIAG[:2], 1.0),
    (np.hstack([DIAG, DIAG]), 1 - 1 / 9),  # one code for two factors
])
def test_closed_forms(mi, want):
  assert mod.modularity_from_mi(mi) == pytest.approx(want, abs=1e-6)


def test_single_factor():
  assert mod.modularity_from_mi(np.array([[0.5], [0.0]])) == 0.5


def test_identity_codes():
  labels = fx.shuffled(fx.grid((4, 5, 3), repeats=4))
  r = mod.modularity(labels.astype(float), labels)
  assert r["modularity"] == pytest.approx(1.0, abs=1e-5)
  assert r["explicitness_test"] > 0.97


def test_matches_numpy_and_is_invariant():
  labels = fx.random_labels((5, 8, 3), 2000)
  codes = fx.noisy_codes(labels, noise=0.3, extra=2)
  r = mod.modularity(codes, labels, with_explicitness=False)
  binned = [np.digitize(c, np.histogram(c, 20)[1][:-1]) for c in codes.T]
  m = np.array([[mutual_info_score(y, b) for y in labels.T] for b in binned])
  sq = m ** 2
  theta = sq.max(1)
  want = np.mean(1 - (sq.sum(1) - theta) / (theta * 2))
  assert r["modularity"] == pytest.approx(want, abs=1e-4)
  for name, z, _ in fx.transforms(codes):
    got = mod.modularity(z, labels, with_explicitness=False)["modularity"]
    assert got == pytest.approx(r["modularity"], abs=1e-3), name


def test_explicitness_affine_invariant_and_robust_to_missing_classes():
  labels = fx.random_labels((6, 3), 300, seed=2)
  labels[0, 0] = 9  # a class seen once: absent from one split
  codes = fx.noisy_codes(labels, noise=0.3)
  base = mod.modularity(codes, labels)
  z = codes * np.array([3.0, -2.0, 0.5]) + 7.0
  got = mod.modularity(z, labels)
  assert got["explicitness_test"] == pytest.approx(base["explicitness_test"],
                                                   abs=1e-4)
  fx.assert_no_nan(base)
  # A constant dim is standardised with std 1 (dlib divides by zero).
  const = np.concatenate([codes, np.ones((len(codes), 1))], axis=1)
  fx.assert_no_nan(mod.modularity(const, labels))
