"""MIG, the Mutual Information Gap (Chen et al. 2018), as disentanglement_lib.

Codes are binned by the 20-bin histogram discretiser; m[d, k] = MI(code_d,
factor_k) in nats; H_k = H(factor_k); MIG = mean_k (m_(1),k - m_(2),k) / H_k,
the gap between the two most informative codes. With a single code dim the
runner-up MI is 0. Computed on the whole given sample.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dtransfer.metrics import _checks
from dtransfer.metrics import discretize
from dtransfer.metrics import mutual_info

_METRIC = "mig"


@functools.partial(jax.jit, static_argnames=("num_bins", "num_classes"))
def _mig(codes, labels, num_bins: int, num_classes: int):
  binned = discretize.histogram_discretize(codes, num_bins)
  m = mutual_info.mutual_info_matrix(binned, labels, num_bins, num_classes)
  h = mutual_info.entropy(labels, num_classes)
  top = jnp.sort(m, axis=0)[::-1]
  second = top[1] if m.shape[0] > 1 else jnp.zeros_like(top[0])
  gap = (top[0] - second) / h
  return gap, m, h


def mig_from_mi(mi, entropy):
  """MIG from an MI matrix [D, K] and factor entropies [K] (closed form)."""
  mi = np.asarray(mi, np.float64)
  top = np.sort(mi, axis=0)[::-1]
  second = top[1] if mi.shape[0] > 1 else np.zeros(mi.shape[1])
  return float(np.mean((top[0] - second) / np.asarray(entropy, np.float64)))


def mig(codes, labels, *, num_bins: int = 20, seed: int = 0) -> dict:
  """MIG of codes [N, D] against integer factor labels [N, K].

  Args:
    codes: representation sample [N, D].
    labels: integer factor labels [N, K].
    num_bins: histogram bins per code dim (dlib: 20).
    seed: unused (MIG is deterministic); kept for the common signature.

  Returns:
    dict with "mig", per-factor "gap" (normalised), "mi" [D, K] (nats),
    "entropy" [K], and "warnings".
  """
  del seed
  codes = _checks.check_codes(codes, _METRIC)
  labels = _checks.check_labels(labels, codes.shape[0], _METRIC)
  warnings: list[str] = []
  keep = _checks.informative_factors(labels, _METRIC, warnings)
  dense, cards = _checks.encode_labels(labels[:, keep])
  z = jnp.asarray(_checks.centered(codes), _checks.float_dtype())
  gap, m, h = _mig(z, jnp.asarray(dense), int(num_bins), max(cards))
  k = labels.shape[1]
  mi_full = np.zeros((codes.shape[1], k))
  mi_full[:, keep] = np.asarray(m)
  return {"mig": float(np.mean(np.asarray(gap))),
          "gap": _checks.per_factor(list(np.asarray(gap)), keep, k),
          "mi": mi_full.tolist(),
          "entropy": _checks.per_factor(list(np.asarray(h)), keep, k),
          "warnings": warnings}
