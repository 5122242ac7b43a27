"""Shared helpers for dtransfer's TFDS builders (no TensorFlow needed).

Why a shared module: every builder stores images as zlib-compressed uint8
``Tensor`` features (``Image`` would need TensorFlow to encode), writes
array_record files in generation-key order (``disable_shuffling=True``), reads
original files from a manual directory with clear errors, and is opened for
random access the same way. Import it only from builder or factory code:
it imports tensorflow_datasets.
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from dtransfer import workdir_lock
from dtransfer.datasets import _hashing

FILE_FORMAT = "array_record"


def image_feature(shape) -> tfds.features.Tensor:
  """uint8 image tensor, zlib-compressed (encodable without TensorFlow)."""
  return tfds.features.Tensor(shape=tuple(shape), dtype=np.uint8,
                              encoding="zlib")


def label_features(names: Sequence[str], sizes: Sequence[int],
                   values: bool = True) -> dict:
  """``label_<name>`` ClassLabels (and float ``value_<name>``), as stock TFDS."""
  feats = {}
  for n, s in zip(names, sizes):
    feats[f"label_{n}"] = tfds.features.ClassLabel(num_classes=int(s))
    if values:
      feats[f"value_{n}"] = tfds.features.Tensor(shape=(), dtype=np.float32)
  return feats


def read_checksums(path) -> dict[str, tuple[str, int, str]]:
  """Parses a TFDS checksums.tsv: filename -> (url, size, sha256)."""
  out = {}
  for line in epath.Path(path).read_text().splitlines():
    line = line.strip()
    if not line or line.startswith("#"):
      continue
    url, size, sha, name = line.split("\t")
    out[name] = (url, int(size), sha)
  return out


def sha256(path) -> str:
  return _hashing.file_digest(path, "sha256")


def verify_file(path, size: int | None, digest: str | None, url: str = "") -> None:
  """Checks a downloaded/manual file's size and sha256.

  Raises:
    ValueError: naming the file, what differs and how to fix it.
  """
  path = os.fspath(path)
  fix = (f"Delete it and download it again{' from ' + url if url else ''}, "
         "then retry.")
  actual = os.path.getsize(path)
  if size is not None and actual != size:
    raise ValueError(
        f"{path} has {actual:,} bytes but the original file has {size:,}: it "
        f"is truncated, corrupt or a different file. {fix}")
  if digest is not None:
    got = sha256(path)
    if got != digest:
      raise ValueError(
          f"checksum mismatch for {path}: sha256 {got} but expected {digest}. "
          f"The file is corrupt or a different version. {fix}")


def manual_dir(dl_manager) -> epath.Path | None:
  """The builder's manual directory, or None if unset, missing or empty."""
  try:
    return epath.Path(dl_manager.manual_dir)
  except (AssertionError, ValueError):
    return None


def manual_file(dl_manager, filename: str, instructions: str = "") -> epath.Path:
  """Path of ``filename`` in the manual directory.

  Raises:
    FileNotFoundError: naming the file and the directory to put it in.
  """
  mdir = manual_dir(dl_manager)
  if mdir is not None and (mdir / filename).exists():
    return mdir / filename
  where = mdir or getattr(dl_manager, "_manual_dir", None) or "<manual_dir>"
  raise FileNotFoundError(
      f"missing {filename}: put the original file at {epath.Path(where) / filename} "
      f"(or pass DownloadConfig(manual_dir=DIR) with DIR holding {filename}). "
      f"{instructions}".strip())


def builder(builder_cls, config: str | tfds.core.BuilderConfig | None,
            data_dir) -> tfds.core.DatasetBuilder:
  """Instantiates a dtransfer builder writing array_record files."""
  kwargs = {} if config is None else {"config": config}
  return builder_cls(data_dir=os.fspath(data_dir), file_format=FILE_FORMAT,
                     **kwargs)


def prepare(builder_cls, config=None, data_dir=None, manual_dir=None,
            download_dir=None, register_checksums: bool = False):
  """Builds (if needed) and returns the prepared builder.

  ``register_checksums`` writes downloaded files' size and sha256 into the
  builder's checksums.tsv (needs network and a writable source checkout).
  """
  if data_dir is None:
    raise ValueError("prepare() needs data_dir: the folder that will hold the "
                     "prepared array_record files.")
  b = builder(builder_cls, config, data_dir)
  dl = tfds.download.DownloadConfig(
      manual_dir=None if manual_dir is None else os.fspath(manual_dir),
      register_checksums=register_checksums)
  config_dir = os.path.dirname(os.fspath(b.data_dir).rstrip("/"))
  # One build of a config at a time; what a killed one left is removed first.
  with workdir_lock.WorkdirLock(config_dir):
    for path in remove_stale_incomplete(b):
      logging.warning("removed %s, left by an interrupted build", path)
    b.download_and_prepare(
        download_dir=None if download_dir is None else os.fspath(download_dir),
        download_config=dl)
  return b


