"""The main job: weak source training, transfer, fine-tuning, OMES, report.

  python -m launch.main --config=configs/main_job.py --workdir=/tmp/dtransfer_main

Argument: ``<preset>[,source=<dataset>,target=<dataset>][,method=<method>]``;
default ``quick`` (dSprites -> Noisy-dSprites, offline; see the README for its
measured time). ``method=cycle_vae`` trains the source with the cycle-consistent
VAE (configs/cycle_vae.py) instead of the weakly supervised VAE.
Any field can be overridden, e.g. ``--config.source.model.beta=2``.
"""

import ml_collections

from configs import common
from configs import cycle_vae as cycle_cfg
from configs import source as source_cfg
from configs import transfer as transfer_cfg


# Targets with a ``size`` option (image side).
SIZED_TARGETS = source_cfg.DSPRITES_FAMILY + ("real_objects",)


def get_config(arg: str | None = None):
  a = common.parse_arg(arg, preset="quick", source="dsprites", target="noisy_dsprites",
                       method="weak_vae")
  sources = {"weak_vae": source_cfg, "cycle_vae": cycle_cfg}
  if a.method not in sources:
    raise ValueError(f"unknown source method '{a.method}'; choose one of {sorted(sources)}.")
  c = ml_collections.ConfigDict()
  c.source = sources[a.method].get_config(f"{a.source},{a.preset}")
  c.target = transfer_cfg.get_config(f"{a.target},{a.preset}")
  # The target's images at the source's size where both have a size option
  # (the quick dSprites sources are 32x32; configs/source.py QUICK_SIZE).
  # Other sources (e.g. the cycle VAE's dSprites) are 64x64.
  if a.target in SIZED_TARGETS:
    c.target.data.kwargs.size = c.source.data.get("kwargs", {}).get("size", 64)
  return c
