"""Registry factories ``mpi3d_toy``, ``mpi3d_realistic`` and ``mpi3d_real``."""

from __future__ import annotations

from dtransfer.data.factor_space import FactorSpace
from dtransfer.datasets.mpi3d import original


def _make(variant, origin, data_dir, config=None, factor_sizes=None):
  if origin == "original":
    return original.MPI3DSource(original.find(data_dir, variant), variant,
                                factor_sizes)
  if origin == "tfds":
    # pylint: disable=g-import-not-at-top
    from dtransfer.data.sources import TFDSSource
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.mpi3d.dtransfer_mpi3d import dtransfer_mpi3d_dataset_builder as b
    cfg = config or variant
    src = bu.data_source(b.Builder, cfg, data_dir)
    sizes = bu.builder(b.Builder, cfg, data_dir).info.metadata["factor_sizes"]
    return TFDSSource(src, FactorSpace(original.FACTOR_NAMES, sizes))
  raise ValueError(f"unknown origin {origin!r} for MPI3D; use 'original' "
                   f"({original.filename(variant)} in data_dir) or 'tfds'.")


def mpi3d_toy(origin="original", data_dir=None, config=None, factor_sizes=None):
  """MPI3D-toy (simulated, simple renderings)."""
  return _make("toy", origin, data_dir, config, factor_sizes)


def mpi3d_realistic(origin="original", data_dir=None, config=None,
                    factor_sizes=None):
  """MPI3D-realistic (simulated, realistic renderings)."""
  return _make("realistic", origin, data_dir, config, factor_sizes)


def mpi3d_real(origin="original", data_dir=None, config=None,
               factor_sizes=None):
  """MPI3D-real (photographs of the robot platform)."""
  return _make("real", origin, data_dir, config, factor_sizes)
