"""DCI: Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018).

As disentanglement_lib: per factor a ``GradientBoostingClassifier`` with
sklearn defaults (100 trees, lr 0.1, depth 3) is fit on the training split;
R[d, k] = |feature_importances_|. Disentanglement weights each code's
1 - H_K(R[d] / sum R[d]) by its share of the total importance; completeness does
the same per factor with base-D entropy; informativeness is the classifiers'
mean train/test accuracy (dlib reports accuracy, not error). The trees are
seeded here (dlib's are not). The few closed-form lines after the fits are
numpy: the trees dominate the cost.
"""

from __future__ import annotations

import numpy as np

from dtransfer.metrics import _checks
from dtransfer.metrics import _split

_METRIC = "dci"
_EPS = 1e-11  # dlib adds it before the entropy.


def _one_minus_entropy(p: np.ndarray, base: int) -> np.ndarray:
  """1 - entropy (base `base`) of each row of non-negative p, normalised."""
  if base <= 1:  # one factor (or one code): nothing to spread over.
    return np.ones(p.shape[0])
  p = p + _EPS
  p = p / p.sum(axis=1, keepdims=True)
  return 1.0 + (p * np.log(p)).sum(axis=1) / np.log(base)


def _weighted(per_row: np.ndarray, mass: np.ndarray) -> float:
  total = mass.sum()
  weights = mass / total if total > 0 else np.full(mass.shape, 1 / mass.size)
  return float((per_row * weights).sum())


def disentanglement(importance) -> float:
  """Disentanglement of an importance matrix R [D, K] (dlib's definition)."""
  r = np.asarray(importance, np.float64)
  return _weighted(_one_minus_entropy(r, r.shape[1]), r.sum(axis=1))


def completeness(importance) -> float:
  """Completeness of an importance matrix R [D, K] (dlib's definition)."""
  r = np.asarray(importance, np.float64)
  return _weighted(_one_minus_entropy(r.T, r.shape[0]), r.sum(axis=0))


def importance_gbt(x_train, y_train, x_test, y_test, *, seed: int = 0,
                   **gbt_kwargs):
  """R [D, K], train and test accuracy per factor, from one GBT per factor."""
  from sklearn.ensemble import GradientBoostingClassifier  # pylint: disable=g-import-not-at-top
  r = np.zeros((x_train.shape[1], y_train.shape[1]))
  acc_train, acc_test = [], []
  for k in range(y_train.shape[1]):
    model = GradientBoostingClassifier(random_state=seed, **gbt_kwargs)
    model.fit(x_train, y_train[:, k])
    r[:, k] = np.abs(model.feature_importances_)
    acc_train.append(float(np.mean(model.predict(x_train) == y_train[:, k])))
    acc_test.append(float(np.mean(model.predict(x_test) == y_test[:, k])))
  return r, acc_train, acc_test


def dci(codes, labels, *, seed: int = 0, num_train: int | None = None,
        num_test: int | None = None, shuffle: bool = True,
        **gbt_kwargs) -> dict:
  """DCI of codes [N, D] with integer factor labels [N, K].

  Args:
    codes: representation sample [N, D].
    labels: integer factor labels [N, K].
    seed: seeds the split and the trees.
    num_train, num_test, shuffle: the split (default: seeded permutation, first
      ceil(2/3 N) train, rest test).
    **gbt_kwargs: passed to GradientBoostingClassifier (e.g. n_estimators).

  Returns:
    dict with "disentanglement", "completeness", "informativeness_train",
    "informativeness_test", per-factor test accuracy, "importance" [D, K] and
    "warnings".
  """
  codes = _checks.check_codes(codes, _METRIC)
  labels = _checks.check_labels(labels, codes.shape[0], _METRIC)
  warnings: list[str] = []
  tr, te = _split.train_test_indices(len(codes), num_train=num_train,
                                     num_test=num_test, seed=seed,
                                     shuffle=shuffle, metric=_METRIC)
  keep = _checks.informative_factors(labels[tr], _METRIC, warnings)
  # Trees are invariant to a per-dim rescaling, but sklearn treats features
  # within 1e-7 as constant: z-scores keep tiny-scale codes splittable.
  codes = _checks.standardized(codes)
  r, acc_tr, acc_te = importance_gbt(codes[tr], labels[tr][:, keep], codes[te],
                                     labels[te][:, keep], seed=seed,
                                     **gbt_kwargs)
  k = labels.shape[1]
  r_full = np.zeros((codes.shape[1], k))
  r_full[:, keep] = r
  return {"disentanglement": disentanglement(r),
          "completeness": completeness(r),
          "informativeness_train": float(np.mean(acc_tr)),
          "informativeness_test": float(np.mean(acc_te)),
          "test_accuracy": _checks.per_factor(acc_te, keep, k),
          "importance": r_full.tolist(), "warnings": warnings}
