"""Unsupervised scores: closed forms and the degenerate-covariance handling."""

import numpy as np
import pytest
import scipy.linalg
from sklearn.metrics import mutual_info_score

from dtransfer.metrics import unsupervised as un
from tests import metrics_fixtures as fx


def _correlated(n=4000, seed=0):
  rng = np.random.default_rng(seed)
  return rng.normal(size=(n, 4)) @ rng.normal(size=(4, 4)) + rng.normal(size=4)


def test_gaussian_scores_match_dlib_formulas():
  z = _correlated()
  r = un.unsupervised(z)
  cov = np.cov(z.T)
  tc = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
  sq = scipy.linalg.sqrtm(cov * np.diag(cov)[:, None])
  w = 2 * np.trace(cov) - 2 * np.trace(sq).real
  assert r["gaussian_total_correlation"] == pytest.approx(tc, rel=1e-3)
  assert r["gaussian_wasserstein_correlation"] == pytest.approx(w, rel=1e-3)
  assert r["gaussian_wasserstein_correlation_norm"] == pytest.approx(
      w / np.trace(cov), rel=1e-3)


def test_closed_forms():
  rng = np.random.default_rng(1)
  indep = rng.normal(size=(20000, 3)) * np.array([1.0, 5.0, 0.2])
  r = un.unsupervised(indep)
  assert abs(r["gaussian_total_correlation"]) < 2e-3
  assert abs(r["gaussian_wasserstein_correlation_norm"]) < 2e-3
  rho = 0.8
  x = rng.normal(size=20000)
  y = rho * x + np.sqrt(1 - rho ** 2) * rng.normal(size=20000)
  tc = un.unsupervised(np.stack([x, y], 1))["gaussian_total_correlation"]
  assert tc == pytest.approx(-0.5 * np.log(1 - rho ** 2), abs=0.01)


def test_mutual_info_score_matches_sklearn():
  z = _correlated(2000)
  binned = [np.digitize(c, np.histogram(c, 20)[1][:-1]) for c in z.T]
  m = np.array([[mutual_info_score(a, b) for b in binned] for a in binned])
  np.fill_diagonal(m, 0)
  assert un.unsupervised(z)["mutual_info_score"] == pytest.approx(
      m.sum() / 12, abs=1e-5)


def test_invariances():
  z = _correlated(3000)
  base = un.unsupervised(z)
  for name, t, _ in fx.transforms(z):
    r = un.unsupervised(t)
    assert r["gaussian_total_correlation"] == pytest.approx(
        base["gaussian_total_correlation"], rel=1e-3), name
    assert r["mutual_info_score"] == pytest.approx(
        base["mutual_info_score"], abs=1e-3), name


def test_constant_and_duplicated_dims_never_nan():
  z = _correlated(1000)
  const = un.unsupervised(np.concatenate([z, np.ones((1000, 1))], axis=1))
  fx.assert_no_nan(const)
  assert const["num_active_dims"] == 4
  assert const["gaussian_total_correlation"] == pytest.approx(
      un.unsupervised(z)["gaussian_total_correlation"], rel=1e-4)
  assert any("constant" in w for w in const["warnings"])
  dup = un.unsupervised(np.concatenate([z, z[:, :1]], axis=1))
  assert dup["gaussian_total_correlation"] == float("inf")
  assert any("singular" in w for w in dup["warnings"])
  fx.assert_no_nan(dup)
