"""Disentanglement metrics: arrays in, numbers out.

Every metric is a function of a representation sample ``codes`` [N, D] and its
integer factor labels ``labels`` [N, K] (numpy or jax arrays), returning a dict
of Python numbers and lists (OMES also returns its matrices as arrays):

  from dtransfer.metrics.omes import omes
  omes(codes, labels)["omes"]

  from dtransfer import metrics
  metrics.evaluate(codes, labels, ["omes", "mig", "dci"], seed=0)

Importing this package is light: metric modules (and scikit-learn) load on
first use. ``METRICS`` maps names to ``fn(codes, labels, *, seed, **kw)``;
``HEADLINE`` names each result's main number. Modules: omes, mig, dci, sap,
modularity, beta_vae, factor_vae, irs, unsupervised, downstream, plots.
"""

from __future__ import annotations

import importlib
import time
from typing import Callable, Sequence


_DOWNSTREAM = ("gbt", "mlp", "logreg", "gbt_pruned", "mlp_pruned")


def _lazy(module: str, function: str, name: str, **fixed) -> Callable:
  """A registry entry that imports its module on first call."""

  def call(codes, labels, *, seed: int = 0, **kwargs) -> dict:
    fn = getattr(importlib.import_module(f"dtransfer.metrics.{module}"),
                 function)
    return fn(codes, labels, seed=seed, **fixed, **kwargs)

  call.__name__ = name
  call.__qualname__ = name
  fixed_txt = ", ".join(f"{k}={v!r}" for k, v in fixed.items())
  call.__doc__ = (f"dtransfer.metrics.{module}.{function}(codes, labels, "
                  f"seed=seed{', ' + fixed_txt if fixed_txt else ''}, **kwargs)")
  return call


METRICS: dict[str, Callable[..., dict]] = {
    "omes": _lazy("omes", "omes", "omes"),
    "mig": _lazy("mig", "mig", "mig"),
    "dci": _lazy("dci", "dci", "dci"),
    "sap": _lazy("sap", "sap", "sap"),
    "modularity": _lazy("modularity", "modularity", "modularity"),
    "beta_vae": _lazy("beta_vae", "beta_vae", "beta_vae"),
    "factor_vae": _lazy("factor_vae", "factor_vae", "factor_vae"),
    "irs": _lazy("irs", "irs", "irs"),
    "unsupervised": _lazy("unsupervised", "unsupervised", "unsupervised"),
    "gbt": _lazy("downstream", "downstream", "gbt", predictor="gbt"),
    "mlp": _lazy("downstream", "downstream", "mlp", predictor="mlp"),
    "logreg": _lazy("downstream", "downstream", "logreg", predictor="logreg"),
    "gbt_pruned": _lazy("downstream", "downstream_pruned", "gbt_pruned",
                        predictor="gbt"),
    "mlp_pruned": _lazy("downstream", "downstream_pruned", "mlp_pruned",
                        predictor="mlp"),
}

HEADLINE = {
    "omes": "omes", "mig": "mig", "dci": "disentanglement", "sap": "sap",
    "modularity": "modularity", "beta_vae": "eval_accuracy",
    "factor_vae": "eval_accuracy", "irs": "irs",
    "unsupervised": "gaussian_total_correlation",
    "gbt": "mean_test_accuracy", "mlp": "mean_test_accuracy",
    "logreg": "mean_test_accuracy", "gbt_pruned": "union_mean_test_accuracy",
    "mlp_pruned": "union_mean_test_accuracy",
}

# The authors' evaluation list (eval_representation.py), OMES first.
DEFAULT_METRICS = ("omes", "mig", "dci", "beta_vae", "factor_vae", "gbt", "mlp",
                   "gbt_pruned", "mlp_pruned")


