"""TFDS builder ``dtransfer_dsprites``: dSprites and its variants, without TensorFlow.

Named ``dtransfer_dsprites`` so it never shadows TFDS's stock ``dsprites``.
Records are array_record, in factor order (record i has factors unravel(i)
of the config's space, ``disable_shuffling=True``), with the image as a
zlib-compressed uint8 Tensor and stock-TFDS-style ``label_<factor>`` /
``value_<factor>`` features. The factor grid is also stored in the dataset
metadata (``factor_names``, ``factor_sizes``) so readers need no code.

Configs: one per variant (white, noisy, color, color_dlib, noisy_color) and
base: rendered procedurally (default, offline) or read from DeepMind's npz
(``*_original``, downloaded or taken from the manual directory). Noise and
random colours are drawn once per record at build time from a Generator
seeded ``(config.seed, first record of the 4096-record chunk)``, so a rebuild
is identical; the on-the-fly ``noisy_*`` sources draw fresh noise per access
instead, as the authors do.
"""

from __future__ import annotations

import dataclasses

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from dtransfer.data.factor_space import FactorSpace
from dtransfer.datasets import _builder_utils
from dtransfer.datasets.dsprites import original
from dtransfer.datasets.dsprites import renderer
from dtransfer.datasets.dsprites import variants

CHUNK = 4096
_DESCRIPTIONS = {
    "white": "white sprite on black, 1 channel (dSprites)",
    "noisy": "white sprite on uniform noise, 3 channels (Noisy-dSprites)",
    "color": "sprite in one of 7 colours, colour a factor (Color-dSprites)",
    "color_dlib": "sprite in a random colour U(0.5,1)^3 per record "
                  "(disentanglement_lib Color-dSprites)",
    "noisy_color": "coloured sprite (colour a factor) on uniform noise "
                   "(Noisy-Color-dSprites)",
}


@dataclasses.dataclass
class DspritesConfig(tfds.core.BuilderConfig):
  """A variant built from a base.

  Attributes:
    variant: one of variants.VARIANTS.
    base: "procedural" (renderer) or "original" (DeepMind's npz).
    factor_sizes: optional reduced grid (one size per factor of the variant).
    seed: seed of the per-record noise / random colours.
  """
  variant: str = "white"
  base: str = "procedural"
  factor_sizes: tuple[int, ...] | None = None
  seed: int = 0


def _configs() -> list[DspritesConfig]:
  out = []
  for base in ("procedural", "original"):
    for v in variants.VARIANTS:
      name = v if base == "procedural" else f"{v}_original"
      src = "rendered procedurally" if base == "procedural" else (
          "from DeepMind's dsprites npz")
      out.append(DspritesConfig(name=name, variant=v, base=base,
                                description=f"{_DESCRIPTIONS[v]}, {src}."))
  return out


