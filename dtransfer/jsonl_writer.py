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
  """Appends one JSON object per line to ``<workdir>/<name>.jsonl``.

  With ``resume_step`` (a run resuming from the checkpoint of that step) the
  rows a killed run wrote after it are dropped first, since the resumed run
  writes those steps again: one row per step after any number of resumes.
  """

  def __init__(self, workdir: str, name: str = "metrics", resume_step: int | None = None):
    self.path = os.path.join(workdir, f"{name}.jsonl")
    self.enabled = jax.process_index() == 0
    if self.enabled:
      os.makedirs(workdir, exist_ok=True)
      if resume_step is not None:
        truncate_after(self.path, resume_step)

  def write(self, step: int, **values):
    if not self.enabled:
      return
    record = {"step": int(step), "time": time.time()}
    record.update({k: _plain(v) for k, v in values.items()})
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")


def truncate_after(path: str, step: int) -> int:
  """Drops the rows of ``path`` with ``step`` > ``step`` (and torn lines), atomically.

  Returns how many rows were dropped.
  """
  if not os.path.exists(path):
    return 0
  with open(path) as f:
    lines = f.readlines()
  keep = []
  for line in lines:
    try:
      row = json.loads(line)
    except json.JSONDecodeError:
      continue
    if isinstance(row, dict) and int(row.get("step", 0)) <= int(step):
      keep.append(line if line.endswith("\n") else line + "\n")
  if len(keep) != len(lines):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
      f.writelines(keep)
    os.replace(tmp, path)
  return len(lines) - len(keep)


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
