"""dtransfer_mpi3d: MPI3D toy / realistic / real as array_record.

The npz is streamed in chunks (memory-bounded). Factor sizes come from the
file (4x4 or 6x6 colour x shape, detected from its length) and are kept in
``info.metadata["factor_sizes"]``; ``label_*`` ClassLabels use the largest
release's sizes so both releases fit the same features. The file comes from
the manual directory (current name, dlib's layout, or an old name with a
logged note) or the maintainers' current link; no sha256 is published (see
checksums.tsv and README.md), so ``verify_md5`` optionally checks disent's
md5 of the 2019 Final_Dataset file.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from dtransfer.datasets import _builder_utils as bu
from dtransfer.datasets import _fetch
from dtransfer.datasets.mpi3d import original

_MAX_SIZES = (6, 6, 2, 3, 3, 40, 40)


@dataclasses.dataclass
class Mpi3dConfig(tfds.core.BuilderConfig):
  """variant: toy/realistic/real; factor_sizes: override (sub-files, tests);
  verify_md5: compare the file with disent's md5 of the 2019 Final_Dataset
  file (reads it whole; off by default, see README.md)."""
  variant: str = "toy"
  factor_sizes: tuple[int, ...] | None = None
  verify_md5: bool = False


class Builder(tfds.core.GeneratorBasedBuilder):
  """MPI3D (Gondal et al. 2019): robot-arm scenes, 7 factors, 64x64x3."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Streams the npz; sizes detected from its length."}
  BUILDER_CONFIGS = [Mpi3dConfig(name=v, variant=v) for v in original.VARIANTS]
  DEFAULT_CONFIG_NAME = "toy"
  MANUAL_DOWNLOAD_INSTRUCTIONS = original.instructions("toy")

  def _info(self):
    feats = {"image": bu.image_feature(original.IMAGE_SHAPE)}
    feats.update(bu.label_features(original.FACTOR_NAMES, _MAX_SIZES,
                                   values=False))
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict(feats),
        homepage="https://github.com/rr-learning/disentanglement_dataset",
        metadata=tfds.core.MetadataDict(),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    v = self.builder_config.variant
    path = _fetch.manual_or_download(
        dl_manager, original.filename(v), original.URLS[v],
        instructions=original.instructions(v),
        alternatives=original.candidates(v)[1:])
    original.note_old_name(path, v)
    if self.builder_config.verify_md5:
      original.verify_md5(path, v)
    f = original.NpzImages(path)
    sizes = original.sizes_for(f.shape[0], self.builder_config.factor_sizes)
    self.info.metadata["factor_sizes"] = list(sizes)
    return {"train": self._generate_examples(f, sizes)}

  def _generate_examples(self, f, sizes):
    for start, imgs in f.iter_chunks():
      factors = np.stack(np.unravel_index(
          np.arange(start, start + len(imgs)), sizes), -1)
      for j in range(len(imgs)):
        rec = {"image": imgs[j]}
        for k, name in enumerate(original.FACTOR_NAMES):
          rec[f"label_{name}"] = int(factors[j, k])
        yield start + j, rec
