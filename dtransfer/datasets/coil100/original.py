"""Coil100-Augmented and Coil100-Augmented-binary (Dapueto et al., 2024).

Factors: object 100, pose 72 (0..355 step 5), rotation 18 (0..340 step 20),
scale 9 (linspace(1, .5, 9).round(2)) = 1,166,400 images of 64x64x3.

Two ways to get them, both without cv2:
  * from the original ``coil-100.zip`` (Columbia CAVE; 7,200 128x128 PNGs
    ``coil-100/obj{o}__{pose}.png``), applying the authors' recipe on demand:
    augmented: rotate_image -> zoom_at (nearest, black border) at 128, then
      128 -> 64 (2x2 box mean; the loader used an antialiased bilinear);
    binary: gray -> median 5 -> Otsu -> close 5x5 -> INTER_AREA 64 -> Otsu,
      then the same rotation and zoom at 64; stored as 3 equal channels.
  * from a prebuilt copy (``classes.csv`` + PNGs, e.g. the Hugging Face
    ``dappu97/Coil100-Augmented`` release), label-encoding each csv column.
"""

from __future__ import annotations

import csv
import functools
import os
import re
import threading
import zipfile

import numpy as np

from dtransfer.data.factor_space import FactorSpace
from dtransfer.datasets import _archive
from dtransfer.datasets import _image_ops
from dtransfer.datasets._coil_recipe import ROTATIONS, SCALES, transform_maps
from dtransfer.datasets import _files

FACTOR_NAMES = ("object", "pose", "rotation", "scale")
FACTOR_SIZES = (100, 72, 18, 9)
SPACE = FactorSpace(FACTOR_NAMES, FACTOR_SIZES)
POSES = np.arange(0, 360, 5)
IMAGE_SHAPE = (64, 64, 3)
ZIP_NAME = "coil-100.zip"
URL = ("http://www.cs.columbia.edu/CAVE/databases/SLAM_coil-20_coil-100/"
       "coil-100/coil-100.zip")
ZIP_BYTES = 130_688_843
ZIP_SHA256 = "fcb4b8b01c0778f416d8d7a09f45082c4f7075cc74743dcddd5c44307bd4afe7"
INSTRUCTIONS = (f"Download {URL} ({ZIP_BYTES:,} bytes) and place it, named "
                f"{ZIP_NAME}, in the manual directory (or data_dir).")
_NAME_RE = re.compile(r"(?:^|/)obj(\d+)__(\d+)\.png$")


def binarize(rgb128: np.ndarray) -> np.ndarray:
  """The authors' binary preprocessing of one 128x128 RGB image -> 64x64."""
  gray = _image_ops.to_gray(rgb128)
  b = _image_ops.otsu(_image_ops.median_blur(gray, 5))
  b = _image_ops.morph_close(b, 5)
  return _image_ops.otsu(_image_ops.resize_area(b, 64))


