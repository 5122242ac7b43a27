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


def _noise(rng, n: int) -> np.ndarray:
  """floor(255 * U[0,1)) per pixel and channel: uniform on {0, ..., 254}."""
  return as_rng(rng).integers(0, 255, size=(n, 64, 64, 3), dtype=np.uint8)
