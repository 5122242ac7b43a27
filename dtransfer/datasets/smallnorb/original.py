"""Reader for the SmallNORB binary matrices (``*.mat`` or ``*.mat.gz``).

Format (cs.nyu.edu/~ylclab/data/norb-v1.0-small): int32 little-endian magic
(507333717 uint8, 507333716 int32, 507333713 float32, 507333715 float64),
int32 ndim, then max(3, ndim) int32 dims, then the data. ``dat`` is
[24300, 2, 96, 96] uint8 (stereo pair), ``cat`` [24300] categories, ``info``
[24300, 4] (instance, elevation, azimuth 0..34 step 2, lighting).

As disentanglement_lib: training and test files are concatenated (48,600
images), camera 0 only, resized 96 -> 64 (Pillow LANCZOS, dlib's ANTIALIAS),
azimuth / 2. Unlike dlib, the instance (10: training 4,6,7,8,9, test
0,1,2,3,5) is a factor, not a random nuisance: with it the five factors
(category 5, instance 10, elevation 9, azimuth 18, lighting 6) form a
complete grid of exactly 48,600 cells, so index = ravel(factors) holds.
Leave the instance out of metrics to reproduce dlib's four latent factors.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from dtransfer.datasets import _grid

FACTOR_NAMES = ("category", "instance", "elevation", "azimuth", "lighting")
FACTOR_SIZES = (5, 10, 9, 18, 6)
IMAGE_SHAPE = (64, 64, 1)
_BASE = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"
SPLITS = {"training": "smallnorb-5x46789x9x18x6x2x96x96-training",
          "testing": "smallnorb-5x01235x9x18x6x2x96x96-testing"}
KINDS = ("dat", "cat", "info")
_MAGIC = {507333717: np.uint8, 507333716: np.dtype("<i4"),
          507333713: np.dtype("<f4"), 507333715: np.dtype("<f8")}


def filenames() -> list[str]:
  """The six original files (gzipped, as downloaded)."""
  return [f"{SPLITS[s]}-{k}.mat.gz" for s in SPLITS for k in KINDS]


def url(name: str) -> str:
  return _BASE + name


INSTRUCTIONS = (
    f"Download the six files {', '.join(filenames())} from {_BASE} into the "
    "manual directory (gzipped as downloaded, or gunzipped to .mat).")


def find(data_dir, name: str) -> str:
  """Path of ``name`` (.mat.gz) or its gunzipped .mat in data_dir (or dlib's
  small_norb/ subfolder)."""
  if data_dir is None:
    raise ValueError(f"SmallNORB needs data_dir. {INSTRUCTIONS}")
  plain = name[:-3] if name.endswith(".gz") else name
  for d in (data_dir, os.path.join(data_dir, "small_norb")):
    for n in (name, plain):
      if os.path.exists(os.path.join(d, n)):
        return os.path.join(d, n)
  raise FileNotFoundError(f"missing {os.path.join(data_dir, name)} (or "
                          f"{plain}). {INSTRUCTIONS}")


def _open(path):
  path = os.fspath(path)
  return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _read_header(f, path):
  head = f.read(8)
  if len(head) < 8:
    raise ValueError(f"{path} is empty or truncated; download it again.")
  magic, ndim = np.frombuffer(head, "<i4")
  if int(magic) not in _MAGIC or not 1 <= ndim <= 8:
    raise ValueError(f"{path}: magic number {int(magic)} / ndim {int(ndim)} "
                     "is not a SmallNORB binary matrix; the file is corrupt "
                     "or not SmallNORB.")
  dims = np.frombuffer(f.read(4 * max(3, int(ndim))), "<i4")[:int(ndim)]
  return np.dtype(_MAGIC[int(magic)]), tuple(int(d) for d in dims)


def read_matrix(path) -> np.ndarray:
  """A whole binary matrix (for the small cat/info files)."""
  try:
    with _open(path) as f:
      dtype, dims = _read_header(f, path)
      data = np.frombuffer(f.read(), dtype)
  except (OSError, EOFError) as e:
    raise ValueError(f"cannot read {path} ({e}); download it again.") from e
  if data.size != int(np.prod(dims)):
    raise ValueError(f"{path} holds {data.size} values, its header says "
                     f"{dims}: it is truncated. Download it again.")
  return data.reshape(dims)


def resize64(img96: np.ndarray) -> np.ndarray:
  from PIL import Image  # pylint: disable=g-import-not-at-top
  return np.asarray(Image.fromarray(img96).resize((64, 64), Image.LANCZOS))


def read_camera0(path, chunk: int = 1024) -> np.ndarray:
  """Camera-0 images of a dat file, resized to 64: [N, 64, 64] uint8.

  Streams the file in chunks, so only the 64x64 result is held in memory.
  """
  try:
    with _open(path) as f:
      dtype, dims = _read_header(f, path)
      if dtype != np.uint8 or len(dims) != 4 or dims[1:] != (2, 96, 96):
        raise ValueError(f"{path} is {dims} {dtype}; a SmallNORB dat file "
                         "is [N, 2, 96, 96] uint8.")
      per = 2 * 96 * 96
      out = np.empty((dims[0], 64, 64), np.uint8)
      for s in range(0, dims[0], chunk):
        m = min(chunk, dims[0] - s)
        buf = f.read(m * per)
        if len(buf) != m * per:
          raise ValueError(f"{path} ends early: it is truncated. Download "
                           "it again.")
        pairs = np.frombuffer(buf, np.uint8).reshape(m, 2, 96, 96)
        out[s:s + m] = np.stack([resize64(p[0]) for p in pairs])
  except (OSError, EOFError) as e:
    raise ValueError(f"cannot read {path} ({e}); download it again.") from e
  return out


def read_labels(data_dir_or_paths) -> np.ndarray:
  """Factor rows [N, 5] of training + test (azimuth halved)."""
  rows = []
  for split in SPLITS:
    cat = read_matrix(_path(data_dir_or_paths, split, "cat")).reshape(-1)
    info = read_matrix(_path(data_dir_or_paths, split, "info"))
    if info.ndim != 2 or info.shape != (len(cat), 4):
      raise ValueError(f"SmallNORB {split} info is {info.shape}, expected "
                       f"[{len(cat)}, 4]; the files do not belong together.")
    rows.append(np.column_stack([cat, info[:, 0], info[:, 1],
                                 info[:, 2] // 2, info[:, 3]]))
  return np.concatenate(rows).astype(np.int64)


def _path(src, split: str, kind: str):
  name = f"{SPLITS[split]}-{kind}.mat.gz"
  if isinstance(src, dict):
    return src[name]
  return find(src, name)


class SmallNORBSource:
  """ImageSource over the six original files (factor order, 64x64x1).

  All camera-0 images are decoded once into memory (48,600 x 64 x 64 =
  199 MB) on first use.
  """

  def __init__(self, files):
    """files: data_dir, or a dict filename -> path (the builder's)."""
    self.name = "smallnorb"
    self._files = files
    labels = read_labels(files)
    self.grid = _grid.LabelGrid(labels, FACTOR_NAMES, what="SmallNORB labels")
    if len(labels) == 48_600 and self.grid.space.sizes != FACTOR_SIZES:
      raise ValueError(f"SmallNORB labels span {self.grid.space.sizes}, "
                       f"expected {FACTOR_SIZES}.")
    self.space = self.grid.space
    self.image_shape = IMAGE_SHAPE
    self._images = None

  def all_images(self) -> np.ndarray:
    """Every record's image [N, 64, 64, 1] in factor order (cached)."""
    if self._images is None:
      rows = np.concatenate([read_camera0(_path(self._files, s, "dat"))
                             for s in SPLITS])
      if len(rows) != len(self.grid.order):
        raise ValueError(f"SmallNORB dat files hold {len(rows)} images, the "
                         f"labels {len(self.grid.order)}; download them again.")
      self._images = rows[self.grid.order][..., None]
    return self._images

  def images(self, index, rng=None) -> np.ndarray:
    index = np.asarray(index, np.int64).reshape(-1)
    self.space.factors(index)  # range check
    return self.all_images()[index]

  def factors(self, index) -> np.ndarray:
    """Original label values (instance ids, azimuth/2) of records."""
    return self.grid.factors[np.asarray(index, np.int64)]
