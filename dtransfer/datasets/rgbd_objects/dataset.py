"""Registry factories ``rgbd_objects`` and ``rgbd_objects_depth``."""

from __future__ import annotations

import numpy as np

from dtransfer.data.factor_space import FactorSpace
from dtransfer.datasets.rgbd_objects import original


def _tfds(variant: str, data_dir, config=None):
  """A prepared dtransfer_rgbd_objects builder as a SparseSource."""
  # pylint: disable=g-import-not-at-top
  from dtransfer.data.sources import SparseSource
  from dtransfer.datasets import _builder_utils as bu
  from dtransfer.datasets.rgbd_objects.dtransfer_rgbd_objects import dtransfer_rgbd_objects_dataset_builder as b
  src = bu.data_source(b.Builder, config or variant, data_dir)
  meta = bu.builder(b.Builder, config or variant, data_dir).info.metadata
  space = FactorSpace(original.FACTOR_NAMES, meta["factor_sizes"])
  out = SparseSource.from_data_source(src, space,
                                      np.asarray(meta["available"], np.int64))
  out.name = "rgbd_objects" + ("_depth" if variant == "depth" else "")
  return out


def _make(variant: str, origin: str, data_dir, config, max_video, max_frame):
  if origin == "original":
    return original.RGBDObjectsSource(original.find_root(data_dir), variant,
                                      max_video, max_frame)
  if origin == "tfds":
    return _tfds(variant, data_dir, config)
  raise ValueError(
      f"unknown origin {origin!r} for RGB-D Objects; use 'original' (the "
      "extracted rgbd-dataset folder in data_dir) or 'tfds' (a prepared "
      "dtransfer_rgbd_objects). There is no procedural version; for an "
      "offline real-image target use 'real_objects'.")


def rgbd_objects(origin: str = "original", data_dir=None, config=None,
                 max_video=original.MAX_VIDEO, max_frame=original.MAX_POSES):
  """RGB-D Objects, masked RGB (category, azimuth, pose), incomplete grid.

  For origin="original", files with a video above ``max_video`` or a frame
  above ``max_frame`` (the authors' grid, 4 x 263) are skipped and reported
  (``.skipped``); None keeps them.
  """
  return _make("rgb", origin, data_dir, config, max_video, max_frame)


def rgbd_objects_depth(origin: str = "original", data_dir=None, config=None,
                       max_video=original.MAX_VIDEO,
                       max_frame=original.MAX_POSES):
  """RGB-D Objects depth (quantised, 3 equal channels), incomplete grid.

  ``max_video`` / ``max_frame``: as for rgbd_objects.
  """
  return _make("depth", origin, data_dir, config, max_video, max_frame)