class ZipCoil100Source:
  """ImageSource computing Coil100-Augmented records from coil-100.zip.

  The zip's (object, pose) files define the grid, so a partial zip (tests)
  gives a smaller space; ``factors(i)`` returns full-grid class indices.
  """

  def __init__(self, path, binary: bool = False, cache_size: int = 2048):
    self.path = os.fspath(path)
    self.binary = binary
    if not os.path.exists(self.path):
      raise FileNotFoundError(f"missing {self.path}. {INSTRUCTIONS}")
    try:
      with zipfile.ZipFile(self.path) as z:
        # Every member is checked (absolute, '..', links) with an error naming it.
        names = _archive.safe_zip_names(self.path, z)
    except zipfile.BadZipFile as e:
      raise ValueError(f"{self.path} is not a valid zip ({e}); it is corrupt "
                       f"or truncated. Delete it and download {URL} again.") from e
    found = {}
    for n in names:
      # Only <obj>__<pose>.png at the top or in one folder (coil-100/); other
      # safe names (the archive's conversion script) are skipped.
      m = _NAME_RE.search(n) if n.count("/") <= 1 else None
      if m:
        obj, pose = int(m.group(1)), int(m.group(2))
        if not (1 <= obj <= 100 and pose % 5 == 0 and 0 <= pose < 360):
          raise ValueError(f"{self.path}: unexpected file {n} (objects are "
                           "obj1..obj100, poses 0..355 step 5).")
        found[(obj - 1, pose // 5)] = n
    if not found:
      raise ValueError(f"{self.path} holds no coil-100/obj<o>__<pose>.png "
                       f"files; is it COIL-100 from {URL}?")
    self.objects = np.array(sorted({k[0] for k in found}))
    self.poses = np.array(sorted({k[1] for k in found}))
    if len(found) != len(self.objects) * len(self.poses):
      raise ValueError(f"{self.path} lacks some object/pose images: found "
                       f"{len(found)} of {len(self.objects) * len(self.poses)}.")
    self._files = found
    self.space = FactorSpace(FACTOR_NAMES, (len(self.objects), len(self.poses),
                                            len(ROTATIONS), len(SCALES)))
    self.image_shape = IMAGE_SHAPE
    self._zip = None
    self._lock = threading.Lock()
    self._base = functools.lru_cache(maxsize=cache_size)(self._load_base)

  def __getstate__(self):
    state = dict(self.__dict__)
    state.update(_zip=None, _lock=None, _base=None)
    return state

  def __setstate__(self, state):
    self.__dict__.update(state)
    self._lock = threading.Lock()
    self._base = functools.lru_cache(maxsize=2048)(self._load_base)

  def factors(self, index) -> np.ndarray:
    f = self.space.factors(index)
    f[:, 0] = self.objects[f[:, 0]]
    f[:, 1] = self.poses[f[:, 1]]
    return f

  def _load_base(self, obj: int, pose: int) -> np.ndarray:
    """The canvas the transforms apply to: RGB 128, or binary 64 (x3)."""
    from PIL import Image  # pylint: disable=g-import-not-at-top
    with self._lock:
      if self._zip is None:
        self._zip = zipfile.ZipFile(self.path)
      with self._zip.open(self._files[(obj, pose)]) as f:
        img = np.asarray(Image.open(f).convert("RGB"))
    if img.shape != (128, 128, 3):
      raise ValueError(f"{self._files[(obj, pose)]} is {img.shape}, COIL-100 "
                       "images are 128x128x3.")
    if self.binary:
      return np.repeat(binarize(img)[..., None], 3, -1)
    return img

  def images(self, index, rng=None) -> np.ndarray:
    index = np.asarray(index, np.int64).reshape(-1)
    f = self.factors(index)
    out = np.empty((len(index),) + IMAGE_SHAPE, np.uint8)
    for i, (o, p, r, s) in enumerate(f):
      base = self._base(int(o), int(p))
      maps = transform_maps(base.shape[0])
      img = _image_ops.apply_map(base, maps[r, s])
      out[i] = img if base.shape[0] == 64 else _image_ops.resize_area(img, 64)
    return out


class PrebuiltCoil100Source:
  """ImageSource over a prebuilt Coil100-Augmented folder with classes.csv.

  Columns image, object, pose, rotation, scale; each factor column is
  label-encoded (sorted unique values -> 0..n-1), as the authors' loader does.
  Images are resized to 64 (Pillow, antialiased) and made 3-channel.
  """

  def __init__(self, folder):
    self.folder = os.fspath(folder)
    csv_path = os.path.join(self.folder, "classes.csv")
    if not os.path.exists(csv_path):
      raise FileNotFoundError(
          f"missing {csv_path}: a prebuilt Coil100-Augmented folder needs "
          "classes.csv (image, object, pose, rotation, scale) next to its PNGs.")
    with open(csv_path, newline="") as f:
      rows = list(csv.DictReader(f))
    need = ("image",) + FACTOR_NAMES
    if not rows or any(c not in rows[0] for c in need):
      raise ValueError(f"{csv_path} must have columns {need}, got "
                       f"{list(rows[0]) if rows else 'no rows'}.")
    cols = []
    for name in FACTOR_NAMES:
      raw = np.array([float(r[name]) for r in rows])
      uniq, inv = np.unique(raw, return_inverse=True)
      cols.append(inv)
    labels = np.stack(cols, -1)
    sizes = tuple(int(c.max()) + 1 for c in cols)
    self.space = FactorSpace(FACTOR_NAMES, sizes)
    rec = self.space.index(labels)
    if len(rows) != self.space.num_records or len(np.unique(rec)) != len(rec):
      raise ValueError(f"{csv_path} has {len(rows)} rows but does not cover "
                       f"the grid {sizes} exactly once; the copy is incomplete.")
    self._files = np.empty(len(rows), object)
    self._files[rec] = [r["image"] for r in rows]
    self.image_shape = IMAGE_SHAPE

  def images(self, index, rng=None) -> np.ndarray:
    from PIL import Image  # pylint: disable=g-import-not-at-top
    index = np.asarray(index, np.int64).reshape(-1)
    self.space.factors(index)  # range check
    out = np.empty((len(index),) + IMAGE_SHAPE, np.uint8)
    for i, j in enumerate(index):
      path = os.path.join(self.folder, self._files[j])
      if not os.path.exists(path):
        raise FileNotFoundError(f"missing {path} listed in classes.csv.")
      im = Image.open(path).convert("RGB")
      if im.size != (64, 64):
        im = im.resize((64, 64), Image.BILINEAR)
      out[i] = np.asarray(im)
    return out


def find_zip(data_dir) -> str:
  return _files.find_first(data_dir, (ZIP_NAME, os.path.join("coil-100", ZIP_NAME)),
                           what=ZIP_NAME, instructions=INSTRUCTIONS, dataset="COIL-100")
