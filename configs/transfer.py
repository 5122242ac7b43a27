"""Transfer a trained source model to a target dataset and fine-tune it without labels.

  python -m launch.transfer --config=configs/transfer.py:noisy_dsprites,quick \
      --config.transfer.source_workdir=/tmp/src --workdir=/tmp/transfer

Argument: ``<target dataset>,<preset>[,size=N]``. Fine-tuning (paper): beta-VAE ELBO,
50k steps, batch 64, Adam 1e-4, gradient clipping as the authors' target
method had it (``TARGET_CLIP``), the Adam moments carried over from the source
(``transfer.reset_optimizer`` starts them afresh). The architecture is read
from the source's work directory; the optimiser is always this config's.
"""

import ml_collections

from configs import common
from configs import source as source_cfg

# Gradient clipping of the authors' fine-tuning, per target (their target
# configs/<target>/experiment.py): COLORDSPRITES and SHAPE3D ran the weak
# method's update (clip 1.0); every other target ran EFFICIENTVAE, which does
# not clip. Isaac3D has no authors' config; it follows the unclipped majority.
CLIPPED_TARGETS = frozenset({"color_dsprites", "shapes3d"})
PAPER_FINETUNE_STEPS = 50_000


def target_clip(dataset: str) -> float:
  """The authors' gradient-clipping norm when fine-tuning on ``dataset`` (0: off)."""
  return 1.0 if dataset in CLIPPED_TARGETS else 0.0


# The quick preset's fine-tuning, chosen by measurement (dSprites -> Noisy-dSprites,
# 32x32 like the quick source; benchmarks/quick_preset.md). Departures from the
# paper (50k steps, Adam 1e-4 constant, beta 1, no beta warm-up) and why:
#  - 1,000 steps of 64 images with Adam 1e-3, a 50-step warm-up and a cosine
#    decay: the time of the main job;
#  - beta warmed up linearly from 0 to 1 over the first 500 steps: at 32x32 the
#    noise's reconstruction term (about 2,120 nats per image) dwarfs what the
#    sprite adds (about 35), and before the encoder has learnt to see sprites
#    in the noise the KL term wins: at beta 1 without warm-up one fine-tuning
#    seed of two collapsed every dim, beta 1.5, 2 and 8 collapsed them all;
#    beta 0.5 kept them but spread position over every dim (OMES -0.15);
#    with the warm-up no seed collapsed.
QUICK_FINETUNE = {"train.num_steps": 1000, "train.batch_size": 64, "model.beta": 1.0,
                  "model.beta_warmup_steps": 500,
                  "optim.learning_rate": 1e-3, "optim.schedule": "cosine",
                  "optim.warmup_steps": 50}


def quick_settings(c):
  """The quick preset's fine-tuning (``QUICK_FINETUNE``), applied to ``c``."""
  c.update_from_flattened_dict(QUICK_FINETUNE)
  return c


def get_config(arg: str | None = None):
  a = common.parse_arg(arg, dataset="noisy_dsprites", preset="paper", size=0)
  c = common.base_config()
  # size=N: targets with a size option (the dSprites family, real_objects) at
  # NxN, for sources trained on smaller images (configs/didd.py:quick is 32x32).
  # The dSprites family has the option always: 64 (paper) or the quick source's
  # size (configs/source.py QUICK_SIZE), so the quick presets match.
  size = a.size or (source_cfg.QUICK_SIZE if a.preset == "quick" else 64)
  if a.dataset in source_cfg.DSPRITES_FAMILY or a.size:
    c.data = common.data_config(a.dataset, size=size)
  else:
    c.data = common.data_config(a.dataset)
  c.method.name = "beta_vae"
  c.model.beta_warmup_steps = 0
  c.train.num_steps = PAPER_FINETUNE_STEPS
  if a.preset == "paper":
    c.optim.grad_clip_norm = target_clip(a.dataset)
  c = common.apply_preset(c, a.preset)
  if a.preset == "quick":
    c = quick_settings(c)
  c.transfer = ml_collections.ConfigDict({
      "source_workdir": "",
      # True: a fresh optimiser state; False: the source's Adam moments and
      # step count continue (the authors' code restored them).
      "reset_optimizer": False,
      # True: the authors' fine-tuning exactly: beta=1, seed 0 and the source's
      # optimiser settings (lr, Adam betas, weight decay) for every run.
      "reference_overrides": False,
  })
  return c
