"""Reader for NVIDIA's Isaac3D release (Nie et al., ICML 2020).

Assumed layout (the public ``Isaac3D_down128`` zip, as read by the users of
the release found in public code, e.g. ``Isaac3D_down128/images/{i:06}.png``
with ``labels.npy``)::

  Isaac3D_down128/images/000000.png ... 737279.png   128x128 RGB
  Isaac3D_down128/labels.npy                          [737280, 9] factor values

Image ``i`` shows the factor values in row ``i`` of labels.npy, and the rows
run through the grid in C order (last factor fastest), so index =
ravel_multi_index(factors, FACTOR_SIZES). This reader does not rely on that
order: each label column is label-encoded (sorted distinct values -> 0..n-1)
and the rows are mapped onto the grid, which must be complete.
"""

from __future__ import annotations

import os

import numpy as np

from dtransfer.datasets import _grid
from dtransfer.datasets import _image_ops

FACTOR_NAMES = ("object_shape", "robot_x", "robot_y", "camera_height",
                "object_scale", "lighting_intensity", "lighting_direction",
                "object_color", "wall_color")
FACTOR_SIZES = (3, 8, 5, 4, 4, 4, 6, 4, 4)
NUM_RECORDS = 737_280
ORIGINAL_SIZE = 128
RESOLUTIONS = (64, 128)
FOLDER = "Isaac3D_down128"
URL = "https://drive.google.com/uc?id=1OmQ1G2wnm6eTsSFGTKFZZAh5D3nQTW1B"
INSTRUCTIONS = (
    f"Download the Isaac3D release (Nie et al. 2020; Google Drive file "
    f"{URL}, linked from https://github.com/NVlabs/High-res-disentanglement-"
    f"datasets) and unzip it into the manual directory, so that "
    f"<manual_dir>/{FOLDER}/labels.npy and <manual_dir>/{FOLDER}/images/"
    "000000.png exist.")


def find_folder(data_dir) -> str:
  """The Isaac3D_down128 folder in data_dir (or data_dir itself)."""
  if data_dir is None:
    raise ValueError(f"Isaac3D needs data_dir. {INSTRUCTIONS}")
  data_dir = os.fspath(data_dir)
  for c in (os.path.join(data_dir, FOLDER), data_dir):
    if os.path.exists(os.path.join(c, "labels.npy")):
      return c
  raise FileNotFoundError(
      f"missing {os.path.join(data_dir, FOLDER, 'labels.npy')}. {INSTRUCTIONS}")


class Isaac3DSource:
  """Random-access ImageSource over the extracted release (factor order).

  ``resolution`` 64 serves 2x2 box means of the 128x128 originals.
  """

  def __init__(self, folder, resolution: int = 64):
    if resolution not in RESOLUTIONS:
      raise ValueError(f"Isaac3D resolution must be one of {RESOLUTIONS}, "
                       f"got {resolution}.")
    self.folder = os.fspath(folder)
    self.name = "isaac3d"
    path = os.path.join(self.folder, "labels.npy")
    try:
      labels = np.load(path)
    except (OSError, ValueError) as e:
      raise ValueError(f"cannot read {path} ({e}); it is corrupt. "
                       f"{INSTRUCTIONS}") from e
    if labels.ndim != 2 or labels.shape[1] != len(FACTOR_NAMES):
      raise ValueError(f"{path} has shape {labels.shape}; Isaac3D labels are "
                       f"[N, {len(FACTOR_NAMES)}] ({', '.join(FACTOR_NAMES)}).")
    self.grid = _grid.LabelGrid(_grid.encode_columns(labels), FACTOR_NAMES,
                                what=path)
    if len(labels) == NUM_RECORDS and self.grid.space.sizes != FACTOR_SIZES:
      raise ValueError(f"{path}: factor sizes {self.grid.space.sizes}, "
                       f"expected {FACTOR_SIZES}.")
    self.space = self.grid.space
    self.values = labels[self.grid.order].astype(np.float32)
    self.resolution = resolution
    self.image_shape = (resolution, resolution, 3)

  def path(self, row: int) -> str:
    return os.path.join(self.folder, "images", f"{int(row):06d}.png")

  def _read(self, row: int) -> np.ndarray:
    from PIL import Image  # pylint: disable=g-import-not-at-top
    p = self.path(row)
    if not os.path.exists(p):
      raise FileNotFoundError(f"missing {p} (row {row} of labels.npy). "
                              f"{INSTRUCTIONS}")
    with Image.open(p) as im:
      img = np.asarray(im.convert("RGB"))
    if img.shape != (ORIGINAL_SIZE, ORIGINAL_SIZE, 3):
      raise ValueError(f"{p} is {img.shape}; the Isaac3D_down128 images are "
                       f"{ORIGINAL_SIZE}x{ORIGINAL_SIZE}x3.")
    return img

  def images(self, index, rng=None) -> np.ndarray:
    index = np.asarray(index, np.int64).reshape(-1)
    self.space.factors(index)  # range check
    imgs = np.stack([self._read(r) for r in self.grid.order[index]]) if len(
        index) else np.zeros((0, ORIGINAL_SIZE, ORIGINAL_SIZE, 3), np.uint8)
    if self.resolution != ORIGINAL_SIZE:
      imgs = _image_ops.resize_area(imgs, self.resolution)
    return imgs
