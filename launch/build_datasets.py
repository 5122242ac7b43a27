"""Prepares dtransfer's TFDS datasets as array_record files.

  python -m launch.build_datasets --datasets=dsprites/white,shapes3d/procedural \
      --data_dir=/data/tfds [--manual_dir=/data/originals]
  python -m launch.build_datasets --list

Already prepared datasets are skipped, so an interrupted run resumes.
"""

from absl import app
from absl import flags

from dtransfer.datasets import builders

DATASETS = flags.DEFINE_list(
    "datasets", None, "Comma-separated builder/config names (see --list).")
DATA_DIR = flags.DEFINE_string("data_dir", None,
                               "Where the prepared datasets go.")
MANUAL_DIR = flags.DEFINE_string(
    "manual_dir", None, "Folder holding manually downloaded original files.")
DOWNLOAD_DIR = flags.DEFINE_string(
    "download_dir", None, "Download cache (default <data_dir>/downloads).")
LIST = flags.DEFINE_bool(
    "list", False, "List the builder/config names, each with its description, image "
    "size, factor grid and the files it needs (and where from), and exit.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}; use --flag=value.")
  if LIST.value:
    print(builders.listing())
    return
  if not DATASETS.value or not DATA_DIR.value:
    raise app.UsageError("give --datasets=NAME[,NAME...] and --data_dir=DIR "
                         "(or --list to see the names).")
  builders.build_all(DATASETS.value, DATA_DIR.value,
                     manual_dir=MANUAL_DIR.value,
                     download_dir=DOWNLOAD_DIR.value)


if __name__ == "__main__":
  app.run(main)
