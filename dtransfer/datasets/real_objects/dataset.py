"""The real_objects registry factory (the images are made by ``original``)."""

from __future__ import annotations

from dtransfer.data.sources import TFDSSource
from dtransfer.datasets.real_objects import original


def real_objects(source: str = "procedural", data_dir=None, **unused):
  """real_objects as an ImageSource.

  Args:
    source: "procedural" (or "original"): computed from the bundled photos;
      "tfds": a prepared dtransfer_real_objects builder in data_dir.
    data_dir: for source="tfds".
  """
  if unused:
    raise TypeError(f"real_objects() got unexpected options {sorted(unused)}.")
  if source in ("procedural", "original"):
    return original.RealObjectsSource()
  if source == "tfds":
    # TFDS is heavy and optional: imported only for this source.
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.real_objects.dtransfer_real_objects import dtransfer_real_objects_dataset_builder as b
    return TFDSSource(bu.data_source(b.Builder, None, data_dir), original.space())
  raise ValueError(f"unknown source {source!r} for real_objects; use "
                   "'procedural' or 'tfds'.")
