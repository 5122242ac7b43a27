"""IRS, the Interventional Robustness Score (Suter et al. 2019), as dlib.

Factors pass through the 20-bin histogram discretiser (as dlib does), code
dims with zero variance are dropped. For factor i and each of its values v:
E[z | g_i = v]; the ``diff_quantile`` (0.99; 1.0 is the paper's version)
quantile of |z - E| per dim; averaged over values -> cum_dev[d, i]. With
max_dev[d] = max |z_d - mean z_d|, IRS[d, i] = 1 - cum_dev[d, i] / max_dev[d];
each dim scores max_i IRS[d, i]; IRS = average of the dim scores weighted by
max_dev. Whole sample.

Bug not copied: dlib reports ``num_active_dims = np.sum(active_mus)`` (a sum of
code values); here it is the number of non-constant dims.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dtransfer.metrics import _checks
from dtransfer.metrics import discretize

_METRIC = "irs"


def _quantile_tables(factors: np.ndarray, q: float):
  """Host-side layout: rows of each (factor, value), quantile positions.

  Returns row table [K, V, M] (padding -1), the descending positions of the
  two order statistics that np.quantile(method="linear") interpolates, the
  interpolation fraction [K, V], and the top-k size needed.
  """
  num_f = factors.shape[1]
  groups = [[np.flatnonzero(factors[:, k] == v)
             for v in np.unique(factors[:, k])] for k in range(num_f)]
  num_v = max(len(g) for g in groups)
  width = max(len(r) for g in groups for r in g)
  rows = np.full((num_f, num_v, width), -1, np.int32)
  pos_a = np.zeros((num_f, num_v), np.int32)
  pos_b = np.zeros((num_f, num_v), np.int32)
  frac = np.zeros((num_f, num_v))
  top = 1
  for k, g in enumerate(groups):
    for v, r in enumerate(g):
      n = len(r)
      rows[k, v, :n] = r
      virtual = q * (n - 1)  # float64, as numpy computes it
      lo = int(np.floor(virtual))
      hi = min(lo + 1, n - 1)
      pos_a[k, v], pos_b[k, v] = n - 1 - lo, n - 1 - hi
      frac[k, v] = virtual - lo
      top = max(top, n - lo)
  return rows, pos_a, pos_b, frac, top


@functools.partial(jax.jit, static_argnames=("top",))
def _irs_core(codes, rows, pos_a, pos_b, frac, top: int):
  max_dev = jnp.max(jnp.abs(codes - codes.mean(axis=0)), axis=0)

  def per_factor(args):
    r, pa, pb, fr = args  # [V, M], [V], [V], [V]
    mask = (r >= 0)[..., None]
    z = codes[jnp.maximum(r, 0)]  # [V, M, D]
    count = mask.sum(axis=1)  # [V, 1]
    e_loc = jnp.where(mask, z, 0.0).sum(axis=1) / jnp.maximum(count, 1)
    diffs = jnp.where(mask, jnp.abs(z - e_loc[:, None, :]), -jnp.inf)
    largest = jax.lax.top_k(jnp.swapaxes(diffs, 1, 2), top)[0]  # [V, D, top]
    a = jnp.take_along_axis(largest, pa[:, None, None], axis=2)[..., 0]
    b = jnp.take_along_axis(largest, pb[:, None, None], axis=2)[..., 0]
    quant = a + fr[:, None].astype(a.dtype) * (b - a)  # [V, D]
    present = count[:, 0] > 0
    return (jnp.where(present[:, None], quant, 0.0).sum(axis=0) /
            present.sum())

  cum = jax.lax.map(per_factor, (rows, pos_a, pos_b, frac))  # [K, D]
  return 1.0 - cum.T / max_dev[:, None], max_dev


def irs_matrix(codes, factors, diff_quantile: float = 0.99):
  """IRS matrix [D, K] and max deviations [D].

  Only the top (1 - q) share of each value's deviations is needed for the q
  quantile, so a ``top_k`` replaces a full sort; the interpolation follows
  np.quantile's default ('linear') exactly.

  Args:
    codes: [N, D] (non-constant dims).
    factors: discrete factors [N, K] (host array).
    diff_quantile: quantile of the within-value deviations.
  """
  rows, pos_a, pos_b, frac, top = _quantile_tables(np.asarray(factors),
                                                   float(diff_quantile))
  dt = _checks.float_dtype()
  z = jnp.asarray(_checks.centered(codes), dt)
  return _irs_core(z, jnp.asarray(rows), jnp.asarray(pos_a),
                   jnp.asarray(pos_b), jnp.asarray(frac, dt), top)


def irs(codes, labels, *, diff_quantile: float = 0.99, num_bins: int = 20,
        seed: int = 0) -> dict:
  """IRS of codes [N, D] with integer factor labels [N, K].

  Args:
    codes: representation sample [N, D].
    labels: integer factor labels [N, K].
    diff_quantile: quantile of the within-value deviations (dlib: 0.99).
    num_bins: bins of the factor discretiser (dlib: 20).
    seed: unused (IRS is deterministic); kept for the common signature.

  Returns:
    dict with "irs", "num_active_dims", per-dim "disentanglement_scores" and
    "parents" (None for constant dims), "irs_matrix" [D, K], "warnings".
  """
  del seed
  _checks.check_fraction(diff_quantile, "diff_quantile", _METRIC)
  codes = _checks.check_codes(codes, _METRIC)
  labels = _checks.check_labels(labels, codes.shape[0], _METRIC)
  warnings: list[str] = []
  keep = _checks.informative_factors(labels, _METRIC, warnings)
  active = ~_checks.constant_dims(codes)
  d, k = codes.shape[1], labels.shape[1]
  if not active.any():
    warnings.append("every code dim is constant; IRS is 0.")
    return {"irs": 0.0, "num_active_dims": 0,
            "disentanglement_scores": [None] * d, "parents": [None] * d,
            "irs_matrix": np.zeros((d, k)).tolist(), "warnings": warnings}
  factors = np.asarray(discretize.histogram_discretize(
      jnp.asarray(labels[:, keep], _checks.float_dtype()), int(num_bins)))
  mat, max_dev = irs_matrix(codes[:, active], factors, diff_quantile)
  mat, max_dev = np.asarray(mat, np.float64), np.asarray(max_dev, np.float64)
  scores = mat.max(axis=1)
  parents = np.asarray(keep)[mat.argmax(axis=1)]
  full = np.zeros((d, k))
  full[np.ix_(active, keep)] = mat
  act_idx = np.flatnonzero(active)
  return {"irs": float(np.average(scores, weights=max_dev)),
          "num_active_dims": int(active.sum()),
          "disentanglement_scores": _checks.per_factor(list(scores), act_idx, d),
          "parents": _checks.per_factor(list(parents), act_idx, d),
          "irs_matrix": full.tolist(), "warnings": warnings}
