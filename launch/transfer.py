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

if __name__ == "__main__":
  app.run(common.config_main(CONFIG, transfer.transfer_and_evaluate), flags_parser=common.parse_flags)
