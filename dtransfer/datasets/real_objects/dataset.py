"""The real_objects registry factory (the images are made by ``original``)."""

from __future__ import annotations

from dtransfer.data.sources import TFDSSource
from dtransfer.datasets.real_objects import original


def real_objects(origin: str = "procedural", data_dir=None, size: int = 64, **unused):
  """real_objects as an ImageSource.

  Args:
    origin: "procedural" (or "original"): computed from the bundled photos;
      "tfds": a prepared dtransfer_real_objects builder in data_dir.
    data_dir: for origin="tfds".
    size: image side; below 64 (a divisor of it) the 64x64 images are box-averaged
      down, for models trained on smaller images (procedural origin only).
  """
  if unused:
    raise TypeError(f"real_objects() got unexpected options {sorted(unused)}.")
  size = int(size)
  if size != 64 and (origin not in ("procedural", "original") or size < 1 or 64 % size):
    raise ValueError(f"real_objects size must divide 64 (procedural origin), got "
                     f"size={size} with origin={origin!r}.")
  if origin in ("procedural", "original"):
    base = original.RealObjectsSource()
    if size == 64:
      return base
    # pylint: disable=g-import-not-at-top
    from dtransfer.data.sources import TransformedSource
    from dtransfer.datasets import _image_ops
    return TransformedSource(base, lambda imgs, f, rng: _image_ops.resize_area(imgs, size),
                             image_shape=(size, size, 3))
  if origin == "tfds":
    # TFDS is heavy and optional: imported only for this origin.
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.real_objects.dtransfer_real_objects import dtransfer_real_objects_dataset_builder as b
    return TFDSSource(bu.data_source(b.Builder, None, data_dir), original.space())
  raise ValueError(f"unknown origin {origin!r} for real_objects; use "
                   "'procedural' or 'tfds'.")
