"""JSON-lines metrics (big_vision style, process 0 only)."""

from __future__ import annotations

import json
import os
import time

import jax
import numpy as np

from dtransfer import console


def _plain(v):
  if isinstance(v, (np.generic, np.ndarray)) or hasattr(v, "shape"):
    v = np.asarray(v)
    return v.item() if v.ndim == 0 else v.tolist()
  return v


class MetricWriter:
  """Appends one JSON object per line to ``<workdir>/<name>.jsonl``."""

  def __init__(self, workdir: str, name: str = "metrics"):
    self.path = os.path.join(workdir, f"{name}.jsonl")
    self.enabled = jax.process_index() == 0
    if self.enabled:
      os.makedirs(workdir, exist_ok=True)

  def write(self, step: int, **values):
    if not self.enabled:
      return
    record = {"step": int(step), "time": time.time()}
    record.update({k: _plain(v) for k, v in values.items()})
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")


def read(path: str) -> list[dict]:
  """Reads a JSON-lines file back (skips a torn last line of a killed run)."""
  out = []
  with open(path) as f:
    for line in f:
      try:
        out.append(json.loads(line))
      except json.JSONDecodeError:
        pass
  return out


# Progress lines (steps/s, ETA, loss terms) live in dtransfer.console; the old
# name is kept for callers of this module.
Progress = console.TrainProgress
