"""Datasets by name: ``get_dataset(name, origin=..., data_dir=...) -> ImageSource``.

Each entry names a factory ``module:function`` imported only when asked for, so
importing dtransfer stays cheap. A factory takes ``origin`` ("procedural" to
render offline, "tfds" to read a prepared builder from ``data_dir``, "original"
to read the original files from ``data_dir``/manual dir) plus keyword options,
and returns an ``ImageSource`` (dtransfer.data.sources).
"""

from __future__ import annotations

import difflib
import importlib

# name -> "module:function". Add new datasets here.
_FACTORIES = {
    "dsprites": "dtransfer.datasets.dsprites.dataset:dsprites",
    "noisy_dsprites": "dtransfer.datasets.dsprites.dataset:noisy_dsprites",
    "color_dsprites": "dtransfer.datasets.dsprites.dataset:color_dsprites",
    "color_dsprites_dlib": "dtransfer.datasets.dsprites.dataset:color_dsprites_dlib",
    "noisy_color_dsprites": "dtransfer.datasets.dsprites.dataset:noisy_color_dsprites",
    "shapes3d": "dtransfer.datasets.shapes3d.dataset:shapes3d",
    "shapes3d_domains": "dtransfer.datasets.shapes3d.domains:shapes3d_domains",
    "real_objects": "dtransfer.datasets.real_objects.dataset:real_objects",
    "coil100_augmented": "dtransfer.datasets.coil100.dataset:coil100_augmented",
    "coil100_augmented_binary": "dtransfer.datasets.coil100.dataset:coil100_augmented_binary",
    "rgbd_objects": "dtransfer.datasets.rgbd_objects.dataset:rgbd_objects",
    "rgbd_objects_depth": "dtransfer.datasets.rgbd_objects.dataset:rgbd_objects_depth",
    "isaac3d": "dtransfer.datasets.isaac3d.dataset:isaac3d",
    "mpi3d_toy": "dtransfer.datasets.mpi3d.dataset:mpi3d_toy",
    "mpi3d_realistic": "dtransfer.datasets.mpi3d.dataset:mpi3d_realistic",
    "mpi3d_real": "dtransfer.datasets.mpi3d.dataset:mpi3d_real",
    "cars3d": "dtransfer.datasets.cars3d.dataset:cars3d",
    "smallnorb": "dtransfer.datasets.smallnorb.dataset:smallnorb",
    "digits": "dtransfer.datasets.digits.dataset:digits",
    "rendered_digits": "dtransfer.datasets.rendered_digits.dataset:rendered_digits",
}


def names() -> list[str]:
  """All registered dataset names."""
  return sorted(_FACTORIES)


def register(name: str, factory: str) -> None:
  """Registers ``module:function`` under ``name`` (for user datasets)."""
  _FACTORIES[name] = factory


def get_dataset(name: str, origin: str = "procedural", data_dir: str | None = None,
                **kwargs):
  """Returns the ImageSource of a named dataset.

  Raises:
    KeyError: unknown name (the message lists the known ones).
  """
  if name not in _FACTORIES:
    close = difflib.get_close_matches(name, names(), n=3)
    hint = f" Did you mean {close}?" if close else ""
    raise KeyError(f"unknown dataset '{name}'.{hint} Known datasets: {names()}.")
  module, fn = _FACTORIES[name].split(":")
  return getattr(importlib.import_module(module), fn)(
      origin=origin, data_dir=data_dir, **kwargs)
