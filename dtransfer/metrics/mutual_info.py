"""Discrete mutual information between columns of two label arrays, in JAX.

Same quantity as ``sklearn.metrics.mutual_info_score`` (nats), computed for
every (column of a, column of b) pair at once: the contingency tables are one
matrix product of one-hot encodings, [N, Da*Ca]^T @ [N, Db*Cb].
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _one_hot(x, num_classes: int, dtype):
  # [N, D] int -> [N, D * num_classes]
  return jax.nn.one_hot(x, num_classes, dtype=dtype).reshape(x.shape[0], -1)


@functools.partial(jax.jit, static_argnames=("num_a", "num_b"))
def mutual_info_matrix(a, b, num_a: int, num_b: int):
  """MI [Da, Db] (nats) between int columns a [N, Da] and b [N, Db].

  Args:
    a: int array [N, Da] with values in 0..num_a-1.
    b: int array [N, Db] with values in 0..num_b-1.
    num_a: number of classes of a (padding classes are harmless).
    num_b: number of classes of b.

  Returns:
    Float array [Da, Db].
  """
  dtype = jnp.result_type(float)
  n, da = a.shape
  db = b.shape[1]
  counts = _one_hot(a, num_a, dtype).T @ _one_hot(b, num_b, dtype)
  counts = counts.reshape(da, num_a, db, num_b).transpose(0, 2, 1, 3)
  p = counts / n
  pa = p.sum(axis=3, keepdims=True)
  pb = p.sum(axis=2, keepdims=True)
  ratio = jnp.where(p > 0, p / jnp.where(pa * pb > 0, pa * pb, 1.0), 1.0)
  mi = jnp.sum(jnp.where(p > 0, p * jnp.log(ratio), 0.0), axis=(2, 3))
  return jnp.maximum(mi, 0.0)


@functools.partial(jax.jit, static_argnames=("num_classes",))
def entropy(a, num_classes: int):
  """Entropy (nats) of each int column of a [N, D]: MI(a_d, a_d)."""
  dtype = jnp.result_type(float)
  counts = jax.nn.one_hot(a, num_classes, dtype=dtype).sum(axis=0)  # [D, C]
  p = counts / a.shape[0]
  return -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0),
                  axis=1)