class PreparedDataError(ValueError):
  """A prepared dataset file that cannot be read; names the file and the fix."""


def rebuild_command(b) -> str:
  """The shell commands that rebuild builder ``b``'s prepared files."""
  name = b.name.removeprefix("dtransfer_")
  config = getattr(b.builder_config, "name", "") if b.builder_config else ""
  data_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.fspath(b.data_dir))))
  return (f"rm -rf {b.data_dir} && python -m launch.build_datasets "
          f"--datasets={name}{'/' + config if config else ''} --data_dir={data_dir}")


class CheckedSource:
  """A prepared split's random-access source whose read errors say which file
  is damaged and how to rebuild it (array_record raises a bare
  ``RuntimeError: Corrupted Riegeli/records file`` without a path)."""

  def __init__(self, source, b):
    self._src, self._builder = source, b

  def __len__(self):
    return len(self._src)

  def __getitem__(self, key):
    try:
      return self._src[key]
    except (IndexError, KeyError, TypeError):
      raise
    except Exception as e:  # pylint: disable=broad-except
      raise self._error(e, [key]) from e

  def __getitems__(self, keys):
    try:
      return self._src.__getitems__(keys)
    except (IndexError, KeyError, TypeError):
      raise
    except Exception as e:  # pylint: disable=broad-except
      raise self._error(e, keys) from e

  def files(self, keys=None) -> list[str]:
    """The files holding ``keys`` (all files of the split without keys)."""
    inner = getattr(self._src, "data_source", None)
    instr = getattr(inner, "_read_instructions", None)
    if not instr:
      return [os.fspath(self._builder.data_dir)]
    if keys is None or not hasattr(inner, "_reader_idx_and_position"):
      return sorted({os.fspath(ri.filename) for ri in instr})
    out = set()
    for k in list(keys)[:1000]:
      try:
        out.add(os.fspath(instr[inner._reader_idx_and_position(k)[0]].filename))  # pylint: disable=protected-access
      except Exception:  # pylint: disable=broad-except
        return sorted({os.fspath(ri.filename) for ri in instr})
    return sorted(out)

  def _error(self, e, keys) -> PreparedDataError:
    files = self.files(keys)
    shown = files[0] + (f" (or one of {len(files) - 1} more)" if len(files) > 1 else "")
    first = (str(e).splitlines() or [""])[0][:200]
    return PreparedDataError(
        f"prepared dataset file {shown} is corrupt or unreadable ({type(e).__name__}: "
        f"{first}). Rebuild it: {rebuild_command(self._builder)}")


def checked_source(b, split: str = "train") -> CheckedSource:
  """``b.as_data_source(split)`` with read errors that name file and fix."""
  return CheckedSource(b.as_data_source(split=split), b)


def remove_stale_incomplete(b) -> list[str]:
  """Deletes ``incomplete.*`` folders a killed build of ``b`` left behind.

  TFDS writes a version into ``<config dir>/incomplete.<random>_<version>``
  and renames it when done; a SIGKILL leaves it. Call with the build lock
  held, so none of them belongs to a live build.
  """
  import shutil  # pylint: disable=g-import-not-at-top
  parent = os.path.dirname(os.fspath(b.data_dir).rstrip("/"))
  removed = []
  if os.path.isdir(parent):
    for name in os.listdir(parent):
      if name.startswith("incomplete."):
        shutil.rmtree(os.path.join(parent, name), ignore_errors=True)
        removed.append(os.path.join(parent, name))
  return removed


def data_source(builder_cls, config, data_dir, split: str = "train"):
  """Random-access ArrayRecord source of a prepared builder.

  Raises:
    FileNotFoundError: the dataset is not prepared in data_dir (names the
      command to prepare it).
  """
  if data_dir is None:
    raise ValueError("origin='tfds' needs data_dir: the folder holding the "
                     "prepared dataset (see `python -m launch.build_datasets`).")
  b = builder(builder_cls, config, data_dir)
  if not b.is_prepared():
    raise FileNotFoundError(
        f"dataset {b.info.full_name} is not prepared in {data_dir}. Prepare "
        f"it first, e.g. `python -m launch.build_datasets --datasets={b.name} "
        f"--data_dir={data_dir}` or dtransfer.datasets._builder_utils."
        f"prepare({builder_cls.__name__}, {b.builder_config.name!r}, "
        f"{str(data_dir)!r}).")
  return checked_source(b, split)


def check_factor_order(labels: np.ndarray, sizes: Sequence[int]) -> None:
  """Raises unless labels [N, K] are exactly the grid in C order."""
  expect = np.stack(np.unravel_index(np.arange(len(labels)), tuple(sizes)), -1)
  if labels.shape != expect.shape or not np.array_equal(labels, expect):
    raise ValueError("records are not in factor order (record i must have "
                     "factors unravel(i)); rebuild the dataset.")
