"""Trains a model: ``python -m launch.train --config=configs/source.py:dsprites,quick --workdir=DIR``."""

from absl import app
from absl import flags
from ml_collections import config_flags

from dtransfer import train
from launch import common

CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.",
                                         lock_config=True)
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}; use --flag=value.")
  common.setup()
  train.train_and_evaluate(CONFIG.value, common.WORKDIR.value)


if __name__ == "__main__":
  app.run(main)
