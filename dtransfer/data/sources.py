"""Random-access image sources over a factor space.

A source is anything with ``space`` (a FactorSpace), ``image_shape`` (H, W, C)
and ``images(index, rng=None) -> uint8 [N, H, W, C]`` where record ``i`` shows
factors ``space.factors(i)``. Sources may be stochastic (Noisy-dSprites draws a
fresh background per access); they then draw from the ``rng`` they are given,
so a seeded caller gets reproducible images.
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
