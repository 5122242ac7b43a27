"""Writes dummy_data/smallnorb-*.mat.gz: tiny files in the SmallNORB format.

Binary matrices (magic, ndim, max(3, ndim) dims, data; little endian) with
the real file names, over a sub-grid: categories 0-1, training instances 4,
6 and test instances 0, 1, elevations 0-1, raw azimuths 0 and 2, lighting 0;
16 shuffled rows per split. Camera 0 shows a grey level encoding the factors,
camera 1 its negative (must be ignored).

  PYTHONPATH=. python dtransfer/datasets/smallnorb/dtransfer_smallnorb/dummy_data/make_dummy_data.py
"""

import gzip
import itertools
import os

import numpy as np

SPLITS = {"training": ("smallnorb-5x46789x9x18x6x2x96x96-training", (4, 6)),
          "testing": ("smallnorb-5x01235x9x18x6x2x96x96-testing", (0, 1))}


def grey(cat, inst, elev, azim_raw, light) -> int:
  return 10 + 100 * cat + 10 * inst + 5 * elev + 2 * azim_raw + light


def matrix_bytes(array: np.ndarray) -> bytes:
  magic = {np.dtype(np.uint8): 507333717, np.dtype("<i4"): 507333716}[
      array.dtype]
  dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
  head = np.array([magic, array.ndim] + dims, "<i4").tobytes()
  return head + np.ascontiguousarray(array).tobytes()


def write_files(folder, gz=True):
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(0)
  for prefix, instances in SPLITS.values():
    rows = np.array(list(itertools.product((0, 1), instances, (0, 1), (0, 2),
                                           (0,))))
    rows = rows[rng.permutation(len(rows))]
    dat = np.zeros((len(rows), 2, 96, 96), np.uint8)
    for i, r in enumerate(rows):
      dat[i, 1] = 255 - grey(*r)
      dat[i, 0] = grey(*r)
      dat[i, 0, 40:56, 40:56] = 255
    files = {"dat": dat, "cat": rows[:, 0].astype("<i4"),
             "info": rows[:, 1:].astype("<i4")}
    for kind, arr in files.items():
      path = os.path.join(folder, f"{prefix}-{kind}.mat" + (".gz" if gz else ""))
      with (gzip.open(path, "wb") if gz else open(path, "wb")) as f:
        f.write(matrix_bytes(arr))


if __name__ == "__main__":
  write_files(os.path.dirname(os.path.abspath(__file__)))
