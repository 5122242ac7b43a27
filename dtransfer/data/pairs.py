"""Weak pairs: two images that differ in exactly k factors of variation, or
that share chosen factors and draw every other one independently.

Batch ``i`` of a pair source is a pure function of ``(seed, i)``, so any batch
can be rebuilt at random: a resumed run reads exactly the batches an
uninterrupted one would, and each host can build only its own slice.

Incomplete grids (sources with ``available``, see dtransfer.data.sources) are
supported: images are drawn only among the records that exist, and a weak
pair's changed factor takes a new value among those that exist with the other
factors fixed; anchors whose factor has no such alternative are redrawn.
"""

from __future__ import annotations

import numpy as np

from dtransfer.data.factor_space import FactorSpace
from dtransfer.data.row_rng import RowStreams
from dtransfer.data.sources import SparseIndex
from dtransfer.data.sources import sample_records
from dtransfer.data.sources import sparse_index

PAIR_MODES = ("exact", "dlib", "share")


def sample_weak_factors(space: FactorSpace, rng: np.random.Generator, n: int, k: int = 1,
                        mode: str = "exact", available=None, shared=()):
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
      repeat the old value. "share": the pair shares the factors ``shared``
      and draws every other factor independently (the cycle-consistent VAE's
      "same class" pairs; ``k`` is ignored).
    available: for an incomplete grid, the SparseIndex (or sorted array) of
      the grid indices that exist; None for a full grid.
    shared: "share" mode: indices of the factors the two images share.

  Returns:
    (f1 [n, K], f2 [n, K], label [n]) with label the index (into the space's
    factors) of the last changed factor, as disentanglement_lib reports it;
    in "share" mode the first shared factor.
  """
  if mode not in PAIR_MODES:
    raise ValueError(f"unknown pair mode '{mode}'; choose one of {PAIR_MODES}.")
  if mode == "share":
    return sample_shared_factors(space, rng, n, shared, available)
  if available is not None:
    if not isinstance(available, SparseIndex):
      available = SparseIndex(space, available)
    return _sample_weak_sparse(available, rng, n, k, mode)
  sizes = np.asarray(space.sizes)
  varying = np.asarray(space.varying())
  num_k = space.num_factors if mode == "dlib" else len(varying)
  if num_k == 0:
    raise ValueError(f"factor space {space.names} has no factor with more than "
                     "one value, so no weak pair can differ in a factor.")
  ks = _changes_per_pair(rng, n, k, num_k, mode, "the space")
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


_MAX_REDRAWS = 100


def check_shared(space: FactorSpace, shared) -> np.ndarray:
  """Factor indices of ``shared`` (names or indices), validated."""
  out = []
  for f in (shared if isinstance(shared, (list, tuple, np.ndarray)) else (shared,)):
    if isinstance(f, str):
      if f not in space.names:
        raise ValueError(f"shared factor '{f}' is not a factor of {space.names}; "
                         "name one of them (data.shared).")
      f = space.names.index(f)
    if not 0 <= int(f) < space.num_factors:
      raise ValueError(f"shared factor index {f} is out of range for {space.names}.")
    out.append(int(f))
  if not out:
    raise ValueError("pair mode 'share' needs at least one shared factor "
                     f"(data.shared: one of {space.names}).")
  return np.asarray(sorted(set(out)), np.int64)


def sample_shared_factors(space: FactorSpace, rng: np.random.Generator, n: int, shared,
                          available=None):
  """Pairs that share the factors ``shared``, every other factor independent.

  Full grid: f1 uniform, f2 uniform with the shared columns copied from f1.
  Incomplete grid: f1 uniform among the records that exist, f2 uniform among
  the existing records with the same shared values (f1 itself included).
  Returns (f1, f2, label) with label the first shared factor.
  """
  idx = check_shared(space, shared)
  label = np.full(n, idx[0], np.int64)
  if available is None:
    f1 = space.sample(rng, n)
    f2 = space.sample(rng, n)
    f2[:, idx] = f1[:, idx]
    return f1, f2, label
  if not isinstance(available, SparseIndex):
    available = SparseIndex(space, available)
  records = np.asarray(available.available)
  keys = np.ravel_multi_index(space.factors(records)[:, idx].T,
                              [space.sizes[i] for i in idx])
  order = np.argsort(keys, kind="stable")
  keys, records = keys[order], records[order]
  anchor = rng.integers(0, len(records), size=n)
  lo = np.searchsorted(keys, keys[anchor], "left")
  hi = np.searchsorted(keys, keys[anchor], "right")
  partner = lo + (rng.random(n) * (hi - lo)).astype(np.int64)
  return space.factors(records[anchor]), space.factors(records[partner]), label


def _changes_per_pair(rng, n: int, k: int, num_k: int, mode: str, where: str) -> np.ndarray:
  """How many factors each of n pairs changes: k, U{1..num_k-1} for k=-1, dlib's 1-or-k."""
  if k == -1:
    ks = rng.integers(1, max(num_k, 2), size=n)
  else:
    if not 1 <= k <= num_k:
      raise ValueError(f"k={k} factors cannot change: {where} has {num_k} factors "
                       "that can; use 1 <= k <= that, or -1 for random k.")
    ks = np.full(n, k)
  if mode == "dlib":
    ks = np.where(rng.integers(0, 2, size=n) == 0, 1, ks)
  return ks


