"""Weakly supervised source training (Dapueto et al. 2024, §2 of the reference notes).

  python -m launch.train --config=configs/source.py:dsprites,quick --workdir=/tmp/src
  python -m launch.train --config=configs/source.py:color_dsprites,paper \
      --workdir=/tmp/src --config.model.beta=2 --config.seed=3

Argument: ``<dataset>,<preset>``; presets ``quick`` (CPU minutes), ``paper``
(400k steps, batch 64 pairs, Adam 1e-4, beta warm-up 50k), ``tiny`` (tests).
"""

from configs import common

# Dataset options the paper's sources used.
SOURCE_KWARGS = {
    "dsprites": {"channels": 3},  # the authors' white 3-channel dSprites
}


def get_config(arg: str | None = None):
  a = common.parse_arg(arg, dataset="dsprites", preset="paper")
  c = common.base_config()
  c.data = common.data_config(a.dataset, **SOURCE_KWARGS.get(a.dataset, {}))
  c.objective = "weak"
  c.model.beta_warmup_steps = 0 if a.dataset == "shapes3d" else 50_000
  c = common.apply_preset(c, a.preset)
  if a.preset != "paper":
    c.model.beta_warmup_steps = c.train.num_steps // 8 if c.model.beta_warmup_steps else 0
  return c
