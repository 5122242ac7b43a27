"""Finding an original file or folder among the places people put it.

Why: every reader accepts its original under a few layouts (flat in data_dir,
in the archive's own folder, in TFDS's manual directory); one helper looks in
order and, when nothing fits, raises an error that names every place it looked
and how to get the file.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence


def find_first(data_dir, relative: Sequence[str], *, what: str, instructions: str,
               accept: Callable[[str], bool] = os.path.exists,
               dataset: str = "") -> str:
  """The first ``data_dir/relative[i]`` (``""``: data_dir itself) that ``accept`` takes.

  Raises:
    ValueError: no data_dir was given.
    FileNotFoundError: none fits; the message lists every path tried.
  """
  if data_dir is None:
    raise ValueError(f"{dataset or 'source=original'} needs data_dir, the folder "
                     f"holding {what}. {instructions}")
  data_dir = os.fspath(data_dir)
  paths = [os.path.join(data_dir, r) if r else data_dir for r in relative]
  for path in paths:
    if accept(path):
      return path
  raise FileNotFoundError(f"missing {what}: looked for {paths}. {instructions}")
