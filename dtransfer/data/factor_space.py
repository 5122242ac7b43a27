"""Factor spaces: named discrete factors of variation and the record index they map to.

Every dataset in dtransfer stores its records in factor order, so record
``i`` has factors ``unravel(i)`` (C order, last factor fastest). This is the
correct mixed-radix decomposition; the authors' ``index_to_factor`` (true
division instead of floor division) is deliberately not reproduced.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class FactorSpace:
  """Names and sizes of the discrete factors of a dataset.

  Attributes:
    names: one name per factor, in storage order.
    sizes: number of values of each factor.
  """

  names: tuple[str, ...]
  sizes: tuple[int, ...]

  def __post_init__(self):
    object.__setattr__(self, "names", tuple(str(n) for n in self.names))
    object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
    if len(self.names) != len(self.sizes):
      raise ValueError(
          f"FactorSpace got {len(self.names)} names {self.names} but "
          f"{len(self.sizes)} sizes {self.sizes}; give one size per name.")
    if len(set(self.names)) != len(self.names):
      raise ValueError(f"FactorSpace factor names repeat: {self.names}.")
    if any(s < 1 for s in self.sizes):
      raise ValueError(f"FactorSpace sizes must be >= 1, got {self.sizes}.")

  @property
  def num_factors(self) -> int:
    return len(self.sizes)

  @property
  def num_records(self) -> int:
    """Number of distinct factor combinations (= records of a full grid)."""
    return int(np.prod(self.sizes, dtype=np.int64))

  def __len__(self) -> int:
    return self.num_records

  def index(self, factors) -> np.ndarray:
    """Record index of each factor row: ``ravel_multi_index`` in C order."""
    factors = self.check(factors)
    return np.ravel_multi_index(tuple(factors.T), self.sizes).astype(np.int64)

  def factors(self, index) -> np.ndarray:
    """Factor rows [N, K] (int64) of the given record indices."""
    index = np.asarray(index, dtype=np.int64)
    if index.size and (index.min() < 0 or index.max() >= self.num_records):
      raise IndexError(
          f"record index out of range [0, {self.num_records}) for factor "
          f"space {dict(zip(self.names, self.sizes))}.")
    return np.stack(np.unravel_index(index, self.sizes), axis=-1).astype(np.int64)

  def check(self, factors) -> np.ndarray:
    """Validates a factor array [N, K] and returns it as int64."""
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != self.num_factors:
      raise ValueError(
          f"expected factors of shape [N, {self.num_factors}] for factors "
          f"{self.names}, got shape {factors.shape}.")
    if factors.size and not np.issubdtype(factors.dtype, np.integer):
      if not np.all(np.equal(np.mod(factors, 1), 0)):
        raise ValueError("factor labels must be integers (class indices), got "
                         f"non-integer values of dtype {factors.dtype}.")
    factors = factors.astype(np.int64)
    if factors.size:
      bad = (factors < 0) | (factors >= np.asarray(self.sizes))
      if bad.any():
        k = int(np.argwhere(bad)[0, 1])
        raise ValueError(
            f"factor '{self.names[k]}' must lie in [0, {self.sizes[k]}), got "
            f"values {np.unique(factors[bad[:, k], k])[:5]}.")
    return factors

  def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
    """Draws n factor rows uniformly from the grid."""
    return self.factors(rng.integers(0, self.num_records, size=n))

  def select(self, names: Sequence[str]) -> "FactorSpace":
    """The sub-space of the named factors (order as given)."""
    missing = [n for n in names if n not in self.names]
    if missing:
      raise KeyError(f"unknown factors {missing}; this space has {self.names}.")
    return FactorSpace(tuple(names),
                       tuple(self.sizes[self.names.index(n)] for n in names))

  def varying(self) -> tuple[int, ...]:
    """Indices of factors with more than one value."""
    return tuple(i for i, s in enumerate(self.sizes) if s > 1)

  def to_dict(self) -> dict:
    return {"names": list(self.names), "sizes": list(self.sizes)}
