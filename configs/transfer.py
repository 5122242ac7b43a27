"""Transfer a trained source model to a target dataset and fine-tune it without labels.

  python -m launch.transfer --config=configs/transfer.py:noisy_dsprites,quick \
      --config.transfer.source_workdir=/tmp/src --workdir=/tmp/transfer

Argument: ``<target dataset>,<preset>``. Fine-tuning: beta-VAE ELBO, 50k steps
(paper), batch 64, Adam 1e-4, the optimizer state copied from the source. The
architecture is read from the source's work directory.
"""

import ml_collections

from configs import common


def get_config(arg: str | None = None):
  a = common.parse_arg(arg, dataset="noisy_dsprites", preset="paper")
  c = common.base_config()
  c.data = common.data_config(a.dataset)
  c.objective = "beta_vae"
  c.model.beta_warmup_steps = 0
  c.train.num_steps = 50_000
  c = common.apply_preset(c, a.preset)
  if a.preset == "quick":
    c.train.num_steps = 500
    c.train.batch_size = 64
  c.transfer = ml_collections.ConfigDict({
      "source_workdir": "",
      "reset_optimizer": False,      # True: fresh Adam state instead of the source's
      "reference_overrides": False,  # True: the authors' beta=1, seed=0 for every run
  })
  return c
