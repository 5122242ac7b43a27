"""How far apart two datasets are: kernel MMD and Fréchet distance between samples.

Why: the paper asks how much of a disentangled representation survives a
transfer; a distance between source and target says how big the jump was, so
the change in OMES or accuracy can be read against it. Both measures take two
samples ``x`` [N, D] and ``y`` [M, D] (arrays in, numbers out, jittable):

  mmd2(x, y)             squared RBF-kernel MMD, biased (V-statistic) estimate by
                         default, so identical samples give exactly 0; bandwidth
                         fixed or by the median heuristic on the pooled sample.
  frechet_distance(x, y) |mu_x - mu_y|^2 + tr(Sx + Sy - 2 (Sx^1/2 Sy Sx^1/2)^1/2)
                         between Gaussians fit to the samples (the FID formula).

``pixel_features`` turns uint8 images into small flat vectors for the pixel-space
versions; ``encoding_distances``/``pixel_distances`` give the dicts a study
stores per run and per pair.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dtransfer.data import pairs


def _sq_dists(a, b):
  """Pairwise squared Euclidean distances, clipped at 0 against rounding."""
  d = (jnp.sum(a * a, 1)[:, None] + jnp.sum(b * b, 1)[None, :] - 2.0 * a @ b.T)
  return jnp.maximum(d, 0.0)


@jax.jit
def median_bandwidth(x, y):
  """Median pairwise distance of the pooled sample (distinct points only)."""
  z = jnp.concatenate([jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)])
  d = _sq_dists(z, z)
  off = ~jnp.eye(z.shape[0], dtype=bool)
  med = jnp.nanmedian(jnp.where(off, d, jnp.nan))
  # All points equal: any bandwidth gives MMD 0; 1 avoids dividing by zero.
  return jnp.where(med > 0, jnp.sqrt(med), 1.0)


@functools.partial(jax.jit, static_argnames=("unbiased",))
def _mmd2(x, y, bandwidth, unbiased: bool):
  gamma = 1.0 / (2.0 * bandwidth ** 2)
  kxx = jnp.exp(-gamma * _sq_dists(x, x))
  kyy = jnp.exp(-gamma * _sq_dists(y, y))
  kxy = jnp.exp(-gamma * _sq_dists(x, y))
  n, m = x.shape[0], y.shape[0]
  if unbiased:
    sxx = (jnp.sum(kxx) - jnp.trace(kxx)) / (n * (n - 1))
    syy = (jnp.sum(kyy) - jnp.trace(kyy)) / (m * (m - 1))
  else:
    sxx, syy = jnp.mean(kxx), jnp.mean(kyy)
  return sxx + syy - 2.0 * jnp.mean(kxy)


def mmd2(x, y, bandwidth: float | None = None, unbiased: bool = False) -> float:
  """Squared MMD with the RBF kernel exp(-|a-b|^2 / (2 bandwidth^2)).

  Args:
    x: sample [N, D].
    y: sample [M, D].
    bandwidth: kernel width; None: median heuristic on the pooled sample.
    unbiased: the U-statistic (can be negative) instead of the V-statistic.

  Returns:
    The MMD^2 estimate as a Python float.
  """
  x, y = _check(x, y, "mmd2")
  if unbiased and (x.shape[0] < 2 or y.shape[0] < 2):
    raise ValueError("mmd2: the unbiased estimate needs at least 2 points per sample.")
  bw = median_bandwidth(x, y) if bandwidth is None else jnp.float32(bandwidth)
  if bandwidth is not None and not bandwidth > 0:
    raise ValueError(f"mmd2: bandwidth must be > 0, got {bandwidth}.")
  return float(_mmd2(x, y, bw, unbiased))


def gaussian_fit(x):
  """Mean [D] and covariance [D, D] (ddof 1) of a sample [N, D]."""
  x = jnp.asarray(x, jnp.float32)
  mu = jnp.mean(x, 0)
  xc = x - mu
  return mu, xc.T @ xc / max(x.shape[0] - 1, 1)


def _psd_sqrt(a):
  w, v = jnp.linalg.eigh((a + a.T) / 2)
  return (v * jnp.sqrt(jnp.maximum(w, 0.0))) @ v.T


@jax.jit
def frechet_gaussians(mu1, cov1, mu2, cov2):
  """Fréchet (2-Wasserstein squared) distance between N(mu1, cov1) and N(mu2, cov2)."""
  s1 = _psd_sqrt(cov1)
  inner = jnp.linalg.eigvalsh(s1 @ cov2 @ s1)
  cross = jnp.sum(jnp.sqrt(jnp.maximum(inner, 0.0)))
  d = jnp.sum((mu1 - mu2) ** 2) + jnp.trace(cov1) + jnp.trace(cov2) - 2.0 * cross
  return jnp.maximum(d, 0.0)


def frechet_distance(x, y) -> float:
  """Fréchet distance between Gaussians fit to samples x [N, D] and y [M, D]."""
  x, y = _check(x, y, "frechet_distance")
  if x.shape[0] < 2 or y.shape[0] < 2:
    raise ValueError("frechet_distance: each sample needs at least 2 points for a "
                     "covariance.")
  return float(frechet_gaussians(*gaussian_fit(x), *gaussian_fit(y)))


def _check(x, y, where):
  x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
  if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
    raise ValueError(f"{where}: need samples [N, D] and [M, D] with the same D, got "
                     f"{x.shape} and {y.shape}.")
  if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
    raise ValueError(f"{where}: samples contain NaN or infinite values.")
  return x, y


def pixel_features(images, size: int = 16) -> np.ndarray:
  """uint8 images [N, H, W, C] -> [N, size*size*C] floats in [0, 1] (box-averaged)."""
  x = np.asarray(images, np.float32) / 255.0
  n, h, w, c = x.shape
  if h % size or w % size:
    raise ValueError(f"pixel_features: image size {h}x{w} is not a multiple of {size}.")
  x = x.reshape(n, size, h // size, size, w // size, c).mean(axis=(2, 4))
  return x.reshape(n, -1)


def distances(x, y) -> dict[str, float]:
  """Both measures between two samples, as a JSON-ready dict."""
  return {"mmd2": mmd2(x, y), "frechet": frechet_distance(x, y),
          "n_x": int(len(x)), "n_y": int(len(y))}


def encoding_distances(source_codes, target_codes, num: int = 2000) -> dict:
  """Distances between the source encoder's codes of source and of target images."""
  return distances(np.asarray(source_codes)[:num], np.asarray(target_codes)[:num])


def pixel_distances(source, target, num: int = 500, seed: int = 0,
                    size: int = 16) -> dict:
  """Distances between seeded image samples of two ImageSources, in pixel space."""
  def sample(src):
    _, batches = pairs.sample_dataset(src, num, seed, batch_size=num)
    return pixel_features(np.concatenate(list(batches())), size)

  return distances(sample(source), sample(target))