class Builder(tfds.core.GeneratorBasedBuilder):
  """dSprites variants as array_record files in factor order."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = _configs()
  DEFAULT_CONFIG_NAME = "white"
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Only for the *_original configs, and only if the download fails: "
      f"{original.INSTRUCTIONS}")

  def _space(self) -> FactorSpace:
    cfg = self.builder_config
    space, _ = renderer.subgrid(variants.full_space(cfg.variant),
                                cfg.factor_sizes)
    return space

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    space = self._space()
    channels = variants.num_channels(cfg.variant)
    features = {"image": _builder_utils.image_feature((64, 64, channels))}
    features.update(_builder_utils.label_features(space.names, space.sizes))
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict(features),
        homepage="https://github.com/google-deepmind/dsprites-dataset",
        disable_shuffling=True,
        metadata=tfds.core.MetadataDict(),
    )

  def _split_generators(self, dl_manager):
    cfg = self.builder_config
    header = None
    if cfg.base == "original":
      header = original.read_header(self._original_file(dl_manager))
    space = self._record_space(header)
    self.info.metadata.update({
        "factor_names": list(space.names),
        "factor_sizes": list(space.sizes),
        "variant": cfg.variant,
        "base": cfg.base,
        "seed": cfg.seed,
    })
    return {"train": self._generate_examples(header, space)}

  def _original_file(self, dl_manager):
    """The npz: from the manual directory if there, else downloaded."""
    mdir = _builder_utils.manual_dir(dl_manager)
    if mdir is not None and (mdir / original.FILENAME).exists():
      return mdir / original.FILENAME
    where = mdir or getattr(dl_manager, "_manual_dir", None) or "<manual_dir>"
    try:
      return dl_manager.download(original.URL)
    except Exception as e:  # pylint: disable=broad-except
      raise FileNotFoundError(
          f"could not download {original.URL} ({type(e).__name__}: {e}). "
          f"Download it elsewhere and put it at {where}/{original.FILENAME} "
          "(or pass manual_dir=DIR holding it).") from e

  def _record_space(self, header) -> FactorSpace:
    """The stored grid: the config's, cut from the file's grid if original."""
    cfg = self.builder_config
    if header is None:
      return self._space()
    color_size, sprite_sizes = variants.split_sizes(cfg.variant,
                                                    cfg.factor_sizes)
    sprite, _ = renderer.subgrid(header.space, sprite_sizes)
    if not variants.has_color_factor(cfg.variant):
      return sprite
    color, _ = renderer.subgrid(variants.COLOR_SPACE, None if color_size is None
                                else (color_size,))
    return FactorSpace(color.names + sprite.names, color.sizes + sprite.sizes)

  def _chunks(self, header, space):
    """Yields (first index, masks [n,64,64], sprite values [n,5]) in order.

    The colour factor (slowest) is handled by the caller; this walks the 5
    sprite factors of ``space`` once.
    """
    cfg = self.builder_config
    has_color = variants.has_color_factor(cfg.variant)
    sprite = FactorSpace(space.names[has_color:], space.sizes[has_color:])
    if header is None:
      _, maps = renderer.subgrid(renderer.SPACE, sprite.sizes)
      for a in range(0, sprite.num_records, CHUNK):
        full = renderer.to_full(
            sprite.factors(np.arange(a, min(a + CHUNK, sprite.num_records))),
            maps)
        yield a, renderer.render(full), renderer.factor_values(full)
      return
    # Original file: stream it, keeping the records of the (sub-)grid.
    _, maps = renderer.subgrid(header.space, sprite.sizes)
    keep = header.space.index(renderer.to_full(
        sprite.factors(np.arange(sprite.num_records)), maps))
    pos = 0
    for start, imgs in original.iter_images(header.path, chunk=CHUNK):
      hi = np.searchsorted(keep, start + len(imgs))
      rows = keep[pos:hi]
      if len(rows):
        yield pos, imgs[rows - start], header.values[rows]
      pos = hi

  def _generate_examples(self, header, space):
    cfg = self.builder_config
    has_color = variants.has_color_factor(cfg.variant)
    color_size, _ = variants.split_sizes(cfg.variant, cfg.factor_sizes)
    _, color_maps = renderer.subgrid(variants.COLOR_SPACE, None if color_size
                                     is None else (color_size,))
    n_sprite = space.num_records // (space.sizes[0] if has_color else 1)
    n_colors = space.sizes[0] if has_color else 1
    names = space.names
    done = 0
    for c in range(n_colors):
      for a, masks, values in self._chunks(header, space):
        first = c * n_sprite + a
        index = np.arange(first, first + len(masks))
        factors = space.factors(index)
        rng = np.random.default_rng([cfg.seed, first])
        images = variants.apply_variant(
            cfg.variant, masks, factors, rng, color_map=color_maps[0])
        if has_color:
          values = np.concatenate(
              [np.full((len(masks), 1), color_maps[0][c], np.float32),
               values], axis=1)
        for j, i in enumerate(index):
          ex = {"image": images[j]}
          for k, name in enumerate(names):
            ex[f"label_{name}"] = int(factors[j, k])
            ex[f"value_{name}"] = np.float32(values[j, k])
          yield int(i), ex
        done += len(masks)
        if done % (64 * CHUNK) < len(masks):
          logging.info("dtransfer_dsprites/%s: %d / %d records generated",
                       cfg.name, done, space.num_records)
