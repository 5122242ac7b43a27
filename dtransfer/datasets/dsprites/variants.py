"""dSprites variants: the formulas that turn a sprite mask into each variant's image.

The registry factories that build them as ImageSources are in ``dataset``.

Every variant is a binary sprite mask (from the renderer, the original npz or
a prepared TFDS builder) turned into a uint8 image by one formula:

============================  =========================================  =====
factory (registry name)       image                                       C
============================  =========================================  =====
``dsprites``                  255 * mask (white sprite, black)            1 / 3
``noisy_dsprites``            uint8(255 * min(mask + u, 1)), u~U[0,1)      3
``color_dsprites``            uint8(255 * mask * c), c = OBJECT_COLORS    3
                              [color], color a 7-valued factor PREPENDED
``color_dsprites_dlib``       uint8(255 * mask * c), c ~ U(0.5, 1)^3 per   3
                              image, a nuisance (5 factors)
``noisy_color_dsprites``      c on the sprite, uint8(255 * u) elsewhere    3
============================  =========================================  =====

``uint8(.)`` truncates, as the authors' ``(255 * x).astype(uint8)``; so noise
pixels are uniform on {0, ..., 254} and are drawn as such (the distribution of
``floor(255 * u)``, without the float round trip). The noisy-colour background is the
explicit noise ``u``, a choice of this project (the authors' code wraps ``-u`` to
``uint8``, which is not uniform noise; README, "Differences from the reference code").

Stochastic variants (noisy, colour-dlib) draw fresh noise or colours on every
``images()`` call from the ``rng`` they are given, as the authors and
disentanglement_lib do: the same Generator state gives the same images. With
``rng=None`` they use ``np.random.default_rng(DEFAULT_SEED)``, i.e. the same
draw on every call. Training batches pass a ``RowStreams`` (one stream per
global row, dtransfer/data/row_rng.py), so noise does not depend on how a
batch is split over hosts.
"""

from __future__ import annotations


import numpy as np

from dtransfer.data.factor_space import FactorSpace
from dtransfer.data.row_rng import RowStreams
from dtransfer.datasets.dsprites import renderer

VARIANTS = ("white", "noisy", "color", "color_dlib", "noisy_color")
ORIGINS = ("procedural", "tfds", "original")
DEFAULT_SEED = 0
# Image sides offered (``size`` option): the original 64 and area-averaged
# downsamplings of it (cheaper images for CPU runs; README, quick preset).
IMAGE_SIZES = (64, 32, 16, 8)

# The authors' Color-dSprites palette: white plus seaborn.husl_palette(6,
# h=.1, s=.7, l=.7), the values of the authors' Color-dSprites loader.
OBJECT_COLORS = np.array([
    [1.0, 1.0, 1.0],
    [0.9096, 0.5883, 0.3658],
    [0.6350, 0.6928, 0.3627],
    [0.3765, 0.7284, 0.5963],
    [0.3955, 0.7074, 0.7875],
    [0.6964, 0.6221, 0.8997],
    [0.9082, 0.5511, 0.7494],
])
COLORS_UINT8 = (255 * OBJECT_COLORS).astype(np.uint8)
COLOR_SPACE = FactorSpace(("color",), (len(OBJECT_COLORS),))


def has_color_factor(variant: str) -> bool:
  return variant in ("color", "noisy_color")


def full_space(variant: str) -> FactorSpace:
  """The variant's complete factor space (6 factors for colour, else 5)."""
  _check_variant(variant)
  if has_color_factor(variant):
    return FactorSpace(COLOR_SPACE.names + renderer.FACTOR_NAMES,
                       COLOR_SPACE.sizes + renderer.FACTOR_SIZES)
  return renderer.SPACE


def num_channels(variant: str, channels: int = 1) -> int:
  return channels if variant == "white" else 3


def _check_variant(variant: str) -> None:
  if variant not in VARIANTS:
    raise ValueError(f"unknown dSprites variant '{variant}'; choose one of "
                     f"{VARIANTS}.")


def split_sizes(variant: str, factor_sizes=None):
  """(colour size or None, 5 sprite sizes or None) of a variant's factor_sizes."""
  if factor_sizes is None:
    return None, None
  factor_sizes = tuple(int(s) for s in factor_sizes)
  want = full_space(variant)
  if len(factor_sizes) != want.num_factors:
    raise ValueError(
        f"factor_sizes {factor_sizes} must give one size per factor of "
        f"'{variant}': {want.names} (full sizes {want.sizes}).")
  if has_color_factor(variant):
    return factor_sizes[0], factor_sizes[1:]
  return None, factor_sizes


def as_rng(rng) -> np.random.Generator:
  """The Generator to draw from: ``rng``, or a fixed one seeded DEFAULT_SEED."""
  if rng is None:
    return np.random.default_rng(DEFAULT_SEED)
  if isinstance(rng, (np.random.Generator, RowStreams)):
    return rng
  raise TypeError(f"rng must be a numpy Generator, a RowStreams or None, got "
                  f"{type(rng)}; use np.random.default_rng(seed).")


