"""Distances between samples against answers known in closed form."""

import numpy as np
import pytest

from dtransfer import distances


def _rbf_mmd2_gaussians(mu, s1, s2, d, bandwidth):
  """MMD^2 between N(0, s1^2 I) and N(mu, s2^2 I) for the RBF kernel, exactly.

  E k(a, b) for a - b ~ N(m, v I) is (h/(h+v))^(d/2) exp(-|m|^2 / (2 (h+v))), h = bw^2.
  """
  h = bandwidth ** 2

  def ek(m2, v):
    return (h / (h + v)) ** (d / 2) * np.exp(-m2 / (2 * (h + v)))

  return ek(0.0, 2 * s1 ** 2) + ek(0.0, 2 * s2 ** 2) - 2 * ek(float(mu @ mu), s1 ** 2 + s2 ** 2)


def test_identical_samples_give_zero():
  x = np.random.default_rng(0).normal(size=(300, 5))
  assert distances.mmd2(x, x) == pytest.approx(0.0, abs=1e-6)
  assert distances.mmd2(x, x, bandwidth=0.7) == pytest.approx(0.0, abs=1e-6)
  assert distances.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-3)


def test_frechet_of_gaussians_closed_form():
  mu = np.array([1.0, -2.0, 0.5])
  eye = np.eye(3)
  # N(0, I) vs N(mu, I): |mu|^2.
  assert float(distances.frechet_gaussians(np.zeros(3), eye, mu, eye)) == pytest.approx(
      float(mu @ mu), rel=1e-5)
  # Diagonal covariances: sum (sqrt(a) - sqrt(b))^2.
  a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
  got = float(distances.frechet_gaussians(np.zeros(3), np.diag(a), np.zeros(3), np.diag(b)))
  assert got == pytest.approx(float(np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)), rel=1e-4)


def test_frechet_of_a_shifted_sample_is_the_squared_shift():
  x = np.random.default_rng(1).normal(size=(4000, 3))
  mu = np.array([1.0, -2.0, 0.5])
  assert distances.frechet_distance(x, x + mu) == pytest.approx(float(mu @ mu), rel=1e-3)
  # Independent samples of N(0, I) and N(mu, I): |mu|^2 up to sampling noise
  # (std of the estimate about 2 |mu| sqrt(2/n) = 0.1 here).
  y = np.random.default_rng(2).normal(size=(4000, 3)) + mu
  assert distances.frechet_distance(x, y) == pytest.approx(float(mu @ mu), abs=0.3)


def test_mmd_of_shifted_gaussians_matches_closed_form():
  rng = np.random.default_rng(3)
  d, n, bw = 2, 2500, 1.5
  mu = np.array([1.0, 0.5])
  x = rng.normal(size=(n, d))
  y = rng.normal(size=(n, d)) + mu
  want = _rbf_mmd2_gaussians(mu, 1.0, 1.0, d, bw)
  assert distances.mmd2(x, y, bandwidth=bw, unbiased=True) == pytest.approx(want, abs=0.01)
  # The biased estimate adds about (1 - E k) (1/n + 1/m): still close at this size.
  assert distances.mmd2(x, y, bandwidth=bw) == pytest.approx(want, abs=0.02)
  # A larger shift is farther.
  assert distances.mmd2(x, y + mu, bandwidth=bw) > distances.mmd2(x, y, bandwidth=bw)


def test_median_bandwidth_and_input_checks():
  # Pooled points 0, 1, 3: distinct pairwise distances 1, 3, 2 -> median 2.
  bw = distances.median_bandwidth(np.array([[0.0], [1.0]]), np.array([[3.0]]))
  assert float(bw) == pytest.approx(2.0)
  with pytest.raises(ValueError, match="same D"):
    distances.mmd2(np.zeros((3, 2)), np.zeros((3, 3)))
  with pytest.raises(ValueError, match="bandwidth must be > 0"):
    distances.mmd2(np.zeros((3, 2)), np.ones((3, 2)), bandwidth=0.0)
  with pytest.raises(ValueError, match="NaN"):
    distances.frechet_distance(np.full((3, 2), np.nan), np.ones((3, 2)))


def test_pixel_features_box_average():
  img = np.zeros((2, 64, 64, 3), np.uint8)
  img[0] = 255
  img[1, :32] = 255          # top half white
  f = distances.pixel_features(img, size=16)
  assert f.shape == (2, 16 * 16 * 3)
  assert np.allclose(f[0], 1.0)
  top = f[1].reshape(16, 16, 3)
  assert np.allclose(top[:8], 1.0) and np.allclose(top[8:], 0.0)
