"""The bad-input grid over every metric (not a test module; used by
fault_metrics_test.py and runnable as a script for the before/after counts).

Each case changes a clean sample (codes that encode two factors, plus noise
dims) and each metric is called on it. Outcomes:

  valid          a result with no NaN/inf, and for a rescaled or shifted copy
                 of the codes the clean headline value (or a warning)
  clear error    a ValueError whose message names the metric called
  silent         NaN/inf, or a changed headline, with no warning
  crash          any other exception, or an error that names another metric

  python -m tests.metrics_bad_input          # prints the counts and the bad calls
"""

from __future__ import annotations

import math
import sys

import numpy as np

from dtransfer import metrics

N = 400
SMALL = {
    "beta_vae": dict(num_train=200, num_eval=100, batch_size=16),
    "factor_vae": dict(num_train=200, num_eval=100, batch_size=16),
    "dci": dict(n_estimators=10),
    "gbt": dict(n_estimators=10),
    "gbt_pruned": dict(n_estimators=10),
    "modularity": dict(with_explicitness=False),
    "omes": dict(),
}
# Metrics whose definition does not change with a per-dim rescaling or shift.
SCALE_INVARIANT = {"omes", "mig", "dci", "sap", "modularity", "beta_vae", "factor_vae",
                   "irs", "gbt", "gbt_pruned", "unsupervised"}


def clean(seed=0, n=N):
  rng = np.random.default_rng(seed)
  labels = np.stack([rng.integers(0, 4, n), rng.integers(0, 5, n)], 1)
  codes = np.concatenate([labels / [3.0, 4.0] + 0.05 * rng.normal(size=(n, 2)),
                          rng.normal(size=(n, 2))], 1).astype(np.float32)
  return codes, labels


def _const(codes, value, dim=3):
  c = codes.copy()
  c[:, dim] = value
  return c


def cases(n=N):
  """(name, codes, labels, kind): kind 'same' expects the clean headline."""
  c, l = clean(n=n)
  out = [("clean", c, l, "same")]
  for s in (1e30, 1e10, 1e-10, 1e-30):
    out.append((f"codes x {s:g}", (c.astype(np.float64) * s).astype(np.float32), l, "same"))
  out.append(("codes + 1e6", c + np.float32(1e6), l, "any"))
  for v in (0.0, 0.7, 1e5):
    out.append((f"dim 3 constant at {v:g}", _const(c, v), l, "any"))
  out += [
      ("every dim constant", np.full_like(c, 0.7), l, "any"),
      ("a NaN", np.where(np.arange(n)[:, None] == 5, np.nan, c), l, "any"),
      ("an inf", np.where(np.arange(n)[:, None] == 5, np.inf, c), l, "any"),
      ("codes 1-D", c[:, 0], l, "any"),
      ("codes 3-D", c[:, :, None], l, "any"),
      ("one sample", c[:1], l[:1], "any"),
      ("labels of another length", c, l[:-3], "any"),
      ("float labels 0.5", c, l + 0.5, "any"),
      ("factor 1 single-valued", c, np.stack([l[:, 0], np.zeros(n, int)], 1), "any"),
      ("every factor single-valued", c, np.zeros_like(l), "any"),
      ("string labels", c, l.astype(str), "any"),
      ("codes as strings", c.astype(str), l, "any"),
      ("float64 codes", c.astype(np.float64), l, "same"),
  ]
  return out


def _numbers(obj):
  if isinstance(obj, dict):
    for v in obj.values():
      yield from _numbers(v)
  elif isinstance(obj, (list, tuple)):
    for v in obj:
      yield from _numbers(v)
  elif isinstance(obj, (float, np.floating)):
    yield float(obj)


def _headline(name, r):
  return r.get(metrics.HEADLINE[name])


def classify(name, result, error, baseline, kind):
  if error is not None:
    msg = str(error)
    others = [m for m in metrics.METRICS if m != name and msg.startswith(m + ":")]
    if isinstance(error, ValueError) and name in msg and not others:
      return "clear error", msg.splitlines()[0][:160]
    return "crash", f"{type(error).__name__}: {msg.splitlines()[0][:160] if msg else ''}"
  warned = bool(result.get("warnings"))
  bad = [x for x in _numbers(result) if not math.isfinite(x)]
  if bad and not warned:
    return "silent", f"{len(bad)} non-finite values, no warning"
  if kind == "same" and baseline is not None:
    h, b = _headline(name, result), _headline(name, baseline)
    if h is not None and b is not None and abs(h - b) > 1e-3 and not warned:
      if name in SCALE_INVARIANT:
        return "silent", f"headline {b:.4g} -> {h:.4g}, no warning"
      return "silent", f"headline {b:.4g} -> {h:.4g} (not scale-invariant), no warning"
  return "valid", ""


def run(names=None, n=N):
  rows = []
  names = list(names or metrics.METRICS)
  grid = cases(n)
  for name in names:
    fn = metrics.METRICS[name]
    baseline = None
    for case, codes, labels, kind in grid:
      try:
        result, error = fn(codes, labels, seed=0, **SMALL.get(name, {})), None
      except Exception as e:  # pylint: disable=broad-except
        result, error = None, e
      if case == "clean":
        baseline = result
      outcome, detail = classify(name, result, error, baseline, kind)
      rows.append((name, case, outcome, detail))
  # The registry's own entry point: a string of names must not split into letters.
  c, l = clean()
  try:
    r = metrics.evaluate(c, l, "omes,mig")
    rows.append(("evaluate", "metrics as one string",
                 "valid" if set(r) == {"omes", "mig"} else "silent", sorted(r)))
  except ValueError as e:
    rows.append(("evaluate", "metrics as one string", "crash", str(e)[:160]))
  return rows


def main():
  import threadpoolctl  # pylint: disable=g-import-not-at-top
  with threadpoolctl.threadpool_limits(1):
    rows = run(sys.argv[1:] or None)
  counts = {}
  for _, _, outcome, _ in rows:
    counts[outcome] = counts.get(outcome, 0) + 1
  print(f"{len(rows)} calls: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
  for name, case, outcome, detail in rows:
    if outcome in ("silent", "crash"):
      print(f"  {outcome:6s} {name:13s} {case:28s} {detail}")


if __name__ == "__main__":
  main()
