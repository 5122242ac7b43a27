"""real_objects: an offline real-image target in the style of Coil100-Augmented.

Why: transfer experiments need a real-photo target, but COIL-100 and RGB-D
Objects need downloads. Fourteen public-domain/CC0 photo crops ship with
dtransfer (assets/, from scikit-image's sample data); each is an object, and
the Coil100-Augmented recipe (Dapueto et al.) generates the other factors:

  object N (14), rotation 18 (0, 20, ..., 340 degrees), scale 9
  (linspace(1, .5, 9).round(2)); 64x64x3 uint8; record i = unravel(i).

Per object: the crop is fitted (Lanczos, aspect kept) into a 128x128 black
canvas; rotated about the centre (nearest, black border), then zoomed about
the centre (nearest, black border), exactly the recipe's rotate_image and
zoom_at; then reduced to 64x64 by 2x2 box averaging (the authors' loader
resizes 128 -> 64 with torchvision's antialiased bilinear; documented
deviation).
"""

from __future__ import annotations

import csv
import functools
import os

import numpy as np

from dtransfer.data.factor_space import FactorSpace
from dtransfer.datasets import _coil_recipe
from dtransfer.datasets import _image_ops

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
# The recipe, re-exported: ROTATIONS, SCALES, CANVAS, augment, transform_maps.
ROTATIONS, SCALES, CANVAS = _coil_recipe.ROTATIONS, _coil_recipe.SCALES, _coil_recipe.CANVAS
augment, transform_maps = _coil_recipe.augment, _coil_recipe.transform_maps
IMAGE_SHAPE = (64, 64, 3)


@functools.lru_cache(maxsize=1)
def object_table() -> tuple[dict, ...]:
  """Rows of assets/objects.csv (object, name, file, source, crop, licence)."""
  with open(os.path.join(ASSETS, "objects.csv"), newline="") as f:
    return tuple(csv.DictReader(f))


def object_names() -> tuple[str, ...]:
  return tuple(r["name"] for r in object_table())


def space() -> FactorSpace:
  return FactorSpace(("object", "rotation", "scale"),
                     (len(object_table()), len(ROTATIONS), len(SCALES)))


def fit_on_black(img: np.ndarray, size: int = CANVAS) -> np.ndarray:
  """Resizes so the longer side is `size` (Lanczos) and centres on black."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  h, w = img.shape[:2]
  s = size / max(h, w)
  nh, nw = max(1, round(h * s)), max(1, round(w * s))
  small = np.asarray(Image.fromarray(img).resize((nw, nh), Image.LANCZOS))
  out = np.zeros((size, size, 3), np.uint8)
  y0, x0 = (size - nh) // 2, (size - nw) // 2
  out[y0:y0 + nh, x0:x0 + nw] = small
  return out


@functools.lru_cache(maxsize=1)
def load_objects() -> np.ndarray:
  """The object canvases [N, 128, 128, 3] uint8, in objects.csv order."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  out = []
  for row in object_table():
    path = os.path.join(ASSETS, row["file"])
    if not os.path.exists(path):
      raise FileNotFoundError(
          f"missing {path}: the real_objects assets are incomplete; reinstall "
          "dtransfer or regenerate them with assets/make_assets.py.")
    out.append(fit_on_black(np.asarray(Image.open(path).convert("RGB"))))
  return np.stack(out)


@functools.lru_cache(maxsize=1)
def _packed_objects() -> np.ndarray:
  """Canvases as one uint32 per RGBx pixel plus a trailing black pixel."""
  objs = load_objects().reshape(-1, CANVAS * CANVAS, 3)
  rgbx = np.zeros((len(objs), CANVAS * CANVAS + 1, 4), np.uint8)
  rgbx[:, :-1, :3] = objs
  return rgbx.view(np.uint32)[..., 0]


class RealObjectsSource:
  """ImageSource over (object, rotation, scale), images computed and cached."""

  def __init__(self):
    self.space = space()
    self.image_shape = IMAGE_SHAPE
    self._cache = np.zeros((self.space.num_records,) + IMAGE_SHAPE, np.uint8)
    self._ready = np.zeros(self.space.num_records, bool)

  def images(self, index, rng=None) -> np.ndarray:
    index = np.asarray(index, np.int64).reshape(-1)
    if index.size and (index.min() < 0 or index.max() >= self.space.num_records):
      raise IndexError(f"record index out of range [0, {self.space.num_records}).")
    todo_all = np.unique(index[~self._ready[index]])
    for start in range(0, todo_all.size, 256):  # bounded memory
      todo = todo_all[start:start + 256]
      packed = _packed_objects()                                  # [N, HW+1]
      maps = transform_maps()
      f = self.space.factors(todo)
      m = maps[f[:, 1], f[:, 2]]                                  # [n, HW]
      # Index HW is a black pixel, so the border (-1) needs no masking.
      big = packed[f[:, 0, None], np.where(m < 0, CANVAS * CANVAS, m)]
      big = big.view(np.uint8).reshape(-1, CANVAS, CANVAS, 4)
      self._cache[todo] = _image_ops.resize_area(big, IMAGE_SHAPE[0])[..., :3]
      self._ready[todo] = True
    return self._cache[index]
