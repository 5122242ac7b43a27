"""DCI: closed forms on importance matrices, end to end with seeded GBTs."""

import numpy as np
import pytest

from dtransfer.metrics import dci
from tests import metrics_fixtures as fx

one_blas_thread = fx.one_blas_thread

DIAG = np.diag(5.0 * np.ones(5))


@pytest.mark.parametrize("matrix, d_want, c_want", [
    (DIAG, 1.0, 1.0),
    (np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), 1.0, 1.0),
    (np.zeros((10, 10)), 0.0, 0.0),
    (np.vstack([DIAG, DIAG]), 1.0, 1 - np.log(2) / np.log(10)),
    (DIAG[:2], 1.0, 1.0),
    # One code for two factors: D = 1 - ln 2 / ln K with K = 10 factors.
    (np.hstack([DIAG, DIAG]), 1 - np.log(2) / np.log(10), 1.0),
])
def test_closed_forms(matrix, d_want, c_want):
  assert dci.disentanglement(matrix) == pytest.approx(d_want, abs=1e-6)
  assert dci.completeness(matrix) == pytest.approx(c_want, abs=1e-6)


def test_single_factor_is_fully_disentangled():
  assert dci.disentanglement(np.array([[0.7], [0.3]])) == pytest.approx(1.0)


def test_identity_codes_end_to_end():
  labels = fx.shuffled(fx.grid((4, 5, 3), repeats=3))
  r = dci.dci(labels.astype(float) + 0.0, labels, n_estimators=10)
  assert r["disentanglement"] > 0.95 and r["completeness"] > 0.95
  assert r["informativeness_test"] == 1.0
  np.testing.assert_allclose(np.asarray(r["importance"]).sum(axis=0), 1.0)


def test_duplicated_and_noise_codes():
  labels = fx.shuffled(fx.grid((4, 5, 3), repeats=3))
  dup = dci.dci(labels[:, [0, 1, 2, 0, 1, 2]].astype(float), labels,
                n_estimators=10)
  assert dup["disentanglement"] > 0.9
  noise = np.random.default_rng(0).normal(size=(len(labels), 3))
  bad = dci.dci(noise, labels, n_estimators=10)
  assert bad["disentanglement"] < 0.3
  assert bad["informativeness_test"] < 0.5


def test_defaults_seeded_and_permutation_invariant():
  labels = fx.shuffled(fx.grid((3, 3), repeats=25))
  codes = fx.noisy_codes(labels, noise=0.1, extra=1)
  a = dci.dci(codes, labels)  # sklearn defaults: 100 trees, depth 3
  assert a == dci.dci(codes, labels)
  assert a["disentanglement"] > 0.6
  perm = np.array([2, 0, 1])
  b = dci.dci(codes[:, perm], labels)
  assert b["disentanglement"] == pytest.approx(a["disentanglement"], abs=0.05)
  assert b["informativeness_test"] == pytest.approx(a["informativeness_test"],
                                                    abs=0.02)
