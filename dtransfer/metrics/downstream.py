"""Downstream task: how well each factor can be read out of the codes.

Per factor, a classifier is fit on the training split and scored on the test
split (default: seeded permutation, first ceil(2/3 N) train, rest test, which
is the authors' 10,006 / 5,002 for 15,008 samples). Predictors:
- "gbt": ``GradientBoostingClassifier()`` with sklearn defaults (seeded);
- "mlp": ``MLPClassifier(hidden_layer_sizes=(256, 256))``, else defaults, as
  the authors (seeded);
- "logreg": dlib's ``LogisticRegressionCV(Cs=10, cv=KFold(5))``.

Pruned variants use the OMES association (dim per factor, or None):
- "own": factor k is predicted from its own associated dim only;
- "union": every factor is predicted from the union of the selected dims (what
  the authors' ``*_pruned`` ran).
A factor with no selected dim is predicted by the majority training class
(chance level), with a warning; the authors' code crashed there.
"""

from __future__ import annotations

import concurrent.futures
import os
import warnings as _warnings
from typing import Sequence

import numpy as np

from dtransfer.metrics import _checks
from dtransfer.metrics import _split

_METRIC = "downstream"
PREDICTORS = ("gbt", "mlp", "logreg")


def make_predictor(name: str, seed: int = 0, **kwargs):
  """A fresh sklearn classifier by name."""
  if name == "gbt":
    from sklearn.ensemble import GradientBoostingClassifier  # pylint: disable=g-import-not-at-top
    return GradientBoostingClassifier(random_state=seed, **kwargs)
  if name == "mlp":
    from sklearn.neural_network import MLPClassifier  # pylint: disable=g-import-not-at-top
    kwargs.setdefault("hidden_layer_sizes", (256, 256))
    return MLPClassifier(random_state=seed, **kwargs)
  if name == "logreg":
    import inspect  # pylint: disable=g-import-not-at-top
    from sklearn.linear_model import LogisticRegressionCV  # pylint: disable=g-import-not-at-top
    from sklearn.model_selection import KFold  # pylint: disable=g-import-not-at-top
    kwargs.setdefault("Cs", 10)
    kwargs.setdefault("cv", KFold(n_splits=5))
    # Pin dlib's behaviour (L2, accuracy scoring) where newer sklearn
    # versions announce changed defaults.
    params = inspect.signature(LogisticRegressionCV).parameters
    for key, value in (("l1_ratios", (0.0,)), ("scoring", "accuracy"),
                       ("use_legacy_attributes", False)):
      if key in params:
        kwargs.setdefault(key, value)
    return LogisticRegressionCV(**kwargs)
  raise ValueError(f"{_METRIC}: unknown predictor {name!r}; choose one of "
                   f"{PREDICTORS}.")


# Keywords of downstream()/downstream_pruned() themselves, not the classifier's.
SPLIT_KWARGS = frozenset({"num_train", "num_test", "shuffle", "dims", "selection",
                          "omes_kwargs"})


def predictor_accepts(name: str, param: str) -> bool:
  """Whether ``param`` is a keyword of the downstream metric with classifier ``name``.

  Why: ``downstream={...}`` settings go to every downstream metric, and each
  takes the ones it understands (``n_estimators`` reaches GBT, not the MLP).
  """
  return param in SPLIT_KWARGS or param in make_predictor(name).get_params()


def _fit_one(name, seed, kwargs, x_tr, y_tr, x_te, y_te):
  """(train accuracy, test accuracy) of one factor's classifier."""
  if x_tr.shape[1] == 0:
    values, counts = np.unique(y_tr, return_counts=True)
    majority = values[np.argmax(counts)]
    return float(np.mean(y_tr == majority)), float(np.mean(y_te == majority))
  model = make_predictor(name, seed, **kwargs)
  model.fit(x_tr, y_tr)   # ConvergenceWarning silenced by _fit_factors
  return (float(np.mean(model.predict(x_tr) == y_tr)),
          float(np.mean(model.predict(x_te) == y_te)))


