"""Training curves from ``metrics.jsonl``: the loss terms against the step, as a PNG."""

from __future__ import annotations

import math
import os

from dtransfer import jsonl_writer
from dtransfer.metrics import plots

# Terms drawn when a run logged them (the VAEs' loss, reconstruction, KL).
TERMS = ("loss", "recon", "kl")


def read_curves(path: str, terms=TERMS) -> dict[str, tuple[list, list]]:
  """``{term: (steps, values)}`` of the finite values in a metrics.jsonl."""
  curves = {}
  for rec in jsonl_writer.read(path):
    for k in terms:
      v = rec.get(k)
      if isinstance(v, (int, float)) and math.isfinite(v):
        steps, values = curves.setdefault(k, ([], []))
        steps.append(rec["step"])
        values.append(float(v))
  return curves


def save_loss_curves(runs: dict[str, str], path: str, terms=TERMS) -> str | None:
  """One panel per run (``{title: metrics.jsonl path}``), one line per term.

  Returns the path written, or None when no run has logged anything yet.
  A log scale is used where every value is positive (the KL is orders of
  magnitude below the reconstruction term).
  """
  data = {title: read_curves(p, terms) for title, p in runs.items() if os.path.exists(p)}
  data = {t: c for t, c in data.items() if c}
  if not data:
    return None
  plt = plots.pyplot()
  fig, axes = plt.subplots(1, len(data), figsize=(5.0 * len(data), 3.4), squeeze=False)
  try:
    for ax, (title, curves) in zip(axes[0], data.items()):
      positive = all(v > 0 for _, vals in curves.values() for v in vals)
      for term, (steps, values) in curves.items():
        # the loss (often recon + a small KL) dashed on top, so both stay visible
        style = {"color": "black", "ls": "--", "lw": 1, "zorder": 3} if term == "loss" else {}
        ax.plot(steps, values, label=term, marker="." if len(steps) < 20 else None, **style)
      if positive:
        ax.set_yscale("log")
      ax.set_title(title, fontsize=10)
      ax.set_xlabel("step")
      ax.grid(alpha=0.3)
      ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
  finally:
    plt.close(fig)
  return path
