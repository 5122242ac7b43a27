"""dtransfer_rgbd_objects: RGB-D Objects (first instance per category).

The grid (category, azimuth, pose) is incomplete: records are the existing
cells in increasing grid index, and ``info.metadata`` stores ``available``
(their grid indices), ``factor_sizes`` and ``categories``, which
``get_dataset("rgbd_objects", origin="tfds")`` needs to map records back.
Files outside the authors' grid (video 1..4, frame 1..263) are skipped, not
fatal; ``metadata["skipped"]`` counts them and ``["skipped_examples"]``
names a few. Manual download only (the archive is large and not checksummed
upstream).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from dtransfer.datasets import _builder_utils as bu
from dtransfer.datasets.rgbd_objects import original

_CHUNK = 256


@dataclasses.dataclass
class RgbdConfig(tfds.core.BuilderConfig):
  variant: str = "rgb"


class Builder(tfds.core.GeneratorBasedBuilder):
  """RGB-D Objects (Lai et al. 2011) as Dapueto et al. use it, 64x64x3."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "First instance per category; linear depth.",
      "1.1.0": "Files outside the grid are skipped and reported, not fatal; "
               f"azimuth has {original.MAX_VIDEO} classes (any video 1..4).",
  }
  BUILDER_CONFIGS = [
      RgbdConfig(name="rgb", variant="rgb",
                 description="RGB crop times its mask, square, 64x64."),
      RgbdConfig(name="depth", variant="depth",
                 description=f"Depth clipped to {original.DEPTH_MIN_MM}-"
                 f"{original.DEPTH_MAX_MM} mm -> 1..255, 0 = missing."),
  ]
  DEFAULT_CONFIG_NAME = "rgb"
  MANUAL_DOWNLOAD_INSTRUCTIONS = original.INSTRUCTIONS

  def _info(self):
    feats = {"image": bu.image_feature(original.IMAGE_SHAPE)}
    feats.update(bu.label_features(
        original.FACTOR_NAMES,
        (original.NUM_CATEGORIES, original.MAX_VIDEO, original.MAX_POSES)))
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict(feats),
        homepage="https://rgbd-dataset.cs.washington.edu/",
        metadata=tfds.core.MetadataDict(),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    mdir = bu.manual_dir(dl_manager)
    if mdir is None or not (mdir / original.ROOT).is_dir():
      where = mdir or getattr(dl_manager, "_manual_dir", None) or "<manual_dir>"
      raise FileNotFoundError(
          f"missing {where}/{original.ROOT}/: the extracted RGB-D Object "
          f"Dataset. {original.INSTRUCTIONS}")
    scan = original.Scan(mdir / original.ROOT, self.builder_config.variant)
    self.info.metadata["available"] = scan.available.tolist()
    self.info.metadata["factor_sizes"] = list(scan.space.sizes)
    self.info.metadata["categories"] = scan.categories
    self.info.metadata["instances"] = scan.instances
    self.info.metadata["skipped"] = len(scan.skipped)
    self.info.metadata["skipped_examples"] = [
        f"{os.path.relpath(p, os.fspath(mdir / original.ROOT))} ({r})"
        for p, r in scan.skipped[:10]]
    return {"train": self._generate_examples(scan)}

  def _generate_examples(self, scan):
    n = len(scan.available)
    for start in range(0, n, _CHUNK):
      rows = np.arange(start, min(start + _CHUNK, n))
      imgs = original.load_rows(scan, rows)
      factors = scan.space.factors(scan.available[rows])
      for j, r in enumerate(rows):
        c, a, p = (int(x) for x in factors[j])
        yield int(scan.available[r]), {
            "image": imgs[j],
            "label_category": c, "label_azimuth": a, "label_pose": p,
            "value_category": np.float32(c),
            "value_azimuth": np.float32(scan.videos[a]),
            "value_pose": np.float32(p + 1),
        }