def _sample_weak_sparse(sparse: SparseIndex, rng: np.random.Generator, n: int,
                        k: int, mode: str):
  """sample_weak_factors on an incomplete grid (same contract).

  Each changed factor takes a value among those that exist with all other
  factors of the current partner fixed ("exact": different from the old one;
  "dlib": uniform over the existing ones, the old one included). In "exact"
  mode the anchor is drawn among records whose first changed factor has an
  alternative, and rows that run out of alternatives for a later factor
  (k > 1) are redrawn whole.
  """
  space = sparse.space
  sizes = np.asarray(space.sizes)
  bases = sparse.bases
  varying = np.asarray(sparse.varying() if mode == "exact"
                       else range(space.num_factors), np.int64)
  num_k = len(varying)
  if num_k == 0:
    raise ValueError(f"no two existing records of the incomplete grid over "
                     f"{space.names} differ in exactly one factor, so no weak "
                     "pair exists; use unsupervised training on this dataset.")
  ks = _changes_per_pair(rng, n, k, num_k, mode,
                         f"the incomplete grid ({[space.names[i] for i in varying]})")
  f1 = np.zeros((n, space.num_factors), np.int64)
  f2 = f1.copy()
  label = np.zeros(n, np.int64)
  todo = np.arange(n)
  values = np.arange(int(sizes.max()))
  for _ in range(_MAX_REDRAWS):
    order = np.argsort(rng.random((len(todo), num_k)), axis=1)
    first = varying[order[:, 0]]
    anchor = np.empty(len(todo), np.int64)
    for fac in np.unique(first):
      sel = first == fac
      pool = (sparse.alternative_pool(int(fac)) if mode == "exact"
              else sparse.available)
      anchor[sel] = pool[rng.integers(0, len(pool), size=int(sel.sum()))]
    a = space.factors(anchor)
    b = a.copy()
    lab = np.zeros(len(todo), np.int64)
    ok = np.ones(len(todo), bool)
    for j in range(int(ks[todo].max())):
      rows = np.nonzero(ok & (ks[todo] > j))[0]
      if not len(rows):
        break
      idx = varying[order[rows, j]]
      cur = b[rows] @ bases
      cand = cur[:, None] + (values[None, :] - b[rows, idx][:, None]) * bases[idx][:, None]
      valid = (values[None, :] < sizes[idx][:, None]) & sparse.contains(
          np.clip(cand, 0, space.num_records - 1))
      if mode == "exact":
        valid &= values[None, :] != a[rows, idx][:, None]
      score = np.where(valid, rng.random(valid.shape), -1.0)
      pick = score.argmax(1)
      has = valid.any(1)
      b[rows[has], idx[has]] = pick[has]
      lab[rows[has]] = idx[has]
      ok[rows[~has]] = False
    f1[todo[ok]], f2[todo[ok]], label[todo[ok]] = a[ok], b[ok], lab[ok]
    todo = todo[~ok]
    if not len(todo):
      return f1, f2, label
  raise RuntimeError(
      f"could not find {k} factors to change for {len(todo)} anchors after "
      f"{_MAX_REDRAWS} redraws: the incomplete grid over {space.names} is too "
      "sparse for k > 1 pairs; use k=1.")


