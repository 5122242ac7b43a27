"""Procedural dSprites renderer: the offline stand-in for DeepMind's file.

Why: the original npz cannot be downloaded on offline machines, yet training
and tests need dSprites. This renderer reproduces the original grid exactly
(shape 3, scale 6, orientation 40, posX 32, posY 32 = 737,280 records, in that
order, posY fastest) with 64x64 binary images. Pixels are not bit-identical to
DeepMind's renders; the factor semantics are the same:

* shape: square, ellipse, heart (heart lobes up at orientation 0);
* scale: linspace(0.5, 1, 6) times the sprite's base size;
* orientation: linspace(0, 2*pi, 40), as the original file's latents_values
  (step 2*pi/39, so classes 0 and 39 are the same angle and the same image,
  as in DeepMind's file); counter-clockwise as displayed;
* posX: linspace(0, 1, 32) moves the sprite centre along the columns, one
  pixel per step, centre column 16..47 (the frame centre is the middle);
* posY: likewise along the rows (row 16 at posY=0, top of the frame).

Speed comes from precomputing the 3*6*40 = 720 sprite masks once (anti-
aliased by 4x4 supersampling, thresholded at half coverage) and pasting them
at integer offsets, so rendering is a single vectorised scatter per chunk.
"""

from __future__ import annotations

import functools

import numpy as np

from dtransfer.data.factor_space import FactorSpace

