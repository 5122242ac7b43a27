"""Modularity and Explicitness (Ridgeway & Mozer 2018), as disentanglement_lib.

Modularity, from the MI matrix m [D, K] of 20-bin-discretised codes: for code
d, theta = max_k m[d, k]^2, delta_d = (sum_k m[d, k]^2 - theta) / (theta (K-1)),
modularity_d = 1 - delta_d (0 for a code with no information, theta = 0);
the score is the mean over codes, so unused codes count as 0. Computed on the
whole sample (dlib: its training draw). With one factor every informative code
is modular (1) instead of dlib's 0/0.

Explicitness: codes standardised with the training mean/std (a constant dim
gets std 1 instead of dlib's division by zero); per factor
``LogisticRegression()`` on all codes; one-vs-rest ROC-AUC of predict_proba,
macro-averaged over the classes that occur in the evaluated split (dlib's
binariser breaks when a split lacks a class); mean over factors.
"""

from __future__ import annotations

import functools
import warnings as _warnings

import jax
import jax.numpy as jnp
import numpy as np

from dtransfer.metrics import _checks
from dtransfer.metrics import _split
from dtransfer.metrics import discretize
from dtransfer.metrics import mutual_info

_METRIC = "modularity"


@jax.jit
def modularity_per_code(mi):
  """Modularity of each code [D] from an MI matrix [D, K]."""
  sq = jnp.square(jnp.asarray(mi))
  theta = sq.max(axis=1)
  k = sq.shape[1]
  if k == 1:
    return jnp.where(theta > 0, 1.0, 0.0)
  delta = (sq.sum(axis=1) - theta) / jnp.where(theta > 0, theta * (k - 1), 1.0)
  return jnp.where(theta > 0, 1.0 - delta, 0.0)


def modularity_from_mi(mi) -> float:
  """Modularity of the representation from an MI matrix [D, K] (closed form)."""
  return float(jnp.mean(modularity_per_code(jnp.asarray(
      mi, _checks.float_dtype()))))


@functools.partial(jax.jit, static_argnames=("num_bins", "num_classes"))
def _mi(codes, labels, num_bins: int, num_classes: int):
  binned = discretize.histogram_discretize(codes, num_bins)
  return mutual_info.mutual_info_matrix(binned, labels, num_bins, num_classes)


def _auc(y, proba, classes) -> float:
  from sklearn.metrics import roc_auc_score  # pylint: disable=g-import-not-at-top
  onehot = (y[:, None] == classes[None, :]).astype(np.int64)
  pos = onehot.sum(axis=0)
  cols = np.flatnonzero((pos > 0) & (pos < len(y)))
  if cols.size == 0:
    return 0.5
  return float(roc_auc_score(onehot[:, cols], proba[:, cols], average="macro"))


def explicitness(x_train, y_train, x_test, y_test, *, seed: int = 0):
  """Per-factor ROC-AUC (train, test) of logistic regression on all codes."""
  from sklearn.exceptions import ConvergenceWarning  # pylint: disable=g-import-not-at-top
  from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top
  mean = x_train.mean(axis=0)
  std = x_train.std(axis=0)
  std = np.where(std > 0, std, 1.0)
  x_train = (x_train - mean) / std
  x_test = (x_test - mean) / std
  auc_train, auc_test = [], []
  with _warnings.catch_warnings():
    _warnings.simplefilter("ignore", ConvergenceWarning)
    for k in range(y_train.shape[1]):
      clf = LogisticRegression(random_state=seed).fit(x_train, y_train[:, k])
      auc_train.append(_auc(y_train[:, k], clf.predict_proba(x_train),
                            clf.classes_))
      auc_test.append(_auc(y_test[:, k], clf.predict_proba(x_test),
                           clf.classes_))
  return auc_train, auc_test


def modularity(codes, labels, *, num_bins: int = 20, seed: int = 0,
               with_explicitness: bool = True, num_train: int | None = None,
               num_test: int | None = None, shuffle: bool = True) -> dict:
  """Modularity (and explicitness) of codes [N, D] with labels [N, K].

  Args:
    codes: representation sample [N, D].
    labels: integer factor labels [N, K].
    num_bins: histogram bins for the MI (dlib: 20).
    seed: seeds the split and the classifiers.
    with_explicitness: also fit the explicitness classifiers.
    num_train, num_test, shuffle: the split for explicitness.

  Returns:
    dict with "modularity", per-code "modularity_per_code", "mi" [D, K], and
    (if requested) "explicitness_train", "explicitness_test"; "warnings".
  """
  codes = _checks.check_codes(codes, _METRIC)
  labels = _checks.check_labels(labels, codes.shape[0], _METRIC)
  warnings: list[str] = []
  keep = _checks.informative_factors(labels, _METRIC, warnings)
  dense, cards = _checks.encode_labels(labels[:, keep])
  mi = _mi(jnp.asarray(_checks.centered(codes), _checks.float_dtype()),
           jnp.asarray(dense),
           int(num_bins), max(cards))
  per_code = np.asarray(modularity_per_code(mi), np.float64)
  k = labels.shape[1]
  mi_full = np.zeros((codes.shape[1], k))
  mi_full[:, keep] = np.asarray(mi)
  out = {"modularity": float(per_code.mean()),
         "modularity_per_code": per_code.tolist(), "mi": mi_full.tolist()}
  if with_explicitness:
    tr, te = _split.train_test_indices(len(codes), num_train=num_train,
                                       num_test=num_test, seed=seed,
                                       shuffle=shuffle, metric=_METRIC)
    keep_tr = [j for j in keep if np.unique(labels[tr, j]).size > 1]
    if len(keep_tr) < len(keep):
      warnings.append("factors "
                      f"{sorted(set(keep) - set(keep_tr))} have a single value "
                      "in the training split; excluded from explicitness.")
    auc_tr, auc_te = explicitness(codes[tr], labels[tr][:, keep_tr], codes[te],
                                  labels[te][:, keep_tr], seed=seed)
    out["explicitness_train"] = float(np.mean(auc_tr)) if auc_tr else 0.0
    out["explicitness_test"] = float(np.mean(auc_te)) if auc_te else 0.0
    out["explicitness_per_factor"] = _checks.per_factor(auc_te, keep_tr, k)
  out["warnings"] = warnings
  return out
