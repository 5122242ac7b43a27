"""Registry factory ``cars3d``."""

from __future__ import annotations

from dtransfer.data.factor_space import FactorSpace
from dtransfer.datasets.cars3d import original

SPACE = FactorSpace(original.FACTOR_NAMES, (4, 24, original.NUM_OBJECTS))


def cars3d(origin: str = "original", data_dir=None, config=None):
  """Cars3D (elevation 4, azimuth 24, object 183) as an ImageSource.

  Args:
    origin: "original" (the extracted archive's data/cars folder, or cars/,
      in data_dir) or "tfds" (a prepared dtransfer_cars3d in data_dir).
    data_dir: see origin.
    config: unused (one config); kept for a uniform factory signature.
  """
  if origin == "original":
    return original.Cars3DSource(original.find_folder(data_dir))
  if origin == "tfds":
    # pylint: disable=g-import-not-at-top
    from dtransfer.data.sources import TFDSSource
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.cars3d.dtransfer_cars3d import dtransfer_cars3d_dataset_builder as b
    return TFDSSource(bu.data_source(b.Builder, config, data_dir), SPACE)
  raise ValueError(f"unknown origin {origin!r} for cars3d; use 'original' "
                   "or 'tfds'.")
