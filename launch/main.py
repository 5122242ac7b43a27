"""The main job, offline by default:

  python -m launch.main --config=configs/main_job.py --workdir=/tmp/dtransfer_main
"""

from absl import app
from absl import flags
from ml_collections import config_flags

from dtransfer import main_job
from launch import common

CONFIG = config_flags.DEFINE_config_file("config", "configs/main_job.py",
                                         "Main-job config file.", lock_config=True)
flags.mark_flags_as_required(["workdir"])


def run(config, workdir):
  main_job.run_main_job(config, workdir)
  print(f"report: {workdir}/report.md")


if __name__ == "__main__":
  app.run(common.config_main(CONFIG, run), flags_parser=common.parse_flags)
