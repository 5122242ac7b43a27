"""Reader for DeepMind's original ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``.

The npz holds ``imgs`` uint8 [737280, 64, 64] (0/1), ``latents_classes`` int
[737280, 6] and ``latents_values`` float64 [737280, 6] over (color, shape,
scale, orientation, posX, posY), plus a pickled ``metadata`` dict. The colour
axis has a single value and is dropped.

Why a streaming reader: ``imgs`` decompresses to 3 GB. The builder streams it
in chunks straight from the zip member (memory stays bounded), and only the
in-memory ``origin="original"`` needs the whole array. The pickled metadata is
never unpickled (``allow_pickle=False``): the grid is read from
``latents_classes`` instead, so opening an untrusted file cannot run code.

A file may hold a complete sub-grid of the real one (the tiny test file in
``dtransfer_dsprites/dummy_data``): each factor's distinct classes, in C order.
Its records then get labels 0..n-1 within that sub-grid, so record i still has
factors unravel(i).
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
import zlib
from typing import Iterator

import numpy as np

from dtransfer.data.factor_space import FactorSpace
from dtransfer.datasets import _archive
from dtransfer.datasets import _hashing
from dtransfer.datasets.dsprites import renderer
from dtransfer.datasets import _files

FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
URL = ("https://github.com/google-deepmind/dsprites-dataset/raw/master/"
       + FILENAME)
# md5 of the released file, as pinned independently by several public loaders
# (no sha256 is published; see dtransfer_dsprites/README.md to register one).
MD5 = "7da33b31b13a06f4b04a70402ce90c2e"
NUM_RECORDS = 737_280
# Set to "1" to accept a full-grid file whose md5 differs (e.g. re-saved).
SKIP_MD5_ENV = "DTRANSFER_DSPRITES_SKIP_MD5"
INSTRUCTIONS = (
    f"Download {URL} (DeepMind's dSprites, md5 {MD5}) and put it, named "
    f"{FILENAME}, in the manual directory.")


class OriginalFileError(ValueError):
  """The dSprites npz is corrupt or not in the original format."""


def find(data_dir) -> str:
  """Path of the original npz under ``data_dir``.

  Looks in ``data_dir``, ``data_dir/dsprites`` (the authors' layout) and
  ``data_dir/downloads/manual`` (TFDS's default manual directory).

  Raises:
    FileNotFoundError: naming the file, where to put it and its URL.
  """
  return _files.find_first(
      data_dir, (FILENAME, os.path.join("dsprites", FILENAME),
                 os.path.join("downloads", "manual", FILENAME)),
      what=FILENAME, accept=os.path.isfile, dataset="dSprites",
      instructions=INSTRUCTIONS)


@dataclasses.dataclass(frozen=True)
class OriginalHeader:
  """What a valid npz holds, without its images.

  Attributes:
    path: the file.
    space: the 5-factor grid the file covers (full dSprites or a sub-grid).
    classes: int64 [N, 5] class indices in the full dSprites grid.
    values: float32 [N, 5] latents_values (colour dropped).
  """
  path: str
  space: FactorSpace
  classes: np.ndarray
  values: np.ndarray

  @property
  def labels(self) -> np.ndarray:
    """Class indices [N, 5] within this file's grid (record i: unravel(i))."""
    return self.space.factors(np.arange(self.space.num_records))


def _corrupt(path, what: str) -> OriginalFileError:
  return OriginalFileError(
      f"{path} is not DeepMind's dSprites npz: {what}. Delete it and download "
      f"{URL} again (md5 {MD5}).")


def md5(path) -> str:
  return _hashing.file_digest(path, "md5")


def _npy_header(f) -> tuple[tuple[int, ...], np.dtype]:
  version = np.lib.format.read_magic(f)
  if version == (1, 0):
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
  elif version == (2, 0):
    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
  else:
    raise ValueError(f"unsupported .npy format version {version}")
  if fortran:
    raise ValueError("Fortran-ordered arrays are not supported")
  return tuple(shape), dtype


def read_header(path, check_md5: bool = True) -> OriginalHeader:
  """Opens and validates the npz (keys, shapes, dtypes, grid order).

  Args:
    path: the npz file.
    check_md5: compare a full-grid file's md5 with the released file's
      (skipped for sub-grid test files, or if $DTRANSFER_DSPRITES_SKIP_MD5=1).

  Raises:
    FileNotFoundError: no such file.
    OriginalFileError: not a zip, missing keys, wrong shapes or dtypes,
      records not in grid order, or a checksum mismatch.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f"missing {path}. {INSTRUCTIONS}")
  try:
    with zipfile.ZipFile(path) as zf:
      members = set(_archive.safe_zip_names(path, zf))
      for key in ("imgs", "latents_classes", "latents_values"):
        if f"{key}.npy" not in members:
          raise _corrupt(path, f"it has no '{key}' array (found "
                         f"{sorted(m.removesuffix('.npy') for m in members)})")
      with zf.open("imgs.npy") as f:
        img_shape, img_dtype = _npy_header(f)
    with np.load(path, allow_pickle=False) as npz:
      classes = npz["latents_classes"]
      values = npz["latents_values"]
  except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
    if isinstance(e, (OriginalFileError, _archive.UnsafeArchiveError)):
      raise
    raise _corrupt(path, f"it cannot be read as an npz ({e})") from e

  n = img_shape[0] if img_shape else 0
  if len(img_shape) != 3 or img_shape[1:] != (64, 64) or img_dtype != np.uint8:
    raise _corrupt(path, f"imgs has shape {img_shape} and dtype {img_dtype}, "
                   "expected [N, 64, 64] uint8")
  if classes.shape != (n, 6) or values.shape != (n, 6):
    raise _corrupt(path, f"latents_classes {classes.shape} / latents_values "
                   f"{values.shape} do not match imgs' {n} records x 6 latents")
  if not np.issubdtype(classes.dtype, np.integer):
    raise _corrupt(path, f"latents_classes has dtype {classes.dtype}, "
                   "expected integers")
  if n == 0:
    raise _corrupt(path, "it holds no records")
  if np.any(classes[:, 0] != classes[0, 0]):
    raise _corrupt(path, "the colour latent varies; the original has one colour")
  classes = classes[:, 1:].astype(np.int64)
  full = np.asarray(renderer.FACTOR_SIZES)
  if classes.min() < 0 or np.any(classes.max(0) >= full):
    raise _corrupt(path, "latents_classes lie outside the dSprites grid "
                   f"{tuple(full)}")
  kept = [np.unique(classes[:, k]) for k in range(5)]
  space = FactorSpace(renderer.FACTOR_NAMES, tuple(len(u) for u in kept))
  expect = np.stack([kept[k][f] for k, f in enumerate(
      space.factors(np.arange(space.num_records)).T)], -1)
  if space.num_records != n or not np.array_equal(classes, expect):
    raise _corrupt(path, "its records are not a complete factor grid in C "
                   "order (color, shape, scale, orientation, posX, posY; posY "
                   "fastest)")
  if (check_md5 and n == NUM_RECORDS
      and os.environ.get(SKIP_MD5_ENV, "0") != "1"):
    got = md5(path)
    if got != MD5:
      raise OriginalFileError(
          f"{path} has md5 {got}, but DeepMind's release has {MD5}: the file "
          f"is corrupt or a different version. Download {URL} again, or set "
          f"{SKIP_MD5_ENV}=1 if you re-saved it on purpose.")
  return OriginalHeader(path=path, space=space, classes=classes,
                        values=values[:, 1:].astype(np.float32))


def iter_images(path, chunk: int = 8192, start: int = 0,
                stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
  """Streams ``imgs`` rows [start, stop): yields (first index, uint8 [n, 64, 64]).

  Decompresses straight from the zip member, so memory stays at one chunk
  (32 MB at the default 8192 records) whatever the file size.

  Raises:
    OriginalFileError: truncated or invalid image data.
  """
  path = os.fspath(path)
  try:
    with zipfile.ZipFile(path) as zf, zf.open("imgs.npy") as f:
      shape, _ = _npy_header(f)
      n = shape[0]
      stop = n if stop is None else min(stop, n)
      row = 64 * 64
      if start:
        f.seek(f.tell() + start * row)
      i = start
      while i < stop:
        m = min(chunk, stop - i)
        buf = f.read(m * row)
        if len(buf) != m * row:
          raise _corrupt(path, f"imgs ends after {i + len(buf) // row} of {n} "
                         "records (truncated)")
        imgs = np.frombuffer(buf, np.uint8).reshape(m, 64, 64)
        if imgs.max(initial=0) > 1:
          raise _corrupt(path, f"imgs holds values above 1 near record {i}; "
                         "the original is binary 0/1")
        yield i, imgs
        i += m
  except (zipfile.BadZipFile, EOFError, zlib.error) as e:
    raise _corrupt(path, f"reading imgs failed ({e})") from e


def load(path, check_md5: bool = True) -> tuple[OriginalHeader, np.ndarray]:
  """Validates the npz and reads all images: (header, uint8 [N, 64, 64] 0/1).

  The full file needs 3 GB of memory; the array is filled chunk by chunk so
  no second copy is made.
  """
  header = read_header(path, check_md5=check_md5)
  imgs = np.empty((header.space.num_records, 64, 64), np.uint8)
  for i, chunk in iter_images(header.path):
    imgs[i:i + len(chunk)] = chunk
  return header, imgs
