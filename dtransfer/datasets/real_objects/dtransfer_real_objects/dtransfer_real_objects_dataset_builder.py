"""dtransfer_real_objects: bundled real photo crops, Coil100-Augmented recipe.

No download: the photos ship with dtransfer (real_objects/assets). Records
are in factor order (object, rotation, scale).
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from dtransfer.datasets import _builder_utils as bu
from dtransfer.datasets.real_objects import original

FACTOR_NAMES = ("object", "rotation", "scale")


class Builder(tfds.core.GeneratorBasedBuilder):
  """Real objects x rotation 18 x scale 9, 64x64x3."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "14 scikit-image photo crops (PD/CC0)."}

  def _info(self):
    sp = original.space()
    feats = {"image": bu.image_feature(original.IMAGE_SHAPE)}
    feats.update(bu.label_features(FACTOR_NAMES, sp.sizes))
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict(feats),
        homepage="https://scikit-image.org/docs/stable/api/skimage.data.html",
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # everything is bundled
    return {"train": self._generate_examples()}

  def _generate_examples(self):
    src = original.RealObjectsSource()
    sp = src.space
    values = (np.arange(sp.sizes[0], dtype=np.float32), original.ROTATIONS,
              original.SCALES)
    for start in range(0, sp.num_records, 512):
      idx = np.arange(start, min(start + 512, sp.num_records))
      imgs = src.images(idx)
      for i, f, img in zip(idx, sp.factors(idx), imgs):
        rec = {"image": img}
        for k, name in enumerate(FACTOR_NAMES):
          rec[f"label_{name}"] = int(f[k])
          rec[f"value_{name}"] = np.float32(values[k][f[k]])
        yield int(i), rec
