"""Writes dummy_data/mpi3d_toy.npz: a tiny npz in the MPI3D format.

Key ``images`` [N, 64, 64, 3] uint8 in factor (C) order, over the sub-grid
SIZES (the real file has 460,800 or 1,036,800 images); image i has a
constant colour encoding i so tests can check the order.

  PYTHONPATH=. python dtransfer/datasets/mpi3d/dtransfer_mpi3d/dummy_data/make_dummy_data.py
"""

import os

import numpy as np

SIZES = (2, 1, 2, 1, 1, 3, 2)


def write_fake_npz(path, sizes=SIZES, compressed=False):
  n = int(np.prod(sizes))
  images = np.zeros((n, 64, 64, 3), np.uint8)
  images[..., 0] = np.arange(n, dtype=np.uint8)[:, None, None]
  images[:, 10:20, 10:20, 1] = 255
  (np.savez_compressed if compressed else np.savez)(path, images=images)
  return images


if __name__ == "__main__":
  write_fake_npz(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "mpi3d_toy.npz"), compressed=True)
