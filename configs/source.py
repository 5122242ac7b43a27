"""Weakly supervised source training (Dapueto et al. 2024).

  python -m launch.train --config=configs/source.py:dsprites,quick --workdir=/tmp/src
  python -m launch.train --config=configs/source.py:color_dsprites,paper \
      --workdir=/tmp/src --config.model.beta=2 --config.seed=3

Argument: ``<dataset>,<preset>``; presets ``quick`` (CPU minutes), ``paper``
(the authors' settings for that source: their BatchNorm + LayerNorm network
``dapueto``, 400k steps (300k for the Coil100 sources, with weight decay
1e-11), batch 64 pairs, Adam 1e-4, clipping 1.0, beta warm-up 50k (none for
Shapes3D)), ``tiny`` (tests). ``configs/study.py:paper`` builds every source
run from this file, so the two paper presets cannot disagree.
"""

from configs import common

# Dataset options the paper's sources used: every input had 3 channels
# (white dSprites replicated to RGB).
SOURCE_KWARGS = {
    "dsprites": {"channels": 3},
}

# The network of the authors' code (EFFICIENTWEAKVAE / EFFICIENTVAE: convs with
# BatchNorm, LayerNorm on the features, tanh decoder).
PAPER_MODEL = "dapueto"

# The authors' per-source settings that differ from the defaults, from their
# configs/<source>_weak/experiment.py: iterations, weight decay, beta warm-up.
PAPER_SOURCE = {
    "shapes3d": {"beta_warmup_steps": 0},
    "coil100_augmented": {"num_steps": 300_000, "weight_decay": 1e-11},
    "coil100_augmented_binary": {"num_steps": 300_000, "weight_decay": 1e-11},
}
PAPER_WARMUP = 50_000


def paper_settings(dataset: str) -> dict:
  """The paper's source training of ``dataset``: steps, weight decay, warm-up."""
  out = {"num_steps": 400_000, "weight_decay": 0.0, "beta_warmup_steps": PAPER_WARMUP}
  out.update(PAPER_SOURCE.get(dataset, {}))
  return out


def get_config(arg: str | None = None):
  a = common.parse_arg(arg, dataset="dsprites", preset="paper")
  c = common.base_config()
  c.data = common.data_config(a.dataset, **SOURCE_KWARGS.get(a.dataset, {}))
  c.method.name = "weak_vae"
  paper = paper_settings(a.dataset)
  c.model.beta_warmup_steps = paper["beta_warmup_steps"]
  c.optim.weight_decay = paper["weight_decay"]
  if a.preset == "paper":
    c.model.name = PAPER_MODEL
    c.train.num_steps = paper["num_steps"]
  c = common.apply_preset(c, a.preset)
  if a.preset != "paper":
    c.model.beta_warmup_steps = c.train.num_steps // 8 if c.model.beta_warmup_steps else 0
  return c
