"""Preparing and opening the ``dtransfer_dsprites`` TFDS builder.

Why a separate module: the builder class is TFDS boilerplate; what callers
need (``launch/build_datasets.py``, the ``origin="tfds"`` factories) is
"prepare config X in folder Y" and "open config X from folder Y as an
ImageSource". Importing this module imports tensorflow_datasets (about 1 s),
so the registry only imports it when a TFDS source is asked for.

Config names: ``<variant>`` (rendered procedurally), ``<variant>_original``
(from DeepMind's npz), and with a reduced grid a ``_grid<a>x<b>x...`` suffix,
e.g. ``white_grid3x2x4x4x4`` (tests, quick runs).
"""

from __future__ import annotations

import re

from dtransfer.datasets import _builder_utils as bu
from dtransfer.data.factor_space import FactorSpace
from dtransfer.data.sources import TFDSSource
from dtransfer.datasets.dsprites import variants
from dtransfer.datasets.dsprites.dtransfer_dsprites import dtransfer_dsprites_dataset_builder as builder_lib

Builder = builder_lib.Builder
DspritesConfig = builder_lib.DspritesConfig
BASES = ("procedural", "original")
_NAME_RE = re.compile(r"^(?P<stem>[a-z_]+?)(?:_grid(?P<grid>\d+(?:x\d+)*))?$")


def config_name(variant: str, base: str = "procedural",
                factor_sizes=None) -> str:
  """The config name of a variant built from ``base`` on a (reduced) grid."""
  if base not in BASES:
    raise ValueError(f"unknown dSprites base '{base}'; choose one of {BASES}.")
  variants.split_sizes(variant, factor_sizes)  # validates the variant + sizes
  name = variant if base == "procedural" else f"{variant}_original"
  if factor_sizes is not None:
    name += "_grid" + "x".join(str(int(s)) for s in factor_sizes)
  return name


def make_config(name: str) -> DspritesConfig:
  """The BuilderConfig of a config name (predefined or with a grid suffix)."""
  predefined = Builder.builder_configs
  if name in predefined:
    return predefined[name]
  m = _NAME_RE.match(name)
  stem = m and m.group("stem")
  if not m or stem not in predefined:
    raise ValueError(
        f"unknown dtransfer_dsprites config '{name}'; use one of "
        f"{sorted(predefined)}, optionally with a reduced grid suffix "
        "'_grid<a>x<b>x...' (one size per factor).")
  sizes = tuple(int(s) for s in m.group("grid").split("x"))
  base = predefined[stem]
  variants.split_sizes(base.variant, sizes)
  return DspritesConfig(name=name, variant=base.variant, base=base.base,
                        factor_sizes=sizes, seed=base.seed,
                        description=f"{base.description} Reduced grid {sizes}.")


def _full_name(config: str, factor_sizes) -> str:
  if factor_sizes is None:
    return config
  if "_grid" in config:
    raise ValueError(f"config '{config}' already names a grid; do not also "
                     f"pass factor_sizes={factor_sizes}.")
  return config + "_grid" + "x".join(str(int(s)) for s in factor_sizes)


def builder(config: str, data_dir, factor_sizes=None) -> Builder:
  """The (possibly unprepared) array_record builder of a config."""
  if data_dir is None:
    raise ValueError("dtransfer_dsprites needs data_dir: the folder that holds "
                     "(or will hold) the prepared datasets.")
  return bu.builder(Builder, make_config(_full_name(config, factor_sizes)), data_dir)


def build(config: str = "white", data_dir=None, *, manual_dir=None,
          download_dir=None, factor_sizes=None,
          register_checksums: bool = False) -> Builder:
  """Prepares a config (no-op if already prepared) and returns its builder.

  Args:
    config: a config name, e.g. "white", "noisy_color", "white_original".
    data_dir: where the array_record files go (``<data_dir>/dtransfer_dsprites/
      <config>/<version>/``).
    manual_dir: folder holding the original npz for ``*_original`` configs
      (default ``<data_dir>/downloads/manual``); if the file is not there it
      is downloaded from original.URL.
    download_dir: TFDS download cache (default ``<data_dir>/downloads``).
    factor_sizes: an optional reduced grid (see dataset.make).
    register_checksums: write the downloaded file's size and sha256 into the
      builder's checksums.tsv (needs a writable source checkout).

  Generation is chunked (4096 records at a time), so memory stays bounded;
  TFDS shows a progress bar per split.
  """
  if data_dir is None:
    builder(config, data_dir, factor_sizes)  # raises the dSprites-specific error
  return bu.prepare(Builder, make_config(_full_name(config, factor_sizes)), data_dir,
                    manual_dir=manual_dir, download_dir=download_dir,
                    register_checksums=register_checksums)


def open_source(config: str, data_dir, factor_sizes=None) -> TFDSSource:
  """A prepared config as an ImageSource (random access, array_record).

  Raises:
    FileNotFoundError: the config is not prepared in data_dir (names the call
      that prepares it).
  """
  if data_dir is None:
    raise ValueError("origin='tfds' needs data_dir: the folder holding the "
                     "prepared dtransfer_dsprites dataset.")
  b = builder(config, data_dir, factor_sizes)
  name = b.builder_config.name
  if not b.is_prepared():
    raise FileNotFoundError(
        f"dtransfer_dsprites/{name} is not prepared in {data_dir}. Prepare it "
        f"with dtransfer.datasets.dsprites.build({name!r}, {str(data_dir)!r}) "
        f"or `python -m launch.build_datasets` (datasets dsprites, config "
        f"{name}).")
  meta = b.info.metadata or {}
  if "factor_sizes" not in meta:
    raise ValueError(f"{b.data_dir} lacks the factor grid in its metadata; "
                     "it was not written by this builder. Delete and rebuild it.")
  space = FactorSpace(tuple(meta["factor_names"]), tuple(meta["factor_sizes"]))
  return TFDSSource(bu.checked_source(b, "train"), space)
