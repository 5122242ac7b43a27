"""Transfers a source model and fine-tunes it:

  python -m launch.transfer --config=configs/transfer.py:noisy_dsprites,quick \
      --config.transfer.source_workdir=SRC --workdir=DIR
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from dtransfer import transfer
from launch import common

CONFIG = config_flags.DEFINE_config_file("config", None, "Transfer config file.",
                                         lock_config=True)
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}; use --flag=value.")
  common.setup()
  transfer.transfer_and_evaluate(CONFIG.value, common.WORKDIR.value)


if __name__ == "__main__":
  app.run(main)
