"""Two image domains for cross-domain methods (CDRD, DIDD): batches and splits.

``TwoDomainBatches`` pairs a labelled source with an unlabelled target, each
drawn by its own ``pairs.ImageBatches`` stream (independent seeds), so batch
``i`` is a pure function of ``(seed, i)`` like every other batch class and a
resumed run sees the same data. Only the source's label factor leaves this
class: target factors are dropped here, so target labels cannot reach a
training step whatever the method does with the batch.

``split(source, part, test_fraction)`` holds records out of a source (the
target test set of unsupervised domain adaptation): a fixed hash of the
record index decides train or test, so the two parts never overlap and need
no stored list.
"""

from __future__ import annotations

import numpy as np

from dtransfer.data import pairs
from dtransfer.data import sources as sources_lib


def factor_index(space, name: str) -> int:
  """Position of factor ``name`` in ``space`` (clear error when absent)."""
  if name not in space.names:
    raise ValueError(f"no factor '{name}' in this dataset; its factors are "
                     f"{list(space.names)}: set the attribute to one of them.")
  return space.names.index(name)


class TwoDomainBatches:
  """``batches[i]`` = ``{"xs", "ls", "xt"}``: uint8 source images, their
  labels (factor ``label_factor``) and uint8 target images (no labels)."""

  def __init__(self, source, target, batch_size: int, *, label_factor: int, seed: int = 0,
               shard: tuple[int, int] = (0, 1)):
    self.source = pairs.ImageBatches(source, batch_size, seed=seed, shard=shard)
    # Another stream for the target: fold a constant into the seed.
    self.target = pairs.ImageBatches(target, batch_size, seed=seed + 0x7A6E7, shard=shard)
    self.label_factor = int(label_factor)

  def __len__(self):
    return len(self.source)

  def __getitem__(self, i: int) -> dict:
    s, t = self.source[i], self.target[i]
    return {"xs": s["x"], "ls": s["f"][:, self.label_factor].astype(np.int32),
            "xt": t["x"]}


def _is_test(index: np.ndarray, test_fraction: float) -> np.ndarray:
  """A fixed pseudo-random split of record indices (Knuth's multiplicative hash)."""
  h = (np.asarray(index, np.uint64) * np.uint64(2654435761)) % np.uint64(2 ** 32)
  return h < np.uint64(int(test_fraction * 2 ** 32))


class SplitSource:
  """The train or test records of a source: an incomplete grid over its space
  (``sparse``), so every sampler (``sample_records``) draws only from it."""

  def __init__(self, base, part: str, test_fraction: float):
    if part not in ("train", "test"):
      raise ValueError(f"part must be 'train' or 'test', got {part!r}.")
    if not 0.0 < test_fraction < 1.0:
      raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}.")
    self.base = base
    self.space = base.space
    self.image_shape = base.image_shape
    inner = sources_lib.sparse_index(base)
    index = (inner.available if inner is not None
             else np.arange(base.space.num_records, dtype=np.int64))
    test = _is_test(index, test_fraction)
    keep = index[test] if part == "test" else index[~test]
    self.sparse = sources_lib.SparseIndex(base.space, keep)
    self.available = self.sparse.available

  def images(self, index, rng=None):
    return self.base.images(index, rng)


def split(source, part: str, test_fraction: float) -> SplitSource:
  """The ``part`` ("train" or "test") of ``source``; ``test_fraction`` of the
  records are test records."""
  return SplitSource(source, part, test_fraction)
