"""dtransfer_smallnorb: SmallNORB as disentanglement_lib uses it, 64x64x1.

Training and test concatenated, camera 0, factor order (category, instance,
elevation, azimuth, lighting). Files come from the manual directory (.mat.gz
checked against checksums.tsv, or gunzipped .mat) or are downloaded.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds

from dtransfer.datasets import _builder_utils as bu
from dtransfer.datasets import _fetch
from dtransfer.datasets.smallnorb import original

_CHECKSUMS = os.path.join(os.path.dirname(__file__), "checksums.tsv")


class Builder(tfds.core.GeneratorBasedBuilder):
  """SmallNORB: 5 categories x 10 instances x 9 elevations x 18 azimuths x 6
  lightings."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Train+test, camera 0, LANCZOS 96 -> 64."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = original.INSTRUCTIONS

  def _info(self):
    feats = {"image": bu.image_feature(original.IMAGE_SHAPE)}
    feats.update(bu.label_features(original.FACTOR_NAMES,
                                   original.FACTOR_SIZES, values=False))
    feats["value_azimuth"] = tfds.features.Tensor(shape=(), dtype=np.float32)
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict(feats),
        homepage="https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/",
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    sums = bu.read_checksums(_CHECKSUMS)
    files = {}
    for name in original.filenames():
      _, size, sha = sums[name]
      files[name] = _fetch.manual_or_download(
          dl_manager, name, original.url(name), size=size, sha256=sha,
          instructions=original.INSTRUCTIONS, alternatives=(name[:-3],))
    return {"train": self._generate_examples(original.SmallNORBSource(files))}

  def _generate_examples(self, src):
    imgs = src.all_images()
    labels = src.grid.factors  # original class ids (a sub-grid keeps them)
    for i in range(src.space.num_records):
      rec = {"image": imgs[i]}
      for k, name in enumerate(original.FACTOR_NAMES):
        rec[f"label_{name}"] = int(labels[i, k])
      rec["value_azimuth"] = np.float32(20 * src.grid.factors[i, 3])
      yield i, rec
