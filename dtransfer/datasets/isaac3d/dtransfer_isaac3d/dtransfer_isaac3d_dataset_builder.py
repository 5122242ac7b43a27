"""dtransfer_isaac3d: Isaac3D (Nie et al. 2020) as array_record.

Read from the extracted release in the manual directory (a Google Drive file,
which TFDS cannot download reliably; no checksum is published). labels.npy
is checked against the image index NVIDIA documents (see original.py).
Records are in factor order with ``label_*`` class indices and ``value_*``
(the float values of labels.npy).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from dtransfer.datasets import _builder_utils as bu
from dtransfer.datasets.isaac3d import original

_CHUNK = 512


@dataclasses.dataclass
class Isaac3dConfig(tfds.core.BuilderConfig):
  """resolution: 64 or 128; check_index: labels.npy must agree with the
  documented image index (original.check_label_order)."""
  resolution: int = 64
  check_index: bool = True


class Builder(tfds.core.GeneratorBasedBuilder):
  """Isaac3D: robot arm, object and lighting factors, 9 factors."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "From Isaac3D_down128 (128x128 PNG + labels.npy)."}
  BUILDER_CONFIGS = [
      Isaac3dConfig(name="res64", resolution=64,
                    description="64x64 (2x2 box mean of the originals)."),
      Isaac3dConfig(name="res128", resolution=128,
                    description="The original 128x128 images."),
  ]
  DEFAULT_CONFIG_NAME = "res64"
  MANUAL_DOWNLOAD_INSTRUCTIONS = original.INSTRUCTIONS

  def _info(self):
    r = self.builder_config.resolution
    feats = {"image": bu.image_feature((r, r, 3))}
    feats.update(bu.label_features(original.FACTOR_NAMES, original.FACTOR_SIZES))
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict(feats),
        homepage="https://github.com/NVlabs/High-res-disentanglement-datasets",
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    mdir = bu.manual_dir(dl_manager)
    labels = None if mdir is None else mdir / original.FOLDER / "labels.npy"
    if labels is None or not labels.exists():
      where = mdir or getattr(dl_manager, "_manual_dir", None) or "<manual_dir>"
      raise FileNotFoundError(
          f"missing {where}/{original.FOLDER}/labels.npy. "
          f"{original.INSTRUCTIONS}")
    src = original.Isaac3DSource(mdir / original.FOLDER,
                                 self.builder_config.resolution,
                                 self.builder_config.check_index)
    return {"train": self._generate_examples(src)}

  def _generate_examples(self, src):
    n = src.space.num_records
    for start in range(0, n, _CHUNK):
      idx = np.arange(start, min(start + _CHUNK, n))
      imgs = src.images(idx)
      factors = src.grid.factors[idx]
      for j, i in enumerate(idx):
        rec = {"image": imgs[j]}
        for k, name in enumerate(original.FACTOR_NAMES):
          rec[f"label_{name}"] = int(factors[j, k])
          rec[f"value_{name}"] = np.float32(src.values[i, k])
        yield int(i), rec
