"""Drawing samples for the intervention-based metrics.

BetaVAE and FactorVAE, in the authors' fixed-sample form, need "a random
sample whose factor k equals v". Per factor the sample is sorted by value once
(on the host); a draw is then one gather, so thousands of draws run as one
jitted, vmapped computation. The sampler forms instead encode images of drawn
factor rows, chunk by chunk (``encode_factors``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from dtransfer.metrics import _checks


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ValueIndex:
  """Per-factor value index of a labelled sample.

  Attributes:
    labels: dense labels [M, K] (int32, 0..C_k-1).
    order: [K, M], row indices sorted by the value of factor k.
    start: [K, C], first position of value v in order[k].
    count: [K, C], number of rows with value v (0 for padding values).
  """
  labels: jax.Array
  order: jax.Array
  start: jax.Array
  count: jax.Array


def value_index(dense: np.ndarray, num_classes: int,
                size: int | None = None) -> ValueIndex:
  """Builds the index of dense labels [M, K] with values < num_classes.

  Arrays are zero-padded to `size` rows, so that the training and test
  portions of one sample share array shapes (and hence one compilation).
  """
  m, k = dense.shape
  size = m if size is None else size
  order = np.zeros((k, size), np.int32)
  order[:, :m] = np.argsort(dense, axis=0, kind="stable").T
  labels = np.zeros((size, k), np.int32)
  labels[:m] = dense
  count = np.zeros((k, num_classes), np.int32)
  for j in range(k):
    count[j] = np.bincount(dense[:, j], minlength=num_classes)
  start = (np.cumsum(count, axis=1) - count).astype(np.int32)
  return ValueIndex(jnp.asarray(labels), jnp.asarray(order),
                    jnp.asarray(start), jnp.asarray(count))


def pad_rows(x: np.ndarray, size: int) -> np.ndarray:
  """x [M, ...] zero-padded to `size` rows."""
  out = np.zeros((size,) + x.shape[1:], x.dtype)
  out[:len(x)] = x
  return out


CHUNK = 1024  # points per compiled step of the fixed-sample draws


def chunked(step, key, num_points: int):
  """Concatenates step(fold_in(key, c)) over chunks of CHUNK points.

  A fixed chunk keeps one compilation for any number of points; results
  depend only on the key, not on how the caller sizes its sets.
  """
  outs = [step(jax.random.fold_in(key, c))
          for c in range(-(-num_points // CHUNK))]
  return [np.concatenate([np.asarray(o[i]) for o in outs])[:num_points]
          for i in range(len(outs[0]))]


def draw_same_value(key, index: ValueIndex, k, v, shape):
  """Row indices (uniform, with replacement) whose factor k equals v."""
  c = index.count[k, v]
  u = jax.random.uniform(key, shape)
  r = jnp.minimum(jnp.floor(u * c).astype(jnp.int32), jnp.maximum(c - 1, 0))
  return index.order[k, index.start[k, v] + r]


def encode_factors(representation_fn: Callable, images_fn: Callable,
                   factors: np.ndarray, *, chunk_size: int = 256,
                   metric: str = "metric") -> np.ndarray:
  """Codes [N, D] of the images of factor rows, chunk by chunk."""
  out = []
  for start in range(0, len(factors), chunk_size):
    rep = np.asarray(representation_fn(images_fn(factors[start:start + chunk_size])))
    out.append(rep.reshape(rep.shape[0], -1))
  return _checks.check_codes(np.concatenate(out), metric)


def varying_factors(space, metric: str):
  """(indices of factors with more than one value, warnings for the others).

  Interventional metrics never draw a single-valued factor; they say so.
  """
  keep = list(space.varying())
  warnings = [f"factor {k} ('{space.names[k]}') has a single value; never drawn."
              for k in range(space.num_factors) if k not in keep]
  if not keep:
    raise ValueError(f"{metric}: every factor of the space has a single value.")
  return keep, warnings
