"""Every dtransfer TFDS builder by name, and preparing them (the library side
of ``python -m launch.build_datasets``).

A dataset is named ``<builder>/<config>`` (e.g. ``shapes3d/procedural``,
``dsprites/white``) or just ``<builder>`` for its default config. Preparing
is resumable (a prepared config is skipped) and memory-bounded (each builder
generates its records in chunks and TFDS writes them incrementally; datasets
are prepared one at a time). Nothing here imports TFDS until it is used.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from typing import Callable, Iterable

# builder name -> "module:Builder class" for builders prepared through
# _builder_utils.prepare. dsprites has its own helpers (dtransfer.datasets.
# dsprites.build) and is handled separately.
_BUILDERS = {
    "shapes3d": "dtransfer.datasets.shapes3d.dtransfer_shapes3d.dtransfer_shapes3d_dataset_builder:Builder",
    "coil100": "dtransfer.datasets.coil100.dtransfer_coil100.dtransfer_coil100_dataset_builder:Builder",
    "real_objects": "dtransfer.datasets.real_objects.dtransfer_real_objects.dtransfer_real_objects_dataset_builder:Builder",
    "rgbd_objects": "dtransfer.datasets.rgbd_objects.dtransfer_rgbd_objects.dtransfer_rgbd_objects_dataset_builder:Builder",
    "isaac3d": "dtransfer.datasets.isaac3d.dtransfer_isaac3d.dtransfer_isaac3d_dataset_builder:Builder",
    "mpi3d": "dtransfer.datasets.mpi3d.dtransfer_mpi3d.dtransfer_mpi3d_dataset_builder:Builder",
    "cars3d": "dtransfer.datasets.cars3d.dtransfer_cars3d.dtransfer_cars3d_dataset_builder:Builder",
    "smallnorb": "dtransfer.datasets.smallnorb.dtransfer_smallnorb.dtransfer_smallnorb_dataset_builder:Builder",
}
DSPRITES = "dsprites"


def builder_names() -> list[str]:
  return sorted(list(_BUILDERS) + [DSPRITES])


def builder_class(name: str):
  """The TFDS builder class of a (non-dsprites) builder name."""
  if name not in _BUILDERS:
    raise KeyError(f"unknown builder '{name}'; known: {builder_names()}.")
  module, cls = _BUILDERS[name].split(":")
  return getattr(importlib.import_module(module), cls)


def config_names(name: str) -> list[str]:
  """Config names of a builder ("" for a builder without configs)."""
  if name == DSPRITES:
    from dtransfer.datasets import dsprites  # pylint: disable=g-import-not-at-top
    return dsprites.config_names()
  cls = builder_class(name)
  return [c.name for c in cls.BUILDER_CONFIGS] or [""]


def names() -> list[str]:
  """Every ``builder/config`` name (``builder`` alone when it has none)."""
  out = []
  for b in builder_names():
    out += [f"{b}/{c}" if c else b for c in config_names(b)]
  return out


@dataclasses.dataclass
class Spec:
  """One dataset to prepare: a builder and a config (name, object or None)."""
  builder: str
  config: object = None

  @property
  def label(self) -> str:
    c = getattr(self.config, "name", self.config)
    return f"{self.builder}/{c}" if c else self.builder


def parse(spec) -> Spec:
  """``"builder/config"``, ``"builder"``, a Spec or a (builder, config) pair.

  Raises:
    KeyError: unknown builder or config (lists the known names).
  """
  if isinstance(spec, Spec):
    return spec
  if isinstance(spec, tuple):
    return Spec(*spec)
  name, _, config = str(spec).strip().partition("/")
  if name not in builder_names():
    raise KeyError(f"unknown dataset builder '{name}' in '{spec}'; known "
                   f"builders: {builder_names()} (see --list).")
  if config:
    known = config_names(name)
    # dsprites also accepts reduced grids such as white_grid1x3x4x4x4.
    if config not in known and not (name == DSPRITES and "_grid" in config):
      raise KeyError(f"unknown config '{config}' of {name}; known: {known}.")
  return Spec(name, config or None)


def _tfds_builder(spec: Spec, data_dir):
  if spec.builder == DSPRITES:
    from dtransfer.datasets.dsprites import tfds_io  # pylint: disable=g-import-not-at-top
    return tfds_io.builder(spec.config or "white", data_dir)
  from dtransfer.datasets import _builder_utils as bu  # pylint: disable=g-import-not-at-top
  return bu.builder(builder_class(spec.builder), spec.config, data_dir)


def is_prepared(spec, data_dir) -> bool:
  return _tfds_builder(parse(spec), os.fspath(data_dir)).is_prepared()


def prepare(spec, data_dir, manual_dir=None, download_dir=None):
  """Prepares one dataset (array_record) unless already prepared; returns
  its builder."""
  spec = parse(spec)
  if data_dir is None:
    raise ValueError("prepare needs data_dir: where the prepared datasets go.")
  if spec.builder == DSPRITES:
    from dtransfer.datasets import dsprites  # pylint: disable=g-import-not-at-top
    return dsprites.build(spec.config or "white", data_dir,
                          manual_dir=manual_dir, download_dir=download_dir)
  from dtransfer.datasets import _builder_utils as bu  # pylint: disable=g-import-not-at-top
  return bu.prepare(builder_class(spec.builder), spec.config, data_dir,
                    manual_dir=manual_dir, download_dir=download_dir)


def build_all(specs: Iterable, data_dir, manual_dir=None, download_dir=None,
              progress: bool = True,
              log: Callable[[str], None] = print) -> dict[str, str]:
  """Prepares each dataset in turn; returns label -> "prepared"/"skipped".

  All specs are checked before any work starts, so a typo fails at once.
  A dataset whose originals are missing raises (FileNotFoundError naming the
  file and where to put it); datasets prepared before it stay prepared, so
  re-running after the fix resumes where it stopped.
  """
  specs = [parse(s) for s in specs]
  if not specs:
    raise ValueError(f"no datasets given; choose among {names()}.")
  data_dir = os.fspath(data_dir)
  status = {}
  bar = None
  if progress:
    from tqdm import auto as tqdm  # pylint: disable=g-import-not-at-top
    bar = tqdm.tqdm(total=len(specs), desc="datasets", unit="dataset")
  try:
    for spec in specs:
      if bar is not None:
        bar.set_postfix_str(spec.label)
      if is_prepared(spec, data_dir):
        status[spec.label] = "skipped"
        log(f"{spec.label}: already prepared in {data_dir}, skipped.")
      else:
        prepare(spec, data_dir, manual_dir=manual_dir,
                download_dir=download_dir)
        status[spec.label] = "prepared"
        log(f"{spec.label}: prepared in {data_dir}.")
      if bar is not None:
        bar.update(1)
  finally:
    if bar is not None:
      bar.close()
  return status
