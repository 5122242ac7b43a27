"""dSprites and its variants: renderer, original-file reader, TFDS builder.

Importing this package is cheap; the registry factories live in
``variants`` and TFDS is only imported by ``build`` and ``origin="tfds"``.
"""

from __future__ import annotations


def build(config: str = "white", data_dir=None, **kwargs):
  """Prepares a ``dtransfer_dsprites`` config; see ``tfds_io.build``.

  Example: ``build("noisy", "/data/tfds")`` or, from DeepMind's file,
  ``build("white_original", "/data/tfds", manual_dir="/data/dsprites")``.
  """
  from dtransfer.datasets.dsprites import tfds_io  # pylint: disable=g-import-not-at-top
  return tfds_io.build(config, data_dir, **kwargs)


def config_names() -> list[str]:
  """Names of the predefined ``dtransfer_dsprites`` configs."""
  from dtransfer.datasets.dsprites import tfds_io  # pylint: disable=g-import-not-at-top
  return sorted(tfds_io.Builder.builder_configs)
