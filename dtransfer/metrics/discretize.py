"""The histogram discretiser of disentanglement_lib, in JAX.

dlib bins each code dim into ``num_bins`` equal-width bins spanning its
[min, max]: ``np.digitize(x, np.histogram(x, num_bins)[1][:-1])``. The maximum
lands in the last bin, and a constant dim (numpy widens its range to
[x - 0.5, x + 0.5]) falls in a single bin. We return 0-based bins
(0..num_bins-1) where dlib's are 1-based; mutual information does not care.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _discretize_column(col, num_bins: int):
  lo, hi = col.min(), col.max()
  same = hi <= lo
  lo = jnp.where(same, lo - 0.5, lo)
  hi = jnp.where(same, hi + 0.5, hi)
  edges = jnp.linspace(lo, hi, num_bins + 1)[:-1]
  # np.digitize(x, edges) = number of edges <= x (edges increasing).
  return jnp.sum(col[:, None] >= edges[None, :], axis=1).astype(jnp.int32) - 1


@functools.partial(jax.jit, static_argnames=("num_bins",))
def histogram_discretize(x, num_bins: int = 20):
  """Bins each column of x [N, D] into 0..num_bins-1 (int32 [N, D])."""
  x = jnp.asarray(x)
  return jax.vmap(_discretize_column, in_axes=(1, None), out_axes=1)(
      x, num_bins)
