"""Per-row random streams: noise that does not depend on how a batch is split.

A stochastic dataset variant (Noisy-dSprites' background, dlib's random
colours) draws from the ``rng`` its ``images()`` call is given. With one
Generator per call, row r's noise depends on which rows came before it in
the call, so a batch read by two hosts (each its half) differed from the
same batch read by one. ``RowStreams`` gives row r of a batch its own
stream keyed ``(*key, row_id[r])``: the images of a global row are the same
whichever host reads it and whatever else that host reads.

It offers the Generator methods the variants use (``integers``,
``uniform``, ``random``), each with ``size[0]`` equal to the number of rows.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


class RowStreams:
  """Draws whose row r comes from ``np.random.default_rng([*key, rows[r]])``."""

  def __init__(self, key: Sequence[int], rows):
    self.key = [int(k) for k in key]
    self.rows = np.asarray(rows, np.int64).reshape(-1)

  def __len__(self) -> int:
    return len(self.rows)

  def _each(self, size, draw, dtype):
    size = (size,) if np.isscalar(size) else tuple(size)
    if not size or size[0] != len(self.rows):
      raise ValueError(f"RowStreams for {len(self.rows)} rows asked for a draw "
                       f"of size {size}; the first dimension must be the rows.")
    if not len(self.rows):
      return np.empty(size, dtype)
    return np.stack([draw(np.random.default_rng([*self.key, int(r)]), size[1:])
                     for r in self.rows])

  def integers(self, low, high=None, size=None, dtype=np.int64):
    return self._each(size, lambda g, s: g.integers(low, high, s, dtype=dtype),
                      dtype)

  def uniform(self, low=0.0, high=1.0, size=None):
    return self._each(size, lambda g, s: g.uniform(low, high, s), np.float64)

  def random(self, size=None, dtype=np.float64):
    return self._each(size, lambda g, s: g.random(s, dtype=dtype), dtype)
