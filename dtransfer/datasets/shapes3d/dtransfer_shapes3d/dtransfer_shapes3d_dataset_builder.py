"""dtransfer_shapes3d: Shapes3D as array_record, buildable without TensorFlow.

Configs:
  procedural: rendered offline by dtransfer.datasets.shapes3d.renderer.
  original: DeepMind's 3dshapes.h5, from the manual directory or downloaded.

Records are in factor order (record i has factors unravel(i)) and carry the
stock TFDS feature names (``label_*`` class indices, ``value_*`` floats) with
``image`` stored as a zlib uint8 Tensor instead of a PNG ``Image``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from dtransfer.datasets import _builder_utils as bu
from dtransfer.datasets import _fetch
from dtransfer.datasets.shapes3d import original
from dtransfer.datasets.shapes3d import renderer

FACTOR_NAMES = renderer.FACTOR_NAMES
FACTOR_SIZES = renderer.FACTOR_SIZES
_CHUNK = 1024


@dataclasses.dataclass
class Shapes3dConfig(tfds.core.BuilderConfig):
  """Where the images come from.

  Attributes:
    source: "procedural" or "original".
    grid: procedural only: number of values per factor, spread evenly over the
      full grid (a sub-grid for tests and smoke runs); None = the full grid.
  """
  origin: str = "procedural"
  grid: tuple[int, ...] | None = None


def subgrid_values(grid) -> list[np.ndarray]:
  """Full-grid class indices kept by a procedural sub-grid."""
  if grid is None:
    return [np.arange(s) for s in FACTOR_SIZES]
  if len(grid) != 6 or any(not 1 <= g <= s for g, s in zip(grid, FACTOR_SIZES)):
    raise ValueError(f"grid must give 6 sizes within {FACTOR_SIZES}, got {grid}.")
  return [np.round(np.linspace(0, s - 1, g)).astype(np.int64)
          for g, s in zip(grid, FACTOR_SIZES)]


class Builder(tfds.core.GeneratorBasedBuilder):
  """Shapes3D (floor/wall/object hue 10, scale 8, shape 4, orientation 15)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First dtransfer release (array_record, zlib)."}
  BUILDER_CONFIGS = [
      Shapes3dConfig(name="procedural", origin="procedural",
                     description="Offline numpy ray-traced room scenes."),
      Shapes3dConfig(name="original", origin="original",
                     description="DeepMind's 3dshapes.h5 (Burgess & Kim 2018)."),
  ]
  DEFAULT_CONFIG_NAME = "procedural"
  MANUAL_DOWNLOAD_INSTRUCTIONS = original.INSTRUCTIONS

  def _info(self):
    feats = {"image": bu.image_feature(renderer.IMAGE_SHAPE)}
    feats.update(bu.label_features(FACTOR_NAMES, FACTOR_SIZES))
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict(feats),
        supervised_keys=None,
        homepage="https://github.com/google-deepmind/3d-shapes",
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    cfg = self.builder_config
    if cfg.origin == "procedural":
      return {"train": self._generate_examples(grid=cfg.grid)}
    if cfg.origin == "original":
      return {"train": self._generate_examples(
          path=self._original_path(dl_manager))}
    raise ValueError(f"unknown Shapes3D origin {cfg.origin!r}; use "
                     "'procedural' or 'original'.")

  def _original_path(self, dl_manager):
    return _fetch.manual_or_download(dl_manager, original.FILENAME, original.URL,
                                     size=original.NUM_BYTES, sha256=original.SHA256,
                                     instructions=original.INSTRUCTIONS)

  def _record(self, factors, values, image):
    rec = {"image": image}
    for k, name in enumerate(FACTOR_NAMES):
      rec[f"label_{name}"] = int(factors[k])
      rec[f"value_{name}"] = np.float32(values[k])
    return rec

  def _generate_examples(self, grid=None, path=None):
    """Yields (record index, record); path set = original file."""
    if path is not None:
      return self._generate_original(path)
    return self._generate_procedural(grid)

  def _generate_procedural(self, grid):
    keep = subgrid_values(grid)
    sizes = tuple(len(v) for v in keep)
    n = int(np.prod(sizes))
    render = renderer.Shapes3DRenderer()
    for start in range(0, n, _CHUNK):
      idx = np.arange(start, min(start + _CHUNK, n))
      local = np.stack(np.unravel_index(idx, sizes), -1)
      factors = np.stack([keep[k][local[:, k]] for k in range(6)], -1)
      values = np.stack([renderer.FACTOR_VALUES[k][factors[:, k]]
                         for k in range(6)], -1)
      images = render(factors)
      for j, i in enumerate(idx):
        yield int(i), self._record(factors[j], values[j], images[j])

  def _generate_original(self, path):
    for start, factors, values, images in original.iter_chunks(path):
      for j in range(len(factors)):
        yield start + j, self._record(factors[j], values[j], images[j])
