"""Reader for DeepMind's original ``3dshapes.h5`` (images uint8, labels float).

The file holds ``images`` [480000, 64, 64, 3] uint8 and ``labels`` [480000, 6]
float64 (floor/wall/object hue, scale, shape, orientation values). The authors'
loader read the whole image array as float32 (23.6 GB); here images are only
read on demand, in chunks, as uint8. Float labels become class indices by
matching them to the known value grids, so a file of a sub-grid (tests) keeps
the full dataset's class indices.
"""

from __future__ import annotations

import os

import numpy as np

from dtransfer.datasets import _grid
from dtransfer.datasets.shapes3d import renderer

FILENAME = "3dshapes.h5"
URL = "https://storage.googleapis.com/3d-shapes/3dshapes.h5"
NUM_BYTES = 267_573_662
SHA256 = "0a0f6ed98baff276a50f3a081a7434d788da63cb135a98189b2a5b5769be1785"
INSTRUCTIONS = (
    f"Download {URL} ({NUM_BYTES:,} bytes, sha256 {SHA256}) and place it, "
    f"named {FILENAME}, in the manual directory.")


def open_h5(path):
  """Opens the h5 file read-only, checking its layout.

  Raises:
    FileNotFoundError / ValueError: missing file, not HDF5, wrong layout.
  """
  import h5py  # pylint: disable=g-import-not-at-top
  path = os.fspath(path)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"missing {path}. {INSTRUCTIONS}")
  try:
    f = h5py.File(path, "r")
  except OSError as e:
    raise ValueError(
        f"{path} is not a readable HDF5 file ({e}); it is corrupt or "
        f"truncated. Delete it and download {URL} again.") from e
  for key in ("images", "labels"):
    if key not in f:
      f.close()
      raise ValueError(f"{path} has no '{key}' dataset; expected DeepMind's "
                       f"3dshapes.h5 with 'images' and 'labels' (from {URL}).")
  imgs, labels = f["images"], f["labels"]
  if imgs.ndim != 4 or tuple(imgs.shape[1:]) != renderer.IMAGE_SHAPE or (
      imgs.dtype != np.uint8) or labels.shape != (imgs.shape[0], 6):
    shapes = (imgs.shape, imgs.dtype, labels.shape)
    f.close()
    raise ValueError(f"{path}: images/labels have shapes {shapes}; expected "
                     "images [N, 64, 64, 3] uint8 and labels [N, 6].")
  return f


def labels_to_factors(labels: np.ndarray) -> np.ndarray:
  """Float label rows [N, 6] -> class indices [N, 6] of the full grid.

  Raises:
    ValueError: a value is not (within half a grid step of) a known value.
  """
  labels = np.asarray(labels, dtype=np.float64)
  out = np.empty(labels.shape, np.int64)
  for k, grid in enumerate(renderer.FACTOR_VALUES):
    dist = np.abs(labels[:, k, None] - grid[None, :])
    out[:, k] = dist.argmin(1)
    step = np.min(np.diff(grid))
    worst = dist.min(1).max() if len(labels) else 0.0
    if worst > 0.25 * step:
      raise ValueError(
          f"label column {k} ({renderer.FACTOR_NAMES[k]}) has values off the "
          f"known grid {np.round(grid, 4).tolist()} (worst distance {worst:.4g});"
          " the file is not DeepMind's 3dshapes.h5.")
  return out


def grid_index(factors: np.ndarray) -> _grid.LabelGrid:
  """The file's rows on the factor (sub-)grid they span, in C order (``values``,
  ``space``, ``order``: file row of each record, ``factors``)."""
  return _grid.LabelGrid(factors, renderer.FACTOR_NAMES, what="the 3dshapes labels")


def read_index(path) -> _grid.LabelGrid:
  with open_h5(path) as f:
    return grid_index(labels_to_factors(f["labels"][()]))


def iter_chunks(path, chunk: int = 2048):
  """Yields (record_start, factors [n, 6], values [n, 6], images [n,64,64,3]).

  Records come in factor order; rows are read in chunks, never all at once.
  """
  with open_h5(path) as f:
    labels = f["labels"][()]
    index = grid_index(labels_to_factors(labels))
    images = f["images"]
    contiguous = np.array_equal(index.order, np.arange(len(index.order)))
    for start in range(0, len(index.order), chunk):
      rows = index.order[start:start + chunk]
      if contiguous:
        imgs = images[start:start + len(rows)]
      else:
        srt = np.argsort(rows)
        imgs = np.empty((len(rows),) + renderer.IMAGE_SHAPE, np.uint8)
        imgs[srt] = images[np.sort(rows)]
      yield (start, index.factors[start:start + len(rows)],
             labels[rows].astype(np.float32), imgs)


class H5Shapes3DSource:
  """Random-access ImageSource over an original 3dshapes.h5 (factor order)."""

  def __init__(self, path):
    self.path = os.fspath(path)
    self._index = read_index(self.path)
    self.space = self._index.space
    self.image_shape = renderer.IMAGE_SHAPE
    self._file = None

  def _images(self):
    if self._file is None:
      self._file = open_h5(self.path)
    return self._file["images"]

  def images(self, index, rng=None) -> np.ndarray:
    index = np.asarray(index, np.int64).reshape(-1)
    if index.size and (index.min() < 0 or index.max() >= self.space.num_records):
      raise IndexError(f"record index out of range [0, {self.space.num_records}).")
    rows = self._index.order[index]
    uniq, inv = np.unique(rows, return_inverse=True)  # h5py needs increasing
    return self._images()[uniq][inv]

  def factors(self, index) -> np.ndarray:
    """Full-grid class indices of records (differs from space.factors only
    for a sub-grid file)."""
    return self._index.factors[np.asarray(index, np.int64)]

  def __getstate__(self):  # h5py handles do not pickle (grain workers)
    state = dict(self.__dict__)
    state["_file"] = None
    return state
