"""dtransfer_coil100: Coil100-Augmented(-binary) built from coil-100.zip.

The recipe runs here (no cv2): records are (object, pose, rotation, scale) in
factor order, 64x64x3 uint8, with ``label_*`` class indices and ``value_*``
(object id 1..100, pose and rotation in degrees, zoom factor).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from dtransfer.datasets import _builder_utils as bu
from dtransfer.datasets import _fetch
from dtransfer.datasets.coil100 import original


@dataclasses.dataclass
class Coil100Config(tfds.core.BuilderConfig):
  binary: bool = False


class Builder(tfds.core.GeneratorBasedBuilder):
  """COIL-100 x rotation 18 x scale 9 (Dapueto et al. 2024 recipe)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Recipe reimplemented in numpy; array_record."}
  BUILDER_CONFIGS = [
      Coil100Config(name="augmented", description="RGB objects."),
      Coil100Config(name="binary", binary=True,
                    description="Otsu-binarised silhouettes, 3 channels."),
  ]
  DEFAULT_CONFIG_NAME = "augmented"
  MANUAL_DOWNLOAD_INSTRUCTIONS = original.INSTRUCTIONS

  def _info(self):
    feats = {"image": bu.image_feature(original.IMAGE_SHAPE)}
    feats.update(bu.label_features(original.FACTOR_NAMES, original.FACTOR_SIZES))
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict(feats),
        homepage="https://www.cs.columbia.edu/CAVE/software/softlib/coil-100.php",
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    path = _fetch.manual_or_download(dl_manager, original.ZIP_NAME, original.URL,
                                     size=original.ZIP_BYTES, sha256=original.ZIP_SHA256,
                                     instructions=original.INSTRUCTIONS)
    return {"train": self._generate_examples(path)}

  def _generate_examples(self, path):
    src = original.ZipCoil100Source(path, binary=self.builder_config.binary,
                                   cache_size=4)
    sp = src.space
    full = original.SPACE
    block = len(original.ROTATIONS) * len(original.SCALES)  # one (obj, pose)
    for start in range(0, sp.num_records, block):
      idx = np.arange(start, start + block)
      f = src.factors(idx)
      imgs = src.images(idx)
      for j in range(block):
        o, p, r, s = (int(x) for x in f[j])
        key = int(full.index(f[j:j + 1])[0])
        yield key, {
            "image": imgs[j],
            "label_object": o, "label_pose": p, "label_rotation": r,
            "label_scale": s,
            "value_object": np.float32(o + 1),
            "value_pose": np.float32(original.POSES[p]),
            "value_rotation": np.float32(original.ROTATIONS[r]),
            "value_scale": np.float32(original.SCALES[s]),
        }
