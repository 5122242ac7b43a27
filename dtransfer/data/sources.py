"""Random-access image sources over a factor space.

A source is anything with ``space`` (a FactorSpace), ``image_shape`` (H, W, C)
and ``images(index, rng=None) -> uint8 [N, H, W, C]`` where record ``i`` shows
factors ``space.factors(i)``. Sources may be stochastic (Noisy-dSprites draws a
fresh background per access); they then draw from the ``rng`` they are given,
so a seeded caller gets reproducible images.

Incomplete grids: a dataset whose factor grid has holes (RGB-D Objects: the
number of frames differs per video) sets the optional attribute
``available``, the sorted int64 array of the grid indices that exist; only
those may be passed to ``images``. Absent or None means the full grid.
``sparse_index(source)`` returns a ``SparseIndex`` for such a source (None for
a full grid): membership, uniform sampling over the records that exist, and
which records can change one factor while the others stay fixed, which is
what the weak-pair sampler in ``dtransfer.data.pairs`` needs.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np

from dtransfer.data.factor_space import FactorSpace


@runtime_checkable
class ImageSource(Protocol):
  space: FactorSpace
  image_shape: tuple[int, int, int]

  def images(self, index, rng: np.random.Generator | None = None) -> np.ndarray:
    ...


def _check_index(source, index) -> np.ndarray:
  index = np.asarray(index, dtype=np.int64).reshape(-1)
  if index.size and (index.min() < 0 or index.max() >= source.space.num_records):
    raise IndexError(f"record index out of range [0, {source.space.num_records}).")
  return index


class ArraySource:
  """All images in memory, in factor order (tests, notebooks, small datasets)."""

  def __init__(self, images: np.ndarray, space: FactorSpace):
    images = np.asarray(images)
    if images.ndim == 3:
      images = images[..., None]
    if images.ndim != 4 or images.shape[0] != space.num_records:
      raise ValueError(
          f"ArraySource needs images [N, H, W, C] with N = {space.num_records} "
          f"(the factor grid {space.sizes}), got shape {images.shape}.")
    if images.dtype != np.uint8:
      raise ValueError(f"ArraySource stores uint8 images, got {images.dtype}; "
                       "convert with (255 * x).round().astype(np.uint8).")
    self.space = space
    self.image_shape = tuple(images.shape[1:])
    self._images = images

  def images(self, index, rng=None):
    return self._images[_check_index(self, index)]


class RenderedSource:
  """Images computed on demand from factors by a deterministic renderer."""

  def __init__(self, render: Callable[[np.ndarray], np.ndarray], space: FactorSpace,
               image_shape: tuple[int, int, int]):
    self.space = space
    self.image_shape = tuple(image_shape)
    self._render = render

  def images(self, index, rng=None):
    imgs = self._render(self.space.factors(_check_index(self, index)))
    return imgs.reshape((-1,) + self.image_shape)


class TransformedSource:
  """A source whose images are ``fn(base images, factors, rng)``: dataset variants.

  ``extra`` optionally prepends new factors (e.g. a colour factor); the base
  source then sees only the trailing factors.
  """

  def __init__(self, base: ImageSource, fn, *, image_shape=None,
               extra: FactorSpace | None = None):
    self.base = base
    self.extra = extra
    if extra is None:
      self.space = base.space
    else:
      self.space = FactorSpace(extra.names + base.space.names,
                               extra.sizes + base.space.sizes)
    self.image_shape = tuple(image_shape or base.image_shape)
    self._fn = fn

  def images(self, index, rng=None):
    index = _check_index(self, index)
    factors = self.space.factors(index)
    base_index = index % self.base.space.num_records
    base = self.base.images(base_index, rng)
    return self._fn(base, factors, rng)


class TFDSSource:
  """Records of a prepared dtransfer TFDS builder (array_record, random access)."""

  def __init__(self, data_source, space: FactorSpace, image_key: str = "image"):
    if len(data_source) != space.num_records:
      raise ValueError(
          f"the prepared dataset holds {len(data_source)} records but its factor "
          f"grid {space.sizes} needs {space.num_records}; rebuild it with "
          "`python -m launch.build_datasets`.")
    self.space = space
    self._src = data_source
    self._key = image_key
    first = np.asarray(data_source[0][image_key])
    self.image_shape = tuple(first.shape if first.ndim == 3 else first.shape + (1,))

  def images(self, index, rng=None):
    index = _check_index(self, index)
    recs = self._src.__getitems__(index.tolist())
    return np.stack([np.asarray(r[self._key]) for r in recs]).reshape(
        (-1,) + self.image_shape)


class SparseIndex:
  """Which grid indices of a factor space exist (an incomplete grid).

  Attributes:
    space: the full FactorSpace.
    available: sorted int64 [M] grid indices that exist.
  """

  def __init__(self, space: FactorSpace, available):
    available = np.asarray(available, dtype=np.int64).reshape(-1)
    if available.size == 0:
      raise ValueError(f"an incomplete grid over {space.names} needs at least "
                       "one available record, got none.")
    if np.any(np.diff(available) <= 0):
      raise ValueError("`available` must be sorted and free of duplicates "
                       "(np.unique(indices) gives that).")
    if available[0] < 0 or available[-1] >= space.num_records:
      raise ValueError(f"`available` holds indices outside [0, "
                       f"{space.num_records}) of the grid {space.sizes}.")
    self.space = space
    self.available = available
    self._bases = np.asarray(
        [int(np.prod(space.sizes[k + 1:], dtype=np.int64))
         for k in range(space.num_factors)], np.int64)
    self._pools: dict[int, np.ndarray] = {}

  def __len__(self) -> int:
    return len(self.available)

  @property
  def bases(self) -> np.ndarray:
    """Index step of each factor (C order): index = factors @ bases."""
    return self._bases

  def contains(self, index) -> np.ndarray:
    """Boolean mask: which grid indices exist."""
    index = np.asarray(index, dtype=np.int64)
    pos = np.minimum(np.searchsorted(self.available, index),
                     len(self.available) - 1)
    return self.available[pos] == index

  def rows(self, index) -> np.ndarray:
    """Position in ``available`` of each grid index (the compact row).

    Raises:
      KeyError: a grid index that does not exist (names its factors).
    """
    index = np.asarray(index, dtype=np.int64).reshape(-1)
    ok = self.contains(index)
    if not ok.all():
      bad = index[~ok][0]
      what = (dict(zip(self.space.names, self.space.factors(bad).tolist()))
              if 0 <= bad < self.space.num_records else "out of range")
      raise KeyError(
          f"record {int(bad)} ({what}) does not exist in this incomplete "
          f"grid ({len(self)} of {self.space.num_records} records); draw "
          "indices from `available` (e.g. SparseIndex.sample).")
    return np.searchsorted(self.available, index)

  def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
    """n grid indices drawn uniformly among the records that exist."""
    return self.available[rng.integers(0, len(self.available), size=n)]

  def alternative_pool(self, k: int) -> np.ndarray:
    """Grid indices whose factor k can take another existing value while
    every other factor stays fixed (cached)."""
    if k not in self._pools:
      f = self.space.factors(self.available)
      rest = self.available - f[:, k] * self._bases[k]
      _, inv, counts = np.unique(rest, return_inverse=True, return_counts=True)
      self._pools[k] = self.available[counts[inv.reshape(-1)] >= 2]
    return self._pools[k]

  def varying(self) -> tuple[int, ...]:
    """Factors that some existing pair of records differs in alone."""
    return tuple(k for k in range(self.space.num_factors)
                 if len(self.alternative_pool(k)))


def sparse_index(source) -> SparseIndex | None:
  """The SparseIndex of a source with holes, None for a full grid."""
  idx = getattr(source, "sparse", None)
  if isinstance(idx, SparseIndex):
    return idx
  available = getattr(source, "available", None)
  if available is None:
    return None
  return SparseIndex(source.space, available)


def sample_records(source, rng: np.random.Generator, n: int) -> np.ndarray:
  """n record indices drawn uniformly among the records of ``source`` that exist."""
  sparse = sparse_index(source)
  if sparse is not None:
    return sparse.sample(rng, int(n))
  return rng.integers(0, source.space.num_records, size=int(n))


class SparseSource:
  """An ImageSource over an incomplete grid.

  Images live in a compact store, row j holding grid index ``available[j]``;
  ``fetch(rows, rng)`` returns those rows as uint8 [N, H, W, C]. Asking for a
  grid index that does not exist raises a KeyError naming its factors.
  """

  def __init__(self, fetch: Callable, space: FactorSpace, available,
               image_shape: tuple[int, int, int]):
    self.sparse = SparseIndex(space, available)
    self.space = space
    self.available = self.sparse.available
    self.image_shape = tuple(image_shape)
    self._fetch = fetch

  @classmethod
  def from_data_source(cls, data_source, space: FactorSpace, available,
                       image_key: str = "image") -> "SparseSource":
    """Wraps a prepared TFDS data source whose record j is ``available[j]``."""
    available = np.asarray(available, np.int64)
    if len(data_source) != len(available):
      raise ValueError(
          f"the prepared dataset holds {len(data_source)} records but its "
          f"index of available grid cells lists {len(available)}; rebuild it "
          "with `python -m launch.build_datasets`.")
    first = np.asarray(data_source[0][image_key])
    shape = first.shape if first.ndim == 3 else first.shape + (1,)

    def fetch(rows, rng=None):
      recs = data_source.__getitems__(np.asarray(rows).tolist())
      return np.stack([np.asarray(r[image_key]) for r in recs]).reshape(
          (-1,) + tuple(shape))

    return cls(fetch, space, available, shape)

  def images(self, index, rng=None) -> np.ndarray:
    rows = self.sparse.rows(index)
    if rows.size == 0:
      return np.zeros((0,) + self.image_shape, np.uint8)
    return np.asarray(self._fetch(rows, rng)).reshape((-1,) + self.image_shape)
