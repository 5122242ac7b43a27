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
                             title: str | None = None,
                             inactive_dims: Sequence[int] | None = None,
                             excluded_factors: Sequence[int] | None = None) -> str:
  """Saves the OMES association matrix S [D, K] as an annotated heatmap.

  Rows are latent dims, columns factors; values lie in [0, 1] (1: the dim
  de-correlates when the factor is intervened on, i.e. encodes it).
  Inactive dims (pruned before scoring) and excluded factors (too few
  intervention pairs) are hatched and labelled: their S values, however large,
  do not count in OMES (an untrained network's near-constant dims can show
  large S from noise).

  Args:
    s: association matrix [D, K].
    path: output image path (format from the extension, e.g. .png).
    factor_names: K column labels (default f0, f1, ...).
    title: figure title.
    inactive_dims: row indices to mark as inactive (OMES result "inactive").
    excluded_factors: column indices to mark as excluded ("excluded_factors").

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
  inactive = sorted({int(i) for i in (inactive_dims or ()) if 0 <= int(i) < d})
  excluded = sorted({int(j) for j in (excluded_factors or ()) if 0 <= int(j) < k})
  fig, ax = plt.subplots(figsize=(1.6 + 0.9 * k, 1.3 + 0.45 * max(d, 1)))
  try:
    im = ax.imshow(s, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    ax.set_xticks(range(k), [f"{n}\n(excluded)" if j in excluded else n
                             for j, n in enumerate(names)], rotation=45, ha="right")
    ax.set_yticks(range(d), [f"z{i} (inactive)" if i in inactive else f"z{i}"
                             for i in range(d)])
    for i in inactive:
      ax.add_patch(plt.Rectangle((-0.5, i - 0.5), k, 1, fill=True, facecolor="white",
                                 alpha=0.55, hatch="//", edgecolor="grey", lw=0))
    for j in excluded:
      ax.add_patch(plt.Rectangle((j - 0.5, -0.5), 1, d, fill=True, facecolor="white",
                                 alpha=0.55, hatch="\\\\", edgecolor="grey", lw=0))
    ax.set_xlabel("factor")
    ax.set_ylabel("latent dim")
    for i in range(d):
      for j in range(k):
        ax.text(j, i, f"{s[i, j]:.2f}", ha="center", va="center", fontsize=7,
                color="black" if s[i, j] > 0.5 else "white")
    fig.colorbar(im, ax=ax, label="S = 1 - |corr|")
    if inactive or excluded:
      note = ", ".join(p for p in (f"{len(inactive)}/{d} dims inactive" if inactive else "",
                                   f"{len(excluded)}/{k} factors excluded" if excluded else "")
                       if p)
      title = f"{title}\n({note}: hatched, not scored)" if title else \
          f"{note}: hatched, not scored"
    if title:
      ax.set_title(title, fontsize=9)
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(path, dpi=120)
  finally:
    plt.close(fig)
  return path
