"""Builds a study's tables and figures from its completed runs:

  python -m launch.report --root=runs/quick          # the study stored in runs/quick
  python -m launch.report --root=runs/paper --study=configs/study.py:paper,pairs=1+5

Writes <root>/report/ (report.md, tables.md/.csv/.tex, runs.csv, figures).
Missing runs are listed in the report and left out of the tables.
"""

import os

from absl import app
from absl import flags
from ml_collections import config_flags

STUDY = config_flags.DEFINE_config_file(
    "study", None, "Study config; default: <root>/study.json (written by the "
    "sweep); with neither, every completed run under --root.", lock_config=False)
ROOT = flags.DEFINE_string("root", None, "Directory of the study's runs.")
OUT = flags.DEFINE_string("out", None, "Output folder (default <root>/report).")
flags.mark_flags_as_required(["root"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}; use --flag=value.")
  from dtransfer import study as study_lib  # pylint: disable=g-import-not-at-top
  from dtransfer import study_report  # pylint: disable=g-import-not-at-top
  root = os.path.abspath(ROOT.value)
  if not os.path.isdir(root):
    raise app.UsageError(f"--root={root} does not exist; run python -m launch.sweep "
                         "--root=... first.")
  study = STUDY.value
  if study is None and os.path.exists(os.path.join(root, "study.json")):
    study = study_lib.load_study(root)
  print(f"report: {study_report.write_report(root, study, OUT.value)}")


if __name__ == "__main__":
  app.run(main)
