"""dtransfer_cars3d: Cars3D as array_record, records in factor order.

Object ids follow the archive's data/cars/list.txt (sorted .mat file names
if it is missing); ``info.metadata["objects"]`` keeps the file of each id
and ``["object_order"]`` where the order came from. Records run in (elevation,
azimuth, object) order, object fastest, so every car is needed for every
1024-record chunk: each car is decoded once and its 64x64 views cached
(about 216 MB for all 183, the whole dataset at the served resolution).
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds

from dtransfer.datasets import _builder_utils as bu
from dtransfer.datasets import _fetch
from dtransfer.datasets.cars3d import original


class Builder(tfds.core.GeneratorBasedBuilder):
  """Cars3D (Reed et al. 2015): 183 cars x 24 azimuths x 4 elevations."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "Sorted object ids; LANCZOS thumbnails to 64.",
      "1.1.0": "Object ids follow the archive's list.txt (sorted names when "
               "it is missing), as disent reads them.",
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = original.INSTRUCTIONS

  def _info(self):
    feats = {"image": bu.image_feature(original.IMAGE_SHAPE)}
    feats.update(bu.label_features(original.FACTOR_NAMES,
                                   (4, 24, original.NUM_OBJECTS), values=False))
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict(feats),
        homepage="https://www.scottreed.info/",
        metadata=tfds.core.MetadataDict(),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    mdir = bu.manual_dir(dl_manager)
    folder = None
    if mdir is not None:
      try:
        folder = original.find_folder(mdir)
      except FileNotFoundError:
        folder = None
    if folder is None:
      archive = _fetch.manual_or_download(
          dl_manager, original.ARCHIVE, original.URL,
          instructions=original.INSTRUCTIONS)
      folder = original.find_folder(original.extract_cars(
          archive, os.path.join(os.fspath(dl_manager.download_dir),
                                "cars3d_extracted")))
    src = original.Cars3DSource(folder)
    self.info.metadata["objects"] = [f[:-len(".mat")] for f in src.files]
    self.info.metadata["object_order"] = src.object_order
    return {"train": self._generate_examples(src)}

  def _generate_examples(self, src):
    n = src.space.num_records
    for start in range(0, n, 1024):
      idx = np.arange(start, min(start + 1024, n))
      imgs = src.images(idx)
      f = src.space.factors(idx)
      for j, i in enumerate(idx):
        yield int(i), {"image": imgs[j], "label_elevation": int(f[j, 0]),
                       "label_azimuth": int(f[j, 1]),
                       "label_object": int(f[j, 2])}
