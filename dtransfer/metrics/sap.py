"""SAP, the Separated Attribute Predictability score (Kumar et al. 2018).

A score matrix M [D, K] says how well code d alone predicts factor k; SAP is the
mean over factors of the gap between the best and second-best code (with one
code dim the runner-up is 0).
- discrete factors (dlib's study default): M[d, k] = test accuracy of
  ``LinearSVC(C=0.01, class_weight="balanced")`` fit on code d alone.
- continuous factors: M[d, k] = cov(z_d, y_k)^2 / (var z_d var y_k), the
  squared correlation (0 where var z_d <= 1e-12), in JAX on the whole sample.
"""

from __future__ import annotations

import warnings as _warnings

import jax
import jax.numpy as jnp
import numpy as np

from dtransfer.metrics import _checks
from dtransfer.metrics import _split

_METRIC = "sap"


@jax.jit
def continuous_score_matrix(codes, factors):
  """Squared correlations [D, K] between code dims and (real) factors."""
  dt = _checks.float_dtype()
  z = jnp.asarray(codes, dt)
  y = jnp.asarray(factors, dt)
  n = z.shape[0]
  zc = z - z.mean(axis=0)
  yc = y - y.mean(axis=0)
  cov = zc.T @ yc / (n - 1)
  var_z = (zc * zc).sum(axis=0) / (n - 1)
  var_y = (yc * yc).sum(axis=0) / (n - 1)
  ok = var_z[:, None] > 1e-12
  denom = jnp.where(ok, var_z[:, None] * var_y[None, :], 1.0)
  return jnp.where(ok, cov * cov / denom, 0.0)


def discrete_score_matrix(x_train, y_train, x_test, y_test, *, seed: int = 0):
  """Test accuracy [D, K] of a 1-D linear SVM per (code, factor)."""
  from sklearn import svm  # pylint: disable=g-import-not-at-top
  from sklearn.exceptions import ConvergenceWarning  # pylint: disable=g-import-not-at-top
  m = np.zeros((x_train.shape[1], y_train.shape[1]))
  with _warnings.catch_warnings():
    _warnings.simplefilter("ignore", ConvergenceWarning)
    for d in range(x_train.shape[1]):
      for k in range(y_train.shape[1]):
        clf = svm.LinearSVC(C=0.01, class_weight="balanced", random_state=seed)
        clf.fit(x_train[:, d:d + 1], y_train[:, k])
        m[d, k] = np.mean(clf.predict(x_test[:, d:d + 1]) == y_test[:, k])
  return m


def sap_from_matrix(matrix) -> tuple[float, np.ndarray]:
  """SAP and the per-factor gaps of a score matrix [D, K]."""
  m = np.sort(np.asarray(matrix, np.float64), axis=0)[::-1]
  second = m[1] if m.shape[0] > 1 else np.zeros(m.shape[1])
  gaps = m[0] - second
  return float(gaps.mean()), gaps


def sap(codes, labels, *, continuous_factors: bool = False, seed: int = 0,
        num_train: int | None = None, num_test: int | None = None,
        shuffle: bool = True) -> dict:
  """SAP of codes [N, D] against factors [N, K].

  Args:
    codes: representation sample [N, D].
    labels: factor labels [N, K]; integer unless continuous_factors.
    continuous_factors: squared-correlation scores (whole sample) instead of
      1-D SVM accuracies (train/test split).
    seed: seeds the split and the SVMs.
    num_train, num_test, shuffle: the split for discrete factors.

  Returns:
    dict with "sap", per-factor "gap", "score_matrix" [D, K], "warnings".
  """
  codes = _checks.check_codes(codes, _METRIC)
  labels = _checks.check_labels(labels, codes.shape[0], _METRIC,
                                continuous=continuous_factors)
  warnings: list[str] = []
  if not continuous_factors:  # the regularised SVM of each dim depends on its scale
    _checks.scale_warning(codes, _METRIC, warnings)
  if continuous_factors:
    keep = _checks.informative_factors(labels, _METRIC, warnings)
    m = np.asarray(continuous_score_matrix(_checks.centered(codes),
                                           _checks.centered(labels[:, keep])),
                   np.float64)
  else:
    tr, te = _split.train_test_indices(len(codes), num_train=num_train,
                                       num_test=num_test, seed=seed,
                                       shuffle=shuffle, metric=_METRIC)
    keep = _checks.informative_factors(labels[tr], _METRIC, warnings)
    m = discrete_score_matrix(codes[tr], labels[tr][:, keep], codes[te],
                              labels[te][:, keep], seed=seed)
  value, gaps = sap_from_matrix(m)
  k = labels.shape[1]
  m_full = np.zeros((codes.shape[1], k))
  m_full[:, keep] = m
  return {"sap": value, "gap": _checks.per_factor(list(gaps), keep, k),
          "score_matrix": m_full.tolist(), "warnings": warnings}
