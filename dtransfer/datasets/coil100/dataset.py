"""Coil100-Augmented registry factories: the original zip, a prebuilt folder or TFDS.

The readers and the augmentation recipe are in ``original``; the TFDS builder
imports only ``original``.
"""

from __future__ import annotations

import os

from dtransfer.data.sources import TFDSSource
from dtransfer.datasets.coil100 import original


def _make(binary: bool, origin: str, data_dir, config=None):
  name = "binary" if binary else "augmented"
  if origin == "original":
    return original.ZipCoil100Source(original.find_zip(data_dir), binary=binary)
  if origin == "prebuilt":
    if data_dir is None:
      raise ValueError("origin='prebuilt' needs data_dir: the folder with "
                       "classes.csv, or its parent with coil-100/coil-100-"
                       f"augmented{'-binary' if binary else ''}/.")
    sub = os.path.join(data_dir, "coil-100",
                       "coil-100-augmented" + ("-binary" if binary else ""))
    folder = sub if os.path.isdir(sub) else data_dir
    return original.PrebuiltCoil100Source(folder)
  if origin == "tfds":
    # TFDS is heavy and optional: imported only for this origin.
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.coil100.dtransfer_coil100 import dtransfer_coil100_dataset_builder as b
    return TFDSSource(bu.data_source(b.Builder, config or name, data_dir), original.SPACE)
  raise ValueError(f"unknown origin {origin!r} for coil100; use 'original' "
                   "(coil-100.zip), 'prebuilt' (classes.csv folder) or 'tfds'. "
                   "There is no procedural COIL-100; for an offline real-image "
                   "target use 'real_objects'.")


def coil100_augmented(origin: str = "original", data_dir=None, config=None):
  """Coil100-Augmented (object, pose, rotation, scale) as an ImageSource."""
  return _make(False, origin, data_dir, config)


def coil100_augmented_binary(origin: str = "original", data_dir=None,
                             config=None):
  """Coil100-Augmented-binary as an ImageSource (3 equal channels)."""
  return _make(True, origin, data_dir, config)
