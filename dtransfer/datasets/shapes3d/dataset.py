"""Registry factory for Shapes3D (``get_dataset("shapes3d", origin=...)``)."""

from __future__ import annotations

import os

from dtransfer.datasets.shapes3d import renderer
from dtransfer.datasets import _files

SPACE = renderer.SPACE


def find_h5(data_dir) -> str:
  """Locates 3dshapes.h5 in data_dir (flat, or the authors' 3dshapes/ folder)."""
  from dtransfer.datasets.shapes3d import original  # pylint: disable=g-import-not-at-top
  return _files.find_first(
      data_dir, (original.FILENAME, os.path.join("3dshapes", original.FILENAME)),
      what=original.FILENAME, dataset="Shapes3D",
      instructions=f"Download {original.URL} ({original.NUM_BYTES:,} bytes) into data_dir. "
                   f"{original.INSTRUCTIONS}")


def shapes3d(origin: str = "procedural", data_dir=None, config=None, **unused):
  """Shapes3D as an ImageSource (floor/wall/object hue, scale, shape, orientation).

  Args:
    origin: "procedural" (offline renderer), "tfds" (a prepared
      dtransfer_shapes3d builder in data_dir) or "original" (3dshapes.h5 in
      data_dir, read lazily).
    data_dir: see origin.
    config: for origin="tfds", the builder config ("procedural" or
      "original", or a Shapes3dConfig); default "procedural".
  """
  if unused:
    raise TypeError(f"shapes3d() got unexpected options {sorted(unused)}.")
  if origin == "procedural":
    return renderer.Shapes3DRenderer()
  if origin == "original":
    from dtransfer.datasets.shapes3d import original  # pylint: disable=g-import-not-at-top
    return original.H5Shapes3DSource(find_h5(data_dir))
  if origin == "tfds":
    # pylint: disable=g-import-not-at-top
    from dtransfer.data.sources import TFDSSource
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.shapes3d.dtransfer_shapes3d import dtransfer_shapes3d_dataset_builder as b
    return TFDSSource(bu.data_source(b.Builder, config or "procedural", data_dir),
                      SPACE)
  raise ValueError(f"unknown origin {origin!r} for shapes3d; use 'procedural', "
                   "'tfds' or 'original'.")