def _fit_factors(name, seed, kwargs, factors, data, labels):
  """[(train, test accuracy)] of one classifier per factor, fitted in threads.

  Why threads: sklearn's tree builders release the GIL, so the per-factor GBT
  fits (independent, each seeded) use every core; results are those of a
  serial loop. Factors with more classes (more trees per boosting stage) start
  first. The MLP and logistic regression already use every core through BLAS,
  and threads around them only oversubscribe, so they run one after another.
  """
  from sklearn.exceptions import ConvergenceWarning  # pylint: disable=g-import-not-at-top
  factors = list(factors)
  workers = min(len(factors), os.cpu_count() or 1) if name == "gbt" else 1
  # warnings filters are process-global: set once here, not in each thread.
  with _warnings.catch_warnings():
    _warnings.simplefilter("ignore", ConvergenceWarning)
    if workers <= 1:
      return [_fit_one(name, seed, kwargs, *data(k)) for k in factors]
    order = sorted(factors, key=lambda k: -int(labels[:, k].max()))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
      done = dict(zip(order, pool.map(lambda k: _fit_one(name, seed, kwargs, *data(k)),
                                      order)))
  return [done[k] for k in factors]


def _summary(acc_tr, acc_te, keep, k, prefix=""):
  return {f"{prefix}mean_train_accuracy": float(np.mean(acc_tr)),
          f"{prefix}mean_test_accuracy": float(np.mean(acc_te)),
          f"{prefix}min_test_accuracy": float(np.min(acc_te)),
          f"{prefix}test_accuracy": _checks.per_factor(acc_te, keep, k),
          f"{prefix}train_accuracy": _checks.per_factor(acc_tr, keep, k)}


def _prepare(codes, labels, seed, num_train, num_test, shuffle, metric):
  codes = _checks.check_codes(codes, metric)
  labels = _checks.check_labels(labels, codes.shape[0], metric)
  tr, te = _split.train_test_indices(len(codes), num_train=num_train,
                                     num_test=num_test, seed=seed,
                                     shuffle=shuffle, metric=metric)
  warnings: list[str] = []
  keep = _checks.informative_factors(labels[tr], metric, warnings)
  return codes, labels, tr, te, keep, warnings


def _features(codes, predictor, metric, warnings):
  """What the classifiers see: z-scores for trees (invariant to a per-dim
  rescaling, but sklearn treats features within 1e-7 as constant), the codes
  as given for the MLP and logistic regression (scale-dependent by
  definition), with a warning when their scale is far from order 1."""
  if predictor == "gbt":
    return _checks.standardized(codes)
  _checks.scale_warning(codes, metric, warnings)
  return codes


def downstream(codes, labels, *, predictor: str = "gbt", seed: int = 0,
               num_train: int | None = None, num_test: int | None = None,
               shuffle: bool = True, dims: Sequence[int] | None = None,
               **predictor_kwargs) -> dict:
  """Per-factor accuracy of a classifier on all codes (or on `dims`).

  Args:
    codes: representation sample [N, D].
    labels: integer factor labels [N, K].
    predictor: "gbt", "mlp" or "logreg".
    seed: seeds the split and the classifier.
    num_train, num_test, shuffle: the split.
    dims: restrict every classifier to these dims (None: all).
    **predictor_kwargs: passed to the sklearn classifier.

  Returns:
    dict with "mean_test_accuracy", "min_test_accuracy",
    "mean_train_accuracy", per-factor "test_accuracy" and "train_accuracy",
    "num_train", "num_test", "warnings".
  """
  metric = predictor
  codes, labels, tr, te, keep, warnings = _prepare(
      codes, labels, seed, num_train, num_test, shuffle, metric)
  cols = np.arange(codes.shape[1]) if dims is None else np.asarray(dims, int)
  codes = _features(codes, predictor, metric, warnings)
  fits = _fit_factors(predictor, seed, predictor_kwargs, keep,
                      lambda k: (codes[tr][:, cols], labels[tr, k], codes[te][:, cols],
                                 labels[te, k]), labels)
  acc_tr, acc_te = [a for a, _ in fits], [b for _, b in fits]
  out = _summary(acc_tr, acc_te, keep, labels.shape[1])
  out.update(num_train=len(tr), num_test=len(te), warnings=warnings)
  return out


