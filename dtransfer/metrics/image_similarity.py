"""Per-image similarity of two image batches: pixel MSE and SSIM.

Arrays in, arrays out (jitted): images are float NHWC in [0, 1]; each
function returns one number per image. SSIM is Wang et al. (2004): an 11x11
Gaussian window (sigma 1.5) over the valid region, K1 = 0.01, K2 = 0.03,
data range 1, averaged over pixels and channels (as skimage's
``structural_similarity(..., gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1, channel_axis=-1)`` up to its
border handling).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


@jax.jit
def mse(x: jax.Array, y: jax.Array) -> jax.Array:
  """Mean squared pixel difference per image, [N]."""
  return jnp.mean((jnp.asarray(x, jnp.float32) - jnp.asarray(y, jnp.float32)) ** 2,
                  axis=tuple(range(1, jnp.ndim(x))))


def _window(size: int, sigma: float) -> jax.Array:
  r = jnp.arange(size, dtype=jnp.float32) - (size - 1) / 2
  g = jnp.exp(-r ** 2 / (2 * sigma ** 2))
  return g / jnp.sum(g)


def _filter(x: jax.Array, g: jax.Array) -> jax.Array:
  """Separable 'valid' Gaussian filter of NHWC x, channel by channel."""
  n, h, w, c = x.shape
  x = jnp.transpose(x, (0, 3, 1, 2)).reshape(n * c, h, w, 1)
  k = len(g)
  x = jax.lax.conv_general_dilated(x, g.reshape(k, 1, 1, 1), (1, 1), "VALID",
                                   dimension_numbers=("NHWC", "HWIO", "NHWC"))
  x = jax.lax.conv_general_dilated(x, g.reshape(1, k, 1, 1), (1, 1), "VALID",
                                   dimension_numbers=("NHWC", "HWIO", "NHWC"))
  return x.reshape(n, c, h - k + 1, w - k + 1)


@functools.partial(jax.jit, static_argnames=("window", "sigma"))
def ssim(x: jax.Array, y: jax.Array, window: int = 11, sigma: float = 1.5) -> jax.Array:
  """Structural similarity per image, [N] (1 for identical images)."""
  x = jnp.asarray(x, jnp.float32)
  y = jnp.asarray(y, jnp.float32)
  if x.shape != y.shape or x.ndim != 4:
    raise ValueError(f"ssim needs two NHWC batches of one shape, got {x.shape} and "
                     f"{y.shape}.")
  if min(x.shape[1:3]) < window:
    raise ValueError(f"ssim's {window}x{window} window needs images at least that "
                     f"large, got {x.shape[1:3]}.")
  g = _window(window, sigma)
  c1, c2 = 0.01 ** 2, 0.03 ** 2
  mx, my = _filter(x, g), _filter(y, g)
  sxx = _filter(x * x, g) - mx ** 2
  syy = _filter(y * y, g) - my ** 2
  sxy = _filter(x * y, g) - mx * my
  s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (sxx + syy + c2))
  return jnp.mean(s, axis=(1, 2, 3))
