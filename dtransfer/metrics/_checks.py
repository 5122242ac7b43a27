"""Input validation shared by every metric, so that all fail the same, clear way.

Rules (documented once, applied everywhere):
- codes must be a finite float array [N, D]; NaN or inf raise ValueError naming
  the metric and the fix (metrics are undefined on them, and silently dropping
  rows would change the sample).
- labels must be [N, K] (or [N]) integer class indices with the same N; float
  labels are accepted only when every value is integral. Continuous factors are
  accepted only where the definition allows them (SAP, continuous mode).
- a factor with a single value in the sample carries no information: it is
  excluded from the metric, its per-factor entries are None, and the result's
  "warnings" list says so. If every factor is single-valued, ValueError.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def float_dtype():
  """float64 when jax_enable_x64 is on, else float32."""
  return jax.dtypes.canonicalize_dtype(jnp.float64)


def check_codes(codes, metric: str, *, min_samples: int = 2) -> np.ndarray:
  """Returns codes as a host float array [N, D] or raises a ValueError."""
  try:
    arr = np.asarray(codes)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f"{metric}: codes must be an array [N, D], got "
                     f"{type(codes).__name__} ({e}).") from e
  if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or
                                 arr.dtype == bool):
    raise ValueError(f"{metric}: codes must be numeric, got dtype {arr.dtype}.")
  if arr.ndim != 2:
    raise ValueError(f"{metric}: codes must have shape [N, D] (samples x latent "
                     f"dims), got shape {arr.shape}; reshape with "
                     "codes.reshape(len(codes), -1).")
  if arr.shape[0] < min_samples or arr.shape[1] < 1:
    raise ValueError(f"{metric}: needs at least {min_samples} samples and one "
                     f"latent dim, got codes of shape {arr.shape}.")
  if np.iscomplexobj(arr):
    raise ValueError(f"{metric}: codes must be real, got dtype {arr.dtype}.")
  arr = arr.astype(np.float64 if arr.dtype == np.float64 else np.float32)
  finite = np.isfinite(arr)
  if not finite.all():
    bad_dims = np.flatnonzero(~finite.all(axis=0)).tolist()
    bad_rows = int((~finite.all(axis=1)).sum())
    raise ValueError(
        f"{metric}: codes contain {int(np.isnan(arr).sum())} NaN and "
        f"{int(np.isinf(arr).sum())} infinite values ({bad_rows} of "
        f"{arr.shape[0]} samples, latent dims {bad_dims}); the metric is "
        "undefined on them. Fix the encoder (a diverged model?) or drop those "
        "samples and their labels: keep = np.isfinite(codes).all(1); "
        "codes, labels = codes[keep], labels[keep].")
  return arr


def centered(codes: np.ndarray) -> np.ndarray:
  """Codes minus their column means, in float64.

  The JAX metrics are shift-invariant and run in float32 unless x64 is on;
  centring first on the host keeps them precise for codes with a large offset.
  """
  codes = np.asarray(codes, np.float64)
  return codes - codes.mean(axis=0)


def constant_dims(codes: np.ndarray) -> np.ndarray:
  """Bool mask of dims that hold one value, exactly (max == min).

  Not ``var == 0``: the variance of a column constant at 0.7 rounds to about
  1e-33 rather than 0, and such a dim then poisons log-variances and
  correlations with NaN.
  """
  codes = np.asarray(codes)
  return codes.max(axis=0) == codes.min(axis=0)


def standardized(codes: np.ndarray) -> np.ndarray:
  """Per-dim z-scores computed in float64 (constant dims become 0).

  For metrics that are invariant to a per-dim rescaling by definition (OMES's
  correlations, gradient-boosted trees, Factor-VAE's normalised variances):
  the result is the same, but codes of any scale (1e-30 or 1e30) no longer
  underflow or overflow their float32 arithmetic, nor fall under sklearn's
  1e-7 tree-split tolerance.
  """
  z = np.asarray(codes, np.float64)
  z = z - z.mean(axis=0)
  sd = z.std(axis=0)
  const = constant_dims(codes)
  return np.where(const, 0.0, z / np.where(const | (sd == 0), 1.0, sd))


# Code standard deviations outside this range make a scale-dependent metric
# (a regularised or iteratively trained classifier) measure the scale, not the code.
SCALE_RANGE = (1e-6, 1e6)


def scale_warning(codes: np.ndarray, metric: str, warnings: list[str]) -> None:
  """Notes in ``warnings`` when the codes' scale is far from order 1.

  For metrics that depend on the codes' scale by definition (MLP, logistic
  regression, SAP's regularised SVM, beta-VAE's logistic regression): their
  score is still computed on the codes as given, but says so.
  """
  sd = np.asarray(codes, np.float64).std(axis=0)
  active = sd[~constant_dims(codes)]
  if not active.size:
    return
  top = float(active.max())
  if top < SCALE_RANGE[0] or top > SCALE_RANGE[1]:
    warnings.append(
        f"{metric} depends on the scale of the codes, and their largest standard "
        f"deviation is {top:.3g} (outside {SCALE_RANGE[0]:g}..{SCALE_RANGE[1]:g}): the "
        "score reflects the scale more than the representation; standardise the codes "
        "((codes - codes.mean(0)) / codes.std(0)) to score the representation.")


def check_labels(labels, num_samples: int, metric: str, *,
                 continuous: bool = False) -> np.ndarray:
  """Returns labels [N, K] (int64, or float64 if continuous) or raises."""
  if labels is None:
    raise ValueError(f"{metric}: needs factor labels [N, K], got None.")
  arr = np.asarray(labels)
  if arr.ndim == 1:
    arr = arr[:, None]
  if arr.ndim != 2:
    raise ValueError(f"{metric}: labels must have shape [N, K] (samples x "
                     f"factors), got shape {arr.shape}.")
  if arr.shape[0] != num_samples:
    raise ValueError(f"{metric}: codes have {num_samples} samples but labels "
                     f"have {arr.shape[0]}; pass one label row per code row.")
  if arr.shape[1] < 1:
    raise ValueError(f"{metric}: labels have no factor columns.")
  if arr.dtype == bool:
    arr = arr.astype(np.int64)
  if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
    raise ValueError(f"{metric}: labels must be numeric class indices, got dtype "
                     f"{arr.dtype}; map categories to integers first "
                     "(np.unique(col, return_inverse=True)[1]).")
  if np.issubdtype(arr.dtype, np.integer):
    return arr.astype(np.float64) if continuous else arr.astype(np.int64)
  if not np.isfinite(arr).all():
    raise ValueError(f"{metric}: labels contain NaN or infinite values.")
  if continuous:
    return arr.astype(np.float64)
  frac = np.mod(arr, 1) != 0
  if frac.any():
    cols = np.flatnonzero(frac.any(axis=0)).tolist()
    raise ValueError(
        f"{metric}: labels must be integer class indices, but factor columns "
        f"{cols} hold non-integer values (e.g. {arr[frac][:3].tolist()}). "
        "Discretise continuous factors first (e.g. "
        "dtransfer.metrics.discretize.histogram_discretize), or use "
        "sap(..., continuous_factors=True), which accepts them.")
  return arr.astype(np.int64)


def encode_labels(labels: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
  """Dense per-factor class codes 0..C_k-1 [N, K] (int32) and each C_k."""
  dense = np.empty(labels.shape, dtype=np.int32)
  cards = []
  for k in range(labels.shape[1]):
    _, inv = np.unique(labels[:, k], return_inverse=True)
    dense[:, k] = inv.reshape(-1)
    cards.append(int(inv.max()) + 1 if inv.size else 0)
  return dense, tuple(cards)


def informative_factors(labels: np.ndarray, metric: str,
                        warnings: list[str]) -> list[int]:
  """Indices of factors with more than one value; notes the others in warnings."""
  keep = []
  for k in range(labels.shape[1]):
    values = np.unique(labels[:, k])
    if values.size > 1:
      keep.append(k)
    else:
      warnings.append(
          f"factor {k} has a single value ({values[0]}) in this sample and "
          "carries no information; it is excluded from the score and its "
          "per-factor entries are None.")
  if not keep:
    raise ValueError(f"{metric}: every factor has a single value in this "
                     "sample; there is nothing to score. Evaluate on a sample "
                     "in which the factors vary.")
  return keep


def per_factor(values: Sequence, keep: Sequence[int], num_factors: int) -> list:
  """Scatters values of the kept factors into a K-list with None elsewhere."""
  out = [None] * num_factors
  for k, v in zip(keep, values):
    out[k] = to_python(v)
  return out


def to_python(x):
  """Converts numpy/jax scalars and arrays to Python floats, ints and lists."""
  if isinstance(x, dict):
    return {k: to_python(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [to_python(v) for v in x]
  if isinstance(x, (np.ndarray, np.generic, jax.Array)):
    a = np.asarray(x)
    return a.item() if a.ndim == 0 else a.tolist()
  return x


def check_fraction(value: float, name: str, metric: str, *, lo: float = 0.0,
                   hi: float = 1.0) -> float:
  value = float(value)
  if not lo <= value <= hi:
    raise ValueError(f"{metric}: {name} must lie in [{lo}, {hi}], got {value}.")
  return value


def check_counts(metric: str, *, min_batch: int = 1, **counts) -> None:
  """Sample-count arguments must be positive integers (batch >= min_batch)."""
  for name, value in counts.items():
    low = min_batch if name == "batch_size" else 1
    if int(value) != value or value < low:
      raise ValueError(f"{metric}: {name} must be an integer >= {low}, got "
                       f"{value}.")