class ShardedBatches:
  """A random-access sequence of batches (grain's source interface): batch
  ``i`` is a pure function of ``(seed, i)``, and this process takes rows
  ``shard_index * per ... (shard_index + 1) * per`` of it, ``per`` =
  ``batch_size / shard_count``. Subclasses define ``__getitem__``."""

  def __init__(self, batch_size: int, *, seed: int = 0, shard: tuple[int, int] = (0, 1)):
    self.batch_size = int(batch_size)
    self.seed = int(seed)
    self.shard_index, self.shard_count = shard
    if self.batch_size % self.shard_count:
      raise ValueError(f"batch size {batch_size} must divide by the number of "
                       f"processes {self.shard_count}.")

  def __len__(self):
    return np.iinfo(np.int32).max

  def shard_rows(self) -> slice:
    """This process's rows of a global batch."""
    per = self.batch_size // self.shard_count
    return slice(self.shard_index * per, (self.shard_index + 1) * per)


class WeakPairBatches(ShardedBatches):
  """Random-access batches of weak pairs from an image source.

  ``batches[i]`` is a dict with ``x1``, ``x2`` (uint8 [B, H, W, C]), ``label``
  [B] (changed factor) and the factor rows ``f1``, ``f2``. With
  ``mode="share"`` the pairs share the factors ``shared`` (names or indices)
  and draw the others independently (see ``sample_weak_factors``).
  """

  def __init__(self, source, batch_size: int, *, seed: int = 0, k: int = 1,
               mode: str = "exact", shard: tuple[int, int] = (0, 1), shared=()):
    super().__init__(batch_size, seed=seed, shard=shard)
    self.source = source
    self.k = k
    self.mode = mode
    self.shared = (tuple(check_shared(source.space, shared)) if mode == "share"
                   else ())
    self._sparse = sparse_index(source)
    # Fail early on a bad k or mode rather than in a loader thread.
    try:
      sample_weak_factors(source.space, np.random.default_rng(0), 1, k, mode,
                          self._sparse, self.shared)
    except ValueError as e:
      name = getattr(source, "name", type(source).__name__)
      raise ValueError(f"weak pairs from {name}: {e}") from e

  def __getitem__(self, i: int) -> dict:
    rng = np.random.default_rng([self.seed, 0x9A125, int(i)])
    f1, f2, label = sample_weak_factors(self.source.space, rng, self.batch_size,
                                        self.k, self.mode, self._sparse, self.shared)
    sl = self.shard_rows()
    f1, f2, label = f1[sl], f2[sl], label[sl]
    # Noise of stochastic variants: one stream per global row (x1 rows, then
    # x2 rows), so a host's rows look the same however the batch is split.
    rows = np.arange(sl.start, sl.stop)
    img_rng = RowStreams([self.seed, 0x1A6E, int(i)],
                         np.concatenate([rows, self.batch_size + rows]))
    space = self.source.space
    both = self.source.images(np.concatenate([space.index(f1), space.index(f2)]),
                              img_rng)
    return {"x1": both[:len(rows)], "x2": both[len(rows):], "label": label, "f1": f1, "f2": f2}


class ImageBatches(ShardedBatches):
  """Random-access batches of single images (unsupervised training)."""

  def __init__(self, source, batch_size: int, *, seed: int = 0,
               shard: tuple[int, int] = (0, 1)):
    super().__init__(batch_size, seed=seed, shard=shard)
    self.source = source

  def __getitem__(self, i: int) -> dict:
    rng = np.random.default_rng([self.seed, 0x51B6, int(i)])
    index = sample_records(self.source, rng, self.batch_size)
    sl = self.shard_rows()
    rows = np.arange(sl.start, sl.stop)
    index = index[rows]
    img_rng = RowStreams([self.seed, 0x1A6E, int(i)], rows)
    return {"x": self.source.images(index, img_rng),
            "f": self.source.space.factors(index)}


def sample_dataset(source, num: int, seed: int = 0, batch_size: int = 4096):
  """A fixed labelled sample: (factors [num, K], images generator of batches).

  Factors are drawn uniformly from the grid (with replacement), seeded; on an
  incomplete grid, uniformly among the records that exist.
  Returns the factor array and a function yielding uint8 image batches in
  order, so callers can encode without holding every image in memory.
  """
  rng = np.random.default_rng([int(seed), 0xE7A1])
  index = sample_records(source, rng, num)
  factors = source.space.factors(index)

  def batches():
    img_rng = np.random.default_rng([int(seed), 0x1A6F])
    for start in range(0, num, batch_size):
      yield source.images(index[start:start + batch_size], img_rng)

  return factors, batches
