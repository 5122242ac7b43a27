"""Reader for NVIDIA's Isaac3D release (Nie et al., ICML 2020).

Layout of the public ``Isaac3D_down128`` zip (Google Drive link in
NVlabs/High-res-disentanglement-datasets)::

  Isaac3D_down128/images/000000.png ... 737279.png   128x128 RGB
  Isaac3D_down128/labels.npy                          [737280, 9] factor values

What is documented and by whom (details and links in
dtransfer_isaac3d/README.md):
  * the image index (NVIDIA, dataset_demo.py): image ``{i:06d}.png`` has the
    factors ``unravel_index(i, (3, 8, 5, 4, 4, 4, 6, 4, 4))`` in the order of
    FACTOR_NAMES, i.e. C order, wall colour fastest. (The README's prose
    formula pairs the same coefficients with the names in another order,
    inconsistent with the sizes; the demo code is consistent.)
  * labels.npy: NVIDIA documents no format. That row ``i`` describes image
    ``i`` and that its columns follow the same factor order comes from
    third-party code (kylehkhsu/latent_quantization,
    disentangle/datasets/isaac3d/).

So labels.npy is checked against the documented image index: after
label-encoding each column (sorted distinct values -> 0..n-1, values being
uniform in [0, 1]), row ``i`` must equal ``unravel_index(i, sizes)``. A
swap between two columns of equal size (five factors have 4 values) or
shuffled rows raise an error naming the columns. ``check_index=False``
skips the check for re-packed copies and then trusts the labels: rows are
mapped onto the grid by their values, which must cover it exactly once.
"""

from __future__ import annotations

import os

import numpy as np

from dtransfer.datasets import _grid
from dtransfer.datasets import _image_ops
from dtransfer.datasets import _files

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
  return _files.find_first(data_dir, (FOLDER, ""), what=f"{FOLDER}/labels.npy",
                           instructions=INSTRUCTIONS, dataset="Isaac3D",
                           accept=lambda c: os.path.exists(os.path.join(c, "labels.npy")))


def check_label_order(codes: np.ndarray, sizes,
                      what: str = "labels.npy") -> None:
  """Checks label codes [N, K] against the documented image index.

  Row ``i`` must hold ``unravel_index(i, sizes)``: image ``{i:06d}.png``
  shows those factors (NVlabs dataset_demo.py). Catches a column order that
  differs from FACTOR_NAMES (e.g. two 4-valued columns swapped) and rows that
  are not in image order.

  Raises:
    ValueError: naming the columns that match other factors' index digits,
      or the first row that disagrees.
  """
  codes = np.asarray(codes, np.int64)
  sizes = tuple(int(s) for s in sizes)
  expect = np.stack(np.unravel_index(np.arange(len(codes)), sizes), -1)
  if codes.shape == expect.shape and np.array_equal(codes, expect):
    return
  names = FACTOR_NAMES
  bad = [k for k in range(codes.shape[1])
         if not np.array_equal(codes[:, k], expect[:, k])]
  # Which factor's index digit does each wrong column follow?
  moved = {k: [j for j in range(expect.shape[1]) if j != k
               and np.array_equal(codes[:, k], expect[:, j])] for k in bad}
  if bad and all(moved[k] for k in bad):
    pairs = ", ".join(f"column {k} (read as {names[k]}) follows the index "
                      f"digit of {' or '.join(names[j] for j in moved[k])}"
                      for k in bad)
    raise ValueError(
        f"{what}: its columns are not in the order of the documented image "
        f"index ({pairs}). The factor order {names} comes from NVIDIA's "
        "dataset_demo.py (image {i:06d}.png = unravel_index(i, "
        f"{FACTOR_SIZES})); this labels.npy is not the public release or was "
        "re-saved with its columns permuted. Re-extract Isaac3D_down128 from "
        f"{URL}, or pass check_index=False to trust the labels as they are.")
  row = int(np.nonzero(np.any(codes != expect, 1))[0][0])
  raise ValueError(
      f"{what}: row {row} holds factors {codes[row].tolist()} but the "
      f"documented image index gives image {row:06d}.png the factors "
      f"{expect[row].tolist()} ({', '.join(names)}; NVIDIA's dataset_demo.py)."
      " The rows are not in image order or the columns are mixed up, so "
      "labels and images cannot be matched safely. Re-extract "
      f"Isaac3D_down128 from {URL}, or pass check_index=False if this copy "
      "was re-packed with each row still describing its image.")


class Isaac3DSource:
  """Random-access ImageSource over the extracted release (factor order).

  ``resolution`` 64 serves 2x2 box means of the 128x128 originals.
  ``check_index`` (default) requires labels.npy to agree with the documented
  image index (see check_label_order); False trusts the labels as they are.
  """

  def __init__(self, folder, resolution: int = 64, check_index: bool = True):
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
    codes = _grid.encode_columns(labels)
    self.grid = _grid.LabelGrid(codes, FACTOR_NAMES, what=path)
    if len(labels) == NUM_RECORDS and self.grid.space.sizes != FACTOR_SIZES:
      raise ValueError(f"{path}: factor sizes {self.grid.space.sizes}, "
                       f"expected {FACTOR_SIZES}.")
    if check_index:
      check_label_order(codes, self.grid.space.sizes, what=path)
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
