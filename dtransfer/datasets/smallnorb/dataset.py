"""Registry factory ``smallnorb``."""

from __future__ import annotations

from dtransfer.data.factor_space import FactorSpace
from dtransfer.datasets.smallnorb import original

SPACE = FactorSpace(original.FACTOR_NAMES, original.FACTOR_SIZES)


def smallnorb(origin: str = "original", data_dir=None, config=None):
  """SmallNORB (category, instance, elevation, azimuth, lighting), 64x64x1.

  Args:
    origin: "original" (the six .mat(.gz) files in data_dir) or "tfds" (a
      prepared dtransfer_smallnorb in data_dir).
    data_dir: see origin.
    config: unused (one config).
  """
  if origin == "original":
    if data_dir is None:
      raise ValueError(f"origin='original' needs data_dir. "
                       f"{original.INSTRUCTIONS}")
    return original.SmallNORBSource(data_dir)
  if origin == "tfds":
    # pylint: disable=g-import-not-at-top
    from dtransfer.data.sources import TFDSSource
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.smallnorb.dtransfer_smallnorb import dtransfer_smallnorb_dataset_builder as b
    return TFDSSource(bu.data_source(b.Builder, config, data_dir), SPACE)
  raise ValueError(f"unknown origin {origin!r} for smallnorb; use 'original' "
                   "or 'tfds'.")