def downstream_pruned(codes, labels, *, association=None,
                      predictor: str = "gbt", seed: int = 0,
                      selection: Sequence[str] = ("own", "union"),
                      num_train: int | None = None,
                      num_test: int | None = None, shuffle: bool = True,
                      omes_kwargs: dict | None = None,
                      **predictor_kwargs) -> dict:
  """Downstream accuracy on the OMES-selected dims.

  Args:
    codes: representation sample [N, D].
    labels: integer factor labels [N, K].
    association: per factor, the OMES-associated dim (original numbering) or
      None; computed with ``omes(codes, labels, seed=seed, **omes_kwargs)`` if
      not given.
    predictor: "gbt", "mlp" or "logreg".
    seed: seeds the split and the classifiers.
    selection: any of "own" (each factor its own dim) and "union" (all factors
      the union of selected dims).
    num_train, num_test, shuffle: the split.
    omes_kwargs: passed to omes when association is None.
    **predictor_kwargs: passed to the sklearn classifier.

  Returns:
    dict with, for each selection s, "{s}_mean_test_accuracy",
    "{s}_min_test_accuracy", "{s}_mean_train_accuracy", "{s}_test_accuracy"
    (per factor), "{s}_train_accuracy"; "association" (the dims used by
    "own"), "union_dims", "warnings".
  """
  metric = f"{predictor}_pruned"
  for s in selection:
    if s not in ("own", "union"):
      raise ValueError(f"{metric}: selection must hold 'own' and/or 'union', "
                       f"got {s!r}.")
  codes, labels, tr, te, keep, warnings = _prepare(
      codes, labels, seed, num_train, num_test, shuffle, metric)
  num_factors = labels.shape[1]
  if association is None:
    from dtransfer.metrics import omes as omes_lib  # pylint: disable=g-import-not-at-top
    try:
      association = omes_lib.omes(codes, labels, seed=seed,
                                  **(omes_kwargs or {}))["association"]
    except ValueError as e:  # name the metric called, not only the one inside
      raise ValueError(f"{metric}: computing the OMES association failed: {e}") from e
  association = list(association)
  if len(association) != num_factors:
    raise ValueError(f"{metric}: association has {len(association)} entries "
                     f"for {num_factors} factors.")
  for a in association:
    if a is not None and not 0 <= int(a) < codes.shape[1]:
      raise ValueError(f"{metric}: associated dim {a} is out of range for "
                       f"{codes.shape[1]} code dims.")
  union = sorted({int(a) for a in association if a is not None})
  out = {"association": [None if a is None else int(a) for a in association],
         "union_dims": union}
  for k in keep:
    if association[k] is None:
      warnings.append(f"factor {k} has no OMES-associated dim; its 'own' "
                      "classifier predicts the majority training class.")
  if not union:
    warnings.append("no factor has an associated dim; every classifier "
                    "predicts the majority training class.")
  codes = _features(codes, predictor, metric, warnings)
  for s in selection:

    def data(k, s=s):
      if s == "own":
        cols = [] if association[k] is None else [int(association[k])]
      else:
        cols = union
      return codes[tr][:, cols], labels[tr, k], codes[te][:, cols], labels[te, k]

    fits = _fit_factors(predictor, seed, predictor_kwargs, keep, data, labels)
    acc_tr, acc_te = [a for a, _ in fits], [b for _, b in fits]
    out.update(_summary(acc_tr, acc_te, keep, num_factors, prefix=f"{s}_"))
  out.update(num_train=len(tr), num_test=len(te), warnings=warnings)
  return out
