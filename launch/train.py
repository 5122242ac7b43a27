"""Trains a model: ``python -m launch.train --config=configs/source.py:dsprites,quick --workdir=DIR``.

``--config.train.num_models=N`` trains N models (seeds seed..seed+N-1, or
``--config.train.seeds``/``--config.train.betas``) as one program, in
``DIR/model_<i>``.
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from dtransfer import group
from launch import common

CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.",
                                         lock_config=True)
flags.mark_flags_as_required(["config", "workdir"])

if __name__ == "__main__":
  app.run(common.config_main(CONFIG, group.train_and_evaluate),
          flags_parser=common.parse_flags)