FACTOR_NAMES = ("shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SPACE = FactorSpace(FACTOR_NAMES, FACTOR_SIZES)
SHAPE_NAMES = ("square", "ellipse", "heart")
IMAGE_SIZE = 64

# Physical factor values, as in the original file's latents_values (shape is
# stored there as 1, 2, 3). Orientation includes the endpoint 2*pi: the
# original grid is np.linspace(0, 2*pi, 40) (dsprites-dataset README and the
# npz's metadata['latents_possible_values']['orientation']).
SHAPE_VALUES = np.array([1.0, 2.0, 3.0])
SCALE_VALUES = np.linspace(0.5, 1.0, 6)
ORIENTATION_VALUES = np.linspace(0.0, 2 * np.pi, 40)
POS_VALUES = np.linspace(0.0, 1.0, 32)
FACTOR_VALUES = (SHAPE_VALUES, SCALE_VALUES, ORIENTATION_VALUES, POS_VALUES,
                 POS_VALUES)

# Geometry (pixels). Sprite centre = pixel centre of row/column FIRST_CENTRE +
# position index, so 16..47 and symmetric about the frame centre (32.0).
FIRST_CENTRE = 16
PATCH_RADIUS = 15                 # masks are (2R+1)^2 patches around the centre
PATCH = 2 * PATCH_RADIUS + 1
BASE_SIZE = 9.5                   # half-extent (pixels) of a scale-1 sprite
_SUPERSAMPLE = 4
_CHUNK = 4096


def _heart(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """Classic heart curve (x^2 + y^2 - 1)^3 <= x^2 y^3, lobes at +y."""
  return (x * x + y * y - 1) ** 3 - x * x * y ** 3 <= 0


# The heart curve spans x in [-1.139, 1.139], y in [-1, 1.236]; recentre it on
# its bounding box and scale it to the same half-width as the square.
_HEART_Y_SHIFT = (1.2360 - 1.0) / 2
_HEART_SCALE = 1.0 / 1.139


def _inside(shape: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """Membership of sprite-frame points (unit half-extent) in a shape."""
  if shape == 0:    # square, half-side 1
    return np.maximum(np.abs(x), np.abs(y)) <= 1.0
  if shape == 1:    # ellipse, semi-axes 1 (along x at orientation 0) and 0.5
    return x * x + (y / 0.5) ** 2 <= 1.0
  return _heart(x / _HEART_SCALE, y / _HEART_SCALE + _HEART_Y_SHIFT)


@functools.lru_cache(maxsize=1)
def sprite_masks() -> np.ndarray:
  """All 720 sprite masks, uint8 [3, 6, 40, PATCH, PATCH], centred on the patch.

  Computed once (about 0.5 s) and cached; read-only.
  """
  s = _SUPERSAMPLE
  # Sub-pixel sample offsets from the patch centre, in pixels; image rows grow
  # downwards, so math y = -row offset.
  sub = (np.arange(PATCH * s) + 0.5) / s - PATCH_RADIUS - 0.5
  col, row = np.meshgrid(sub, sub)
  x0, y0 = col.ravel(), -row.ravel()
  out = np.zeros((3, 6, 40, PATCH, PATCH), np.uint8)
  for k_scale, scale in enumerate(SCALE_VALUES):
    half = BASE_SIZE * scale
    for k_or, theta in enumerate(ORIENTATION_VALUES):
      # Inverse rotation maps image points into the sprite's own frame.
      c, sn = np.cos(theta), np.sin(theta)
      x = (c * x0 + sn * y0) / half
      y = (-sn * x0 + c * y0) / half
      for k_shape in range(3):
        cover = _inside(k_shape, x, y).reshape(PATCH, s, PATCH, s).mean((1, 3))
        out[k_shape, k_scale, k_or] = cover >= 0.5
  out.setflags(write=False)
  return out


@functools.lru_cache(maxsize=1)
def _patch_offsets() -> np.ndarray:
  r = np.arange(PATCH)
  return (r[:, None] * IMAGE_SIZE + r[None, :]).ravel()


def render(factors) -> np.ndarray:
  """Renders dSprites images from factor class indices.

  Args:
    factors: int [N, 5] over (shape, scale, orientation, posX, posY), each in
      its class range (FACTOR_SIZES).

  Returns:
    uint8 [N, 64, 64] with values 0 (background) and 1 (sprite), the format
    of the original file's ``imgs``.
  """
  factors = SPACE.check(factors)
  n = len(factors)
  out = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
  masks = sprite_masks().reshape(-1, PATCH * PATCH)
  offsets = _patch_offsets()
  flat = out.reshape(-1)
  for a in range(0, n, _CHUNK):
    f = factors[a:a + _CHUNK]
    kind = (f[:, 0] * 6 + f[:, 1]) * 40 + f[:, 2]
    top = FIRST_CENTRE + f[:, 4] - PATCH_RADIUS
    left = FIRST_CENTRE + f[:, 3] - PATCH_RADIUS
    base = (np.arange(a, a + len(f)) * IMAGE_SIZE + top) * IMAGE_SIZE + left
    flat[base[:, None] + offsets] = masks[kind]
  return out


def factor_values(factors) -> np.ndarray:
  """Physical values float32 [N, 5] of factor class indices (as latents_values)."""
  factors = SPACE.check(factors)
  return np.stack([v[factors[:, k]] for k, v in enumerate(FACTOR_VALUES)],
                  axis=-1).astype(np.float32)


def subgrid_indices(full_size: int, size: int) -> np.ndarray:
  """Class indices kept when a factor of ``full_size`` values is cut to ``size``.

  Evenly spread, ``(i * full_size) // size``: e.g. 4 of 40 orientations are
  0, 90, 180 and 270 degrees. Used by reduced grids (tests, quick runs).
  """
  if not 1 <= size <= full_size:
    raise ValueError(f"a reduced factor size must lie in [1, {full_size}], "
                     f"got {size}.")
  return (np.arange(size) * full_size) // size


def subgrid(full: FactorSpace, sizes=None) -> tuple[FactorSpace, list]:
  """The reduced space of ``sizes`` and per-factor maps to full class indices.

  ``sizes=None`` keeps the full grid (identity maps).
  """
  if sizes is None:
    sizes = full.sizes
  sizes = tuple(int(s) for s in sizes)
  if len(sizes) != full.num_factors:
    raise ValueError(
        f"factor_sizes {sizes} must give one size per factor "
        f"{full.names} (full sizes {full.sizes}).")
  maps = [subgrid_indices(f, s) for f, s in zip(full.sizes, sizes)]
  return FactorSpace(full.names, sizes), maps


def to_full(factors: np.ndarray, maps) -> np.ndarray:
  """Maps reduced-grid class indices to the full grid's."""
  return np.stack([m[factors[:, k]] for k, m in enumerate(maps)], axis=-1)
