"""Fabricated study results: the files a finished run leaves, with chosen numbers."""

import json
import os

import numpy as np


def _mean(v):
  return float(np.mean(v))


def results(gbt, gbt_pruned=None, os_=None, mes=None, grid=None, dci=None, mig=None):
  """A results.json dict (dtransfer.evaluate) holding only the given metrics."""
  r = {"gbt": {"test_accuracy": list(gbt), "mean_test_accuracy": _mean(gbt)}}
  if gbt_pruned is not None:
    r["gbt_pruned"] = {"union_test_accuracy": list(gbt_pruned),
                       "union_mean_test_accuracy": _mean(gbt_pruned)}
  if os_ is not None:
    k = len(os_)
    grid = grid or {}
    r["omes"] = {
        "os": list(os_), "mes": list(mes),
        "score": [(o + m) / 2 for o, m in zip(os_, mes)],
        "S": np.eye(3, k).tolist(),
        "grid": {"avg": {f"{a / 10:.1f}": grid.get(a / 10, (1 - a / 10) * _mean(mes)
                                                     + a / 10 * _mean(os_))
                         for a in range(11)},
                 "max": {f"{a / 10:.1f}": 0.0 for a in range(11)}}}
  if dci is not None:
    r["dci"] = {"disentanglement": dci}
  if mig is not None:
    r["mig"] = {"mig": _mean(mig), "gap": list(mig)}
  return r


def write_run(root, spec, before, after, factor_names=("a", "b"), dist=None):
  """Writes a finished run of ``spec`` (dtransfer.study layout) with these results."""
  from dtransfer import study  # pylint: disable=g-import-not-at-top
  rdir = study.run_dir(root, spec)
  for sub, res in (("transfer/before", before), ("transfer/after/eval", after)):
    os.makedirs(os.path.join(rdir, sub), exist_ok=True)
    with open(os.path.join(rdir, sub, "results.json"), "w") as f:
      json.dump(res, f)
  if dist is not None:
    with open(os.path.join(rdir, "distances.json"), "w") as f:
      json.dump(dist, f)
  study.write_json(os.path.join(rdir, "done.json"), {
      "run_id": spec.id, "pair": spec.pair, "source": spec.source, "target": spec.target,
      "beta": spec.beta, "seed": spec.seed, "factor_names": list(factor_names)})
  return rdir
