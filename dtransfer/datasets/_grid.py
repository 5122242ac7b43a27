"""Put the rows of an original file into factor order (record i = unravel(i)).

Original files list their images in some order with per-row factor labels.
dtransfer stores records in C order over the factor grid, so readers map
rows to grid cells here, once, and refuse files that do not cover a
complete grid (a truncated or mixed-up download) with a clear error.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dtransfer.data.factor_space import FactorSpace


def encode_columns(values: np.ndarray) -> np.ndarray:
  """Per column, the rank of each value among the column's distinct values
  (sklearn LabelEncoder, column by column)."""
  values = np.asarray(values)
  return np.stack([np.unique(values[:, k], return_inverse=True)[1].reshape(-1)
                   for k in range(values.shape[1])], -1).astype(np.int64)


class LabelGrid:
  """Rows of class labels [N, K] mapped onto a complete grid in C order.

  The grid is spanned by the label values present, so a file holding a
  sub-grid (tests) gives a smaller space; ``factors`` keeps the labels as
  given.

  Attributes:
    space: FactorSpace over the values present.
    values: per factor, the sorted label values present.
    order: file row of each record.
    factors: labels [N, K] of each record (record order).
  """

  def __init__(self, labels, names: Sequence[str], what: str = "the file"):
    labels = np.asarray(labels, np.int64)
    if labels.ndim != 2 or labels.shape[1] != len(names):
      raise ValueError(f"{what}: expected labels [N, {len(names)}] for factors "
                       f"{tuple(names)}, got shape {labels.shape}.")
    self.values = [np.unique(labels[:, k]) for k in range(len(names))]
    self.space = FactorSpace(names, tuple(len(v) for v in self.values))
    local = np.stack([np.searchsorted(v, labels[:, k])
                      for k, v in enumerate(self.values)], -1)
    rec = self.space.index(local)
    if len(labels) != self.space.num_records or (
        len(np.unique(rec)) != len(rec)):
      raise ValueError(
          f"{what} has {len(labels)} rows that do not cover the factor grid "
          f"{dict(zip(names, self.space.sizes))} exactly once "
          f"({len(np.unique(rec))} distinct cells): it is incomplete or "
          "corrupt; download it again.")
    self.order = np.empty(len(rec), np.int64)
    self.order[rec] = np.arange(len(rec))
    self.factors = labels[self.order]

  @property
  def in_order(self) -> bool:
    """True if the file's rows already are in factor order."""
    return bool(np.array_equal(self.order, np.arange(len(self.order))))
