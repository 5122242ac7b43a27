"""dSprites registry factories: ``make`` and one factory per variant.

The variants' formulas are in ``variants``; the TFDS builder (``tfds_io``) is
imported only for ``origin="tfds"``, since it pulls in TensorFlow Datasets.
"""

from __future__ import annotations

import functools

import numpy as np

from dtransfer.data.sources import ArraySource
from dtransfer.data.sources import RenderedSource
from dtransfer.data.sources import TransformedSource
from dtransfer.datasets.dsprites import original
from dtransfer.datasets.dsprites import renderer
from dtransfer.datasets.dsprites.variants import COLOR_SPACE
from dtransfer.datasets.dsprites.variants import ORIGINS
from dtransfer.datasets.dsprites.variants import _check_variant
from dtransfer.datasets.dsprites.variants import apply_variant
from dtransfer.datasets.dsprites.variants import apply_variant_grey
from dtransfer.datasets.dsprites.variants import check_size
from dtransfer.datasets.dsprites.variants import downsample
from dtransfer.datasets.dsprites.variants import has_color_factor
from dtransfer.datasets.dsprites.variants import num_channels
from dtransfer.datasets.dsprites.variants import split_sizes


def _procedural_masks(sizes=None) -> RenderedSource:
  """The renderer as a 1-channel 0/1 mask source over the (sub-)grid."""
  space, maps = renderer.subgrid(renderer.SPACE, sizes)
  if sizes is None:
    render = renderer.render
  else:
    render = lambda f: renderer.render(renderer.to_full(f, maps))
  return RenderedSource(render, space, (64, 64, 1))


def _original_masks(data_dir, sizes=None, check_md5: bool = True) -> ArraySource:
  """The original npz in memory (3 GB for the full file) as a mask source."""
  header, imgs = original.load(original.find(data_dir), check_md5=check_md5)
  space = header.space
  if sizes is not None:
    space, maps = renderer.subgrid(header.space, sizes)
    keep = header.space.index(
        renderer.to_full(space.factors(np.arange(space.num_records)), maps))
    imgs = imgs[keep]
  return ArraySource(imgs[..., None], space)


def _wrap(variant: str, base, color_size=None, channels: int = 1, size: int = 64):
  """A variant source over a mask source (prepends the colour factor); ``size``
  < 64 area-averages the masks to size x size first."""
  extra, color_map = None, None
  if has_color_factor(variant):
    extra, maps = renderer.subgrid(COLOR_SPACE, None if color_size is None
                                   else (color_size,))
    color_map = maps[0]
  fn = functools.partial(_transform, variant, channels, color_map, size)
  return TransformedSource(base, fn, extra=extra,
                           image_shape=(size, size, num_channels(variant, channels)))


def _transform(variant, channels, color_map, size, base, factors, rng):
  if size != renderer.IMAGE_SIZE:
    return apply_variant_grey(variant, downsample(base, size), factors, rng,
                              channels=channels, color_map=color_map)
  return apply_variant(variant, base, factors, rng, channels=channels,
                       color_map=color_map)


def make(variant: str, origin: str = "procedural", data_dir=None, *,
         channels: int = 1, factor_sizes=None, tfds_base: str = "procedural",
         baked: bool = True, check_md5: bool = True, size: int = 64):
  """Builds any dSprites variant source (the factories below call this).

  Args:
    variant: one of VARIANTS.
    origin: "procedural" (offline renderer), "original" (DeepMind's npz under
      data_dir, held in memory) or "tfds" (a prepared dtransfer_dsprites
      builder under data_dir).
    data_dir: folder of the npz ("original") or of prepared datasets ("tfds").
    channels: 1 or 3, white variant only.
    factor_sizes: a reduced grid, one size per factor of the variant (colour
      first for colour variants); each factor keeps evenly spread values
      (renderer.subgrid_indices). None: the full grid.
    tfds_base: which prepared config "tfds" reads: built from "procedural"
      renders or from the "original" file.
    baked: "tfds" only. True: read the variant's own config, whose noise or
      colours were drawn once per record at build time. False: read the
      "white" config and apply the variant on the fly (fresh noise per access,
      as the authors do).
    check_md5: "original" only; verify the full file's md5.
    size: image side, 64 (the original) or 32, 16, 8: the 64x64 sprite
      masks area-averaged (a grey edge), then the variant's formula (noise
      drawn per pixel at that size). Cheaper images for CPU runs; every
      sprite is still recognisable at 32 (benchmarks/quick_preset.md).

  Returns:
    An ImageSource with uint8 images in [0, 255].
  """
  _check_variant(variant)
  if origin not in ORIGINS:
    raise ValueError(f"unknown origin '{origin}' for dSprites; choose one of "
                     f"{ORIGINS}.")
  size = check_size(size)
  color_size, sprite_sizes = split_sizes(variant, factor_sizes)
  if origin == "procedural":
    return _wrap(variant, _procedural_masks(sprite_sizes), color_size, channels, size)
  if origin == "original":
    return _wrap(variant, _original_masks(data_dir, sprite_sizes, check_md5),
                 color_size, channels, size)
  from dtransfer.datasets.dsprites import tfds_io  # pylint: disable=g-import-not-at-top  (TFDS: heavy, optional)
  if baked and variant != "white":
    if size != renderer.IMAGE_SIZE:
      raise ValueError(f"size={size}: the prepared '{variant}' config holds 64x64 "
                       "images with their noise or colours baked in; pass baked=False "
                       "to apply the variant to the downsampled white sprites.")
    return tfds_io.open_source(
        tfds_io.config_name(variant, tfds_base, factor_sizes), data_dir)
  white = tfds_io.open_source(
      tfds_io.config_name("white", tfds_base, sprite_sizes), data_dir)
  if variant == "white" and channels == 1 and size == renderer.IMAGE_SIZE:
    return white
  return _wrap(variant, white, color_size, channels, size)


def dsprites(origin: str = "procedural", data_dir=None, *, channels: int = 1,
             **kw):
  """dSprites: white sprite on black, 5 factors, 1 channel (3 with channels=3,
  the authors' white 3-channel source)."""
  return make("white", origin, data_dir, channels=channels, **kw)


def noisy_dsprites(origin: str = "procedural", data_dir=None, **kw):
  """Noisy-dSprites: white sprite on fresh uniform noise, 5 factors, 3 channels.

  Noise comes from the ``rng`` passed to ``images()`` (DEFAULT_SEED if None).
  """
  return make("noisy", origin, data_dir, **kw)


def color_dsprites(origin: str = "procedural", data_dir=None, **kw):
  """Color-dSprites (authors): colour is a 7-valued factor prepended to the
  space (color, shape, scale, orientation, posX, posY): 5,160,960 records."""
  return make("color", origin, data_dir, **kw)


def color_dsprites_dlib(origin: str = "procedural", data_dir=None, **kw):
  """disentanglement_lib Color-dSprites: 5 factors, a random colour
  U(0.5, 1)^3 per image drawn from the ``rng`` of ``images()``."""
  return make("color_dlib", origin, data_dir, **kw)


def noisy_color_dsprites(origin: str = "procedural", data_dir=None, **kw):
  """Noisy-Color-dSprites: colour factor as Color-dSprites; sprite = colour,
  background = fresh uniform noise U[0,1) per pixel and channel."""
  return make("noisy_color", origin, data_dir, **kw)