def _route_kwargs(names: Sequence[str], kw: dict) -> dict[str, dict]:
  """Per-metric kwargs from `name={...}`, `downstream={...}` or `name_param=v`."""
  routed = {n: {} for n in METRICS}
  prefixes = sorted(list(METRICS) + ["downstream"], key=len, reverse=True)
  group, specific = {}, {}
  for key, value in kw.items():
    if key in METRICS or key == "downstream":
      if not isinstance(value, dict):
        raise ValueError(f"evaluate: {key}= must be a dict of that metric's "
                         f"keyword arguments, got {type(value).__name__}.")
      (group if key == "downstream" else specific).setdefault(key, {}).update(
          value)
      continue
    prefix = next((p for p in prefixes if key.startswith(p + "_")), None)
    if prefix is None:
      raise ValueError(
          f"evaluate: cannot route keyword {key!r}. Pass metric kwargs as "
          "name={...} (e.g. dci={'n_estimators': 20}), downstream={...} for "
          "every downstream metric, or <name>_<param>=value (e.g. "
          f"downstream_num_train=3000). Metric names: {sorted(METRICS)}.")
    param = key[len(prefix) + 1:]
    target = group if prefix == "downstream" else specific
    target.setdefault(prefix, {})[param] = value
  if group.get("downstream"):
    from dtransfer.metrics import downstream  # pylint: disable=g-import-not-at-top
    unknown = [p for p in group["downstream"]
               if not any(downstream.predictor_accepts(x, p) for x in downstream.PREDICTORS)]
    if unknown:
      raise ValueError(f"evaluate: downstream keyword(s) {unknown} fit none of the "
                       f"downstream classifiers {downstream.PREDICTORS} nor the split "
                       f"({sorted(downstream.SPLIT_KWARGS)}); check the spelling.")
    for n in set(_DOWNSTREAM) & set(names):
      predictor = n.split("_")[0]
      routed[n].update({p: v for p, v in group["downstream"].items()
                        if downstream.predictor_accepts(predictor, p)})
  for n, params in specific.items():
    routed[n].update(params)
  return {n: routed[n] for n in set(names) | {"omes"}}


def evaluate(codes, labels, metrics: Sequence[str] = DEFAULT_METRICS,
             seed: int = 0, progress=None, **kw) -> dict:
  """Runs several metrics on one sample; {name: result dict}.

  Pruned downstream metrics get the OMES association: from the "omes" result
  when requested (computed first), else from an OMES run with the same seed
  and the omes kwargs.

  Args:
    codes: representation sample [N, D].
    labels: integer factor labels [N, K].
    metrics: names from METRICS.
    seed: passed to every metric.
    progress: optional ``(name, i, n, seconds)`` callback after each metric.
    **kw: per-metric keyword arguments, as `name={...}`, `downstream={...}`
      (all downstream metrics) or flat `<name>_<param>=value`.

  Returns:
    dict name -> that metric's result dict.
  """
  from dtransfer.metrics import _checks  # pylint: disable=g-import-not-at-top
  if isinstance(metrics, str):  # "omes,mig" (as on the command line), not letters
    metrics = [m.strip() for m in metrics.split(",") if m.strip()]
  metrics = list(metrics)
  unknown = [m for m in metrics if m not in METRICS]
  if unknown:
    raise ValueError(f"evaluate: unknown metrics {unknown}; choose from "
                     f"{sorted(METRICS)}.")
  where = f"evaluate({', '.join(metrics)})"
  codes = _checks.check_codes(codes, where)
  if metrics != ["unsupervised"]:
    _checks.check_labels(labels, codes.shape[0], where)
  kwargs = _route_kwargs(metrics, kw)
  ordered = sorted(metrics, key=lambda m: m != "omes")
  results, association = {}, None
  for name in ordered:
    args = dict(kwargs[name])
    if name.endswith("_pruned") and "association" not in args:
      if association is None:
        omes_result = results.get("omes") or METRICS["omes"](
            codes, labels, seed=seed, **kwargs["omes"])
        association = omes_result["association"]
      args["association"] = association
    started = time.perf_counter()
    results[name] = METRICS[name](codes, labels, seed=seed, **args)
    if progress is not None:
      progress(name, len(results), len(ordered), time.perf_counter() - started)
  return {name: results[name] for name in metrics}


__all__ = ["METRICS", "HEADLINE", "DEFAULT_METRICS", "evaluate"]
