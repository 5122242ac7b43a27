"""Weak pairs: two images that differ in exactly k factors of variation.

Batch ``i`` of a pair source is a pure function of ``(seed, i)``, so any batch
can be rebuilt at random: a resumed run reads exactly the batches an
uninterrupted one would, and each host can build only its own slice.
"""

from __future__ import annotations

import numpy as np

from dtransfer.data.factor_space import FactorSpace

PAIR_MODES = ("exact", "dlib")


def sample_weak_factors(space: FactorSpace, rng: np.random.Generator, n: int, k: int = 1,
                        mode: str = "exact"):
  """Factor rows of n weak pairs and the index of a changed factor.

  Args:
    space: the factor space.
    rng: numpy Generator.
    n: number of pairs.
    k: factors to change per pair; -1 draws k uniformly in [1, K-1] per pair.
    mode: "exact": exactly k distinct factors with more than one value change,
      each to a value different from its old one (the default, what the paper
      describes). "dlib": disentanglement_lib's sampler: ``choice([1, k])``
      factors change, drawn among all factors, new values uniform so they may
      repeat the old value.

  Returns:
    (f1 [n, K], f2 [n, K], label [n]) with label the index (into the space's
    factors) of the last changed factor, as disentanglement_lib reports it.
  """
  if mode not in PAIR_MODES:
    raise ValueError(f"unknown pair mode '{mode}'; choose one of {PAIR_MODES}.")
  sizes = np.asarray(space.sizes)
  varying = np.asarray(space.varying())
  num_k = space.num_factors if mode == "dlib" else len(varying)
  if num_k == 0:
    raise ValueError(f"factor space {space.names} has no factor with more than "
                     "one value, so no weak pair can differ in a factor.")
  if k == -1:
    ks = rng.integers(1, max(num_k, 2), size=n)
  else:
    if not 1 <= k <= num_k:
      raise ValueError(f"k={k} factors cannot change: the space has {num_k} "
                       "factors that can; use 1 <= k <= that, or -1 for random k.")
    ks = np.full(n, k)
  if mode == "dlib":
    ks = np.where(rng.integers(0, 2, size=n) == 0, 1, ks)
  f1 = space.sample(rng, n)
  f2 = f1.copy()
  label = np.empty(n, dtype=np.int64)
  candidates = np.arange(space.num_factors) if mode == "dlib" else varying
  # Random priorities select k distinct factors per row without a Python loop.
  order = np.argsort(rng.random((n, len(candidates))), axis=1)
  for j in range(int(ks.max())):
    active = ks > j
    rows = np.nonzero(active)[0]
    idx = candidates[order[rows, j]]
    if mode == "dlib":
      new = rng.integers(0, sizes[idx])
    else:  # a uniform value among the size-1 others
      shift = rng.integers(1, sizes[idx])
      new = (f1[rows, idx] + shift) % sizes[idx]
    f2[rows, idx] = new
    label[rows] = idx
  return f1, f2, label


class WeakPairBatches:
  """Random-access batches of weak pairs from an image source.

  ``batches[i]`` is a dict with ``x1``, ``x2`` (uint8 [B, H, W, C]), ``label``
  [B] (changed factor) and the factor rows ``f1``, ``f2``.
  """

  def __init__(self, source, batch_size: int, *, seed: int = 0, k: int = 1,
               mode: str = "exact", shard: tuple[int, int] = (0, 1)):
    self.source = source
    self.batch_size = int(batch_size)
    self.seed = int(seed)
    self.k = k
    self.mode = mode
    self.shard_index, self.shard_count = shard
    if self.batch_size % self.shard_count:
      raise ValueError(f"batch size {batch_size} must divide by the number of "
                       f"processes {self.shard_count}.")
    # Fail early on a bad k or mode rather than in a loader thread.
    sample_weak_factors(source.space, np.random.default_rng(0), 1, k, mode)

  def __len__(self):
    return np.iinfo(np.int32).max

  def __getitem__(self, i: int) -> dict:
    rng = np.random.default_rng([self.seed, 0x9A125, int(i)])
    f1, f2, label = sample_weak_factors(self.source.space, rng, self.batch_size,
                                        self.k, self.mode)
    per = self.batch_size // self.shard_count
    sl = slice(self.shard_index * per, (self.shard_index + 1) * per)
    f1, f2, label = f1[sl], f2[sl], label[sl]
    # Noise of stochastic variants comes from a per-shard stream.
    img_rng = np.random.default_rng([self.seed, 0x1A6E, int(i), self.shard_index])
    space = self.source.space
    both = self.source.images(np.concatenate([space.index(f1), space.index(f2)]),
                              img_rng)
    return {"x1": both[:per], "x2": both[per:], "label": label, "f1": f1, "f2": f2}


class ImageBatches:
  """Random-access batches of single images (unsupervised training)."""

  def __init__(self, source, batch_size: int, *, seed: int = 0,
               shard: tuple[int, int] = (0, 1)):
    self.source = source
    self.batch_size = int(batch_size)
    self.seed = int(seed)
    self.shard_index, self.shard_count = shard
    if self.batch_size % self.shard_count:
      raise ValueError(f"batch size {batch_size} must divide by the number of "
                       f"processes {self.shard_count}.")

  def __len__(self):
    return np.iinfo(np.int32).max

  def __getitem__(self, i: int) -> dict:
    rng = np.random.default_rng([self.seed, 0x51B6, int(i)])
    index = rng.integers(0, self.source.space.num_records, size=self.batch_size)
    per = self.batch_size // self.shard_count
    index = index[self.shard_index * per:(self.shard_index + 1) * per]
    img_rng = np.random.default_rng([self.seed, 0x1A6E, int(i), self.shard_index])
    return {"x": self.source.images(index, img_rng),
            "f": self.source.space.factors(index)}


def sample_dataset(source, num: int, seed: int = 0, batch_size: int = 4096):
  """A fixed labelled sample: (factors [num, K], images generator of batches).

  Factors are drawn uniformly from the grid (with replacement), seeded.
  Returns the factor array and a function yielding uint8 image batches in
  order, so callers can encode without holding every image in memory.
  """
  rng = np.random.default_rng([int(seed), 0xE7A1])
  index = rng.integers(0, source.space.num_records, size=int(num))
  factors = source.space.factors(index)

  def batches():
    img_rng = np.random.default_rng([int(seed), 0x1A6F])
    for start in range(0, num, batch_size):
      yield source.images(index[start:start + batch_size], img_rng)

  return factors, batches
