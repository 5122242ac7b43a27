"""Figures of metric results (matplotlib, loaded only when a figure is drawn)."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np


def pyplot():
  """matplotlib.pyplot on the Agg backend, imported on first use (figures are
  drawn on machines without a display, and importing matplotlib is slow)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg", force=False)
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def save_association_heatmap(s, path: str,
                             factor_names: Sequence[str] | None = None,
                             title: str | None = None) -> str:
  """Saves the OMES association matrix S [D, K] as an annotated heatmap.

  Rows are latent dims, columns factors; values lie in [0, 1] (1: the dim
  de-correlates when the factor is intervened on, i.e. encodes it).

  Args:
    s: association matrix [D, K].
    path: output image path (format from the extension, e.g. .png).
    factor_names: K column labels (default f0, f1, ...).
    title: figure title.

  Returns:
    The path written.
  """
  plt = pyplot()
  s = np.asarray(s, dtype=np.float64)
  if s.ndim != 2:
    raise ValueError(f"save_association_heatmap: S must be [D, K], got shape "
                     f"{s.shape}.")
  d, k = s.shape
  names = list(factor_names) if factor_names is not None else [
      f"f{j}" for j in range(k)]
  if len(names) != k:
    raise ValueError(f"save_association_heatmap: {len(names)} factor names for "
                     f"{k} columns.")
  fig, ax = plt.subplots(figsize=(1.0 + 0.9 * k, 1.0 + 0.45 * max(d, 1)))
  try:
    im = ax.imshow(s, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(d), [f"z{i}" for i in range(d)])
    ax.set_xlabel("factor")
    ax.set_ylabel("latent dim")
    for i in range(d):
      for j in range(k):
        ax.text(j, i, f"{s[i, j]:.2f}", ha="center", va="center", fontsize=7,
                color="black" if s[i, j] > 0.5 else "white")
    fig.colorbar(im, ax=ax, label="S = 1 - |corr|")
    if title:
      ax.set_title(title)
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=120)
  finally:
    plt.close(fig)
  return path