def check_size(size: int) -> int:
  """A valid image side for dSprites: 64 (the original) or 64 / 2^j down to 8."""
  size = int(size)
  if size not in IMAGE_SIZES:
    raise ValueError(f"dSprites size must be one of {IMAGE_SIZES}, got {size}.")
  return size


def downsample(masks: np.ndarray, size: int) -> np.ndarray:
  """64x64 sprite masks (sprite > 0) -> uint8 coverage [N, size, size] in 0..255.

  Each output pixel is the fraction of its (64/size)^2 input pixels that the
  sprite covers, rounded to 0..255: area averaging, so a half-pixel move of
  the sprite still changes the image (the 32 positions stay distinct at 32x32).
  """
  masks = np.asarray(masks)
  mask = (masks[..., 0] if masks.ndim == 4 else masks) > 0
  f = mask.shape[-1] // size
  count = mask.reshape(len(mask), size, f, size, f).sum((2, 4), dtype=np.uint32)
  return ((count * 255 + (f * f) // 2) // (f * f)).astype(np.uint8)


def apply_variant_grey(variant: str, alpha: np.ndarray, factors: np.ndarray,
                       rng=None, *, channels: int = 1,
                       color_map: np.ndarray | None = None) -> np.ndarray:
  """The variants' formulas for a grey coverage ``alpha`` [N, H, W] (uint8 0..255).

  With m = alpha / 255 (1 inside the sprite, 0 outside, in between on the
  edge of a downsampled sprite): white 255 m; noisy uint8(255 min(m + u, 1));
  colour 255 m c; noisy colour m c + (1 - m) u. For a 0/1 mask these are
  exactly ``apply_variant``'s images.
  """
  _check_variant(variant)
  a = np.asarray(alpha, np.uint8)[..., None]
  n, h, w, _ = a.shape
  if variant == "white":
    if channels not in (1, 3):
      raise ValueError(f"dsprites channels must be 1 or 3, got {channels}.")
    return np.repeat(a, channels, axis=-1) if channels == 3 else a.copy()
  if variant == "noisy":
    s = a.astype(np.uint16)
    return np.minimum(s + _noise(rng, n, h), 255).astype(np.uint8)
  if has_color_factor(variant):
    cls = np.asarray(factors)[:, 0]
    color = COLORS_UINT8[cls if color_map is None else color_map[cls]]
  else:   # color_dlib
    color = (255 * as_rng(rng).uniform(0.5, 1.0, size=(n, 3))).astype(np.uint8)
  s = a.astype(np.uint32)
  color = color[:, None, None, :].astype(np.uint32)
  out = s * color
  if variant == "noisy_color":
    out = out + (255 - s) * _noise(rng, n, h)
  return ((out + 127) // 255).astype(np.uint8)


def apply_variant(variant: str, masks: np.ndarray, factors: np.ndarray,
                  rng=None, *, channels: int = 1,
                  color_map: np.ndarray | None = None) -> np.ndarray:
  """Turns sprite masks into the variant's uint8 images.

  Args:
    variant: one of VARIANTS.
    masks: [N, 64, 64] or [N, 64, 64, C] with the sprite > 0 (0/1 or 0/255).
    factors: [N, K] factor class indices; for colour variants column 0 is
      the colour class (mapped through ``color_map`` to OBJECT_COLORS rows).
    rng: numpy Generator for noise / random colours (see module docstring).
    channels: output channels of the white variant (1 or 3).
    color_map: reduced colour class -> OBJECT_COLORS row (default identity).

  Returns:
    uint8 [N, 64, 64, C].
  """
  _check_variant(variant)
  masks = np.asarray(masks)
  mask = (masks[..., :1] if masks.ndim == 4 else masks[..., None]) > 0
  n = len(mask)
  if variant == "white":
    if channels not in (1, 3):
      raise ValueError(f"dsprites channels must be 1 or 3, got {channels}.")
    img = mask.view(np.uint8) * np.uint8(255)
    return np.repeat(img, channels, axis=-1) if channels == 3 else img
  if variant == "noisy":   # max(noise, 255 * mask): twice as fast as where()
    sprite = np.repeat(mask, 3, axis=-1).view(np.uint8) * np.uint8(255)
    return np.maximum(_noise(rng, n), sprite)
  if has_color_factor(variant):
    cls = np.asarray(factors)[:, 0]
    color = COLORS_UINT8[cls if color_map is None else color_map[cls]]
  elif variant == "color_dlib":
    color = (255 * as_rng(rng).uniform(0.5, 1.0, size=(n, 3))).astype(np.uint8)
  color = color[:, None, None, :]
  if variant == "noisy_color":
    return np.where(mask, color, _noise(rng, n))
  return mask.view(np.uint8) * color          # black background


def _noise(rng, n: int, size: int = 64) -> np.ndarray:
  """floor(255 * U[0,1)) per pixel and channel: uniform on {0, ..., 254}."""
  return as_rng(rng).integers(0, 255, size=(n, size, size, 3), dtype=np.uint8)
