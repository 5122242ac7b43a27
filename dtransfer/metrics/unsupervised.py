"""Unsupervised scores of disentanglement_lib: no labels needed.

With C = cov(z) (ddof 1):
- Gaussian total correlation: KL between N(0, C) and the product of its
  marginals, 1/2 (sum log diag C - log det C) = -1/2 log det(correlation).
- Gaussian Wasserstein correlation: squared W2 distance between the same two
  Gaussians, 2 tr C - 2 tr sqrt(diag(C) C); also divided by tr C. The trace of
  the matrix square root is computed from the eigenvalues of the symmetric
  D^1/2 C D^1/2 (same spectrum), which is exact, stable and jittable on
  every backend, where dlib calls scipy.linalg.sqrtm.
- Mutual-information score: mean pairwise MI (nats) between distinct
  20-bin-discretised code dims.

Constant dims make log det C = -inf (dlib returns NaN or inf); they are left
out of the Gaussian scores, with a warning, and kept in the MI score (where
they contribute 0). A singular covariance otherwise (exactly dependent dims)
has infinite total correlation: reported as inf, with a warning.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dtransfer.metrics import _checks
from dtransfer.metrics import discretize
from dtransfer.metrics import mutual_info

_METRIC = "unsupervised"


def gaussian_scores(codes):
  """(total correlation, Wasserstein correlation, trace C, min corr eigenvalue).

  In float64 on the host, whatever the JAX precision: D is small, and in
  float32 the trace of the matrix square root lost ~3e-4 against dlib's
  scipy.linalg.sqrtm, and codes scaled by 1e30 overflowed C.
  """
  z = np.asarray(codes, np.float64)
  z = z - z.mean(axis=0)
  cov = z.T @ z / (z.shape[0] - 1)
  var = np.diag(cov)
  sd = np.sqrt(var)
  corr = cov / sd[:, None] / sd[None, :]
  lam = np.linalg.eigvalsh(corr)
  tc = -0.5 * np.sum(np.log(np.maximum(lam, 1e-300)))
  # tr sqrt(diag(C) C) from the spectrum of the symmetric D^1/2 C D^1/2.
  mu = np.linalg.eigvalsh(cov * sd[:, None] * sd[None, :])
  tr = np.trace(cov)
  w = 2.0 * tr - 2.0 * np.sum(np.sqrt(np.maximum(mu, 0.0)))
  return tc, w, tr, lam.min()


@functools.partial(jax.jit, static_argnames=("num_bins",))
def mutual_info_score(codes, num_bins: int = 20):
  """Mean MI between distinct discretised code dims (0 for one dim)."""
  binned = discretize.histogram_discretize(codes, num_bins)
  m = mutual_info.mutual_info_matrix(binned, binned, num_bins, num_bins)
  d = m.shape[0]
  off = m.sum() - jnp.trace(m)
  return jnp.where(d > 1, off / max(d * d - d, 1), 0.0)


def unsupervised(codes, labels=None, *, num_bins: int = 20,
                 seed: int = 0) -> dict:
  """Gaussian total correlation, Wasserstein correlation and MI score.

  Args:
    codes: representation sample [N, D].
    labels: ignored (accepted for the common signature; checked if given).
    num_bins: histogram bins for the MI score (dlib: 20).
    seed: unused (deterministic).

  Returns:
    dict with "gaussian_total_correlation", "gaussian_wasserstein_correlation",
    "gaussian_wasserstein_correlation_norm", "mutual_info_score",
    "num_active_dims", "warnings".
  """
  del seed
  codes = _checks.check_codes(codes, _METRIC)
  if labels is not None:
    _checks.check_labels(labels, codes.shape[0], _METRIC, continuous=True)
  warnings: list[str] = []
  active = ~_checks.constant_dims(codes)
  if not active.all():
    warnings.append(f"constant dims {np.flatnonzero(~active).tolist()} are left "
                    "out of the Gaussian scores (their log-variance is -inf).")
  dt = _checks.float_dtype()
  out = {"num_active_dims": int(active.sum())}
  if active.any():
    tc, w, tr, lam_min = (float(v) for v in gaussian_scores(codes[:, active]))
    tol = 1e-6 if codes.dtype == np.float32 else 1e-12
    if lam_min <= tol:
      warnings.append("the code covariance is singular (some dims are exact "
                      "linear functions of others): the Gaussian total "
                      "correlation is infinite.")
      tc = float("inf")
    out.update(gaussian_total_correlation=tc,
               gaussian_wasserstein_correlation=w,
               gaussian_wasserstein_correlation_norm=w / tr)
  else:
    warnings.append("every dim is constant; the Gaussian scores are 0.")
    out.update(gaussian_total_correlation=0.0,
               gaussian_wasserstein_correlation=0.0,
               gaussian_wasserstein_correlation_norm=0.0)
  z = jnp.asarray(_checks.standardized(codes), dt)  # binning is scale-free
  out["mutual_info_score"] = float(mutual_info_score(z, int(num_bins)))
  out["warnings"] = warnings
  return out
