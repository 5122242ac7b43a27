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


# How each builder gets its original files when a config needs them:
# "download" (fetched with its checksum; --manual_dir is the fallback),
# "manual" (put them in --manual_dir yourself), "shipped" (in the package).
_ORIGINALS = {"cars3d": "download", "coil100": "download", "dsprites": "download",
              "mpi3d": "download", "shapes3d": "download", "smallnorb": "download",
              "isaac3d": "manual", "rgbd_objects": "manual", "real_objects": "shipped"}


# Builders whose records cover only part of their factor grid.
_INCOMPLETE = {"rgbd_objects"}


def describe(spec, data_dir=None) -> dict:
  """What ``--list`` shows of one dataset: description, image shape, factor grid
  and which files it needs and where from (read from the builder's info; no
  data is read or prepared)."""
  import re  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  spec = parse(spec)
  with tempfile.TemporaryDirectory() as tmp:
    b = _tfds_builder(spec, data_dir or tmp)
    info = b.info
  cfg = getattr(b, "builder_config", None)
  doc = [" ".join((type(b).__doc__ or "").strip().split("\n\n")[0].split())]
  own = getattr(cfg, "description", None) or ""
  description = (own[:1].upper() + own[1:] if spec.builder == DSPRITES else
                 " ".join(p for p in ((doc[0] if doc else ""), own) if p))
  factors = [(k[len("label_"):], int(f.num_classes)) for k, f in info.features.items()
             if k.startswith("label_")]
  grid = 1
  for _, n in factors:
    grid *= n
  kind = _ORIGINALS.get(spec.builder, "manual")
  if getattr(cfg, "base", None) == "procedural" or getattr(cfg, "source", None) == "procedural":
    kind = "procedural"
  urls = re.findall(r"https?://[^\s),]+", getattr(b, "MANUAL_DOWNLOAD_INSTRUCTIONS", "") or "")
  where = urls[0].rstrip(".") if urls else None
  try:  # one file per config (MPI3D's variants): the reader's own table
    per_config = getattr(importlib.import_module(f"dtransfer.datasets.{spec.builder}.original"),
                         "URLS", None)
  except ImportError:
    per_config = None
  if isinstance(per_config, dict) and isinstance(spec.config, str) and spec.config in per_config:
    where = per_config[spec.config]
  folder = f"dtransfer/datasets/{spec.builder}/dtransfer_{spec.builder}/README.md"
  files = {"procedural": "none: rendered offline",
           "shipped": "none: the photographs ship with the package",
           "download": f"downloaded when prepared from {where}; if that fails, put the file "
                       f"in --manual_dir (see {folder})",
           "manual": f"manual: download from {where} into --manual_dir (see {folder})"}[kind]
  return {"name": spec.label, "description": description,
          "image_shape": tuple(info.features["image"].shape), "factors": factors,
          "grid_size": grid, "needs_manual_files": kind == "manual",
          "downloads": kind == "download", "files": files}


def listing() -> str:
  """Every dataset name with what ``describe`` says of it, for ``--list``."""
  blocks = []
  for name in names():
    d = describe(name)
    shape = "x".join(str(s) for s in d["image_shape"])
    grid = " x ".join(f"{f} {n}" for f, n in d["factors"])
    size = (f"at most {d['grid_size']:,} images (an incomplete grid)"
            if d["name"].split("/")[0] in _INCOMPLETE else f"{d['grid_size']:,} images")
    blocks.append(f"{d['name']}\n    {d['description']}\n    {size} of {shape}; factors "
                  f"{grid}\n    files: {d['files']}")
  return "\n".join(blocks)
