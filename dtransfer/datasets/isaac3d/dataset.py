"""Registry factory for Isaac3D (``get_dataset("isaac3d", origin=...)``)."""

from __future__ import annotations

from dtransfer.data.factor_space import FactorSpace
from dtransfer.datasets.isaac3d import original

SPACE = FactorSpace(original.FACTOR_NAMES, original.FACTOR_SIZES)


def isaac3d(origin: str = "original", data_dir=None, config=None,
            resolution: int = 64, check_index: bool = True):
  """Isaac3D (9 factors, 737,280 images) as an ImageSource.

  Args:
    origin: "original" (the extracted Isaac3D_down128 folder, or its parent,
      in data_dir) or "tfds" (a prepared dtransfer_isaac3d in data_dir).
    data_dir: see origin.
    config: for "tfds", the builder config; default "res<resolution>".
    resolution: 64 (2x2 box mean of the originals) or 128.
    check_index: for "original", require labels.npy to agree with the
      documented image index (original.check_label_order); False trusts the
      labels of a re-packed copy.
  """
  if origin == "original":
    return original.Isaac3DSource(original.find_folder(data_dir), resolution,
                                  check_index)
  if origin == "tfds":
    # pylint: disable=g-import-not-at-top
    from dtransfer.data.sources import TFDSSource
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.isaac3d.dtransfer_isaac3d import dtransfer_isaac3d_dataset_builder as b
    return TFDSSource(bu.data_source(b.Builder, config or f"res{resolution}",
                                     data_dir), SPACE)
  raise ValueError(f"unknown origin {origin!r} for isaac3d; use 'original' "
                   "or 'tfds'. There is no procedural Isaac3D.")
