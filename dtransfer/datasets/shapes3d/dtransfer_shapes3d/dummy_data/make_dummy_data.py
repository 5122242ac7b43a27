"""Writes dummy_data/3dshapes.h5: a tiny file in DeepMind's 3dshapes format.

Same layout as the real file ('images' uint8 [N, 64, 64, 3], 'labels'
float64 [N, 6] of factor values, rows in factor order) but only a sub-grid of
factor values, rendered by the procedural renderer and gzip-compressed.

  PYTHONPATH=. python dtransfer/datasets/shapes3d/dtransfer_shapes3d/dummy_data/make_dummy_data.py
"""

import os

import h5py
import numpy as np

from dtransfer.datasets.shapes3d import renderer

GRID = (2, 1, 2, 2, 4, 3)  # values per factor, spread over the full grid


def write_fake_h5(path, grid=GRID, shuffle_seed=None):
  """Writes a sub-grid 3dshapes.h5; returns its full-grid factors [N, 6]."""
  keep = [np.round(np.linspace(0, s - 1, g)).astype(np.int64)
          for g, s in zip(grid, renderer.FACTOR_SIZES)]
  local = np.stack(np.unravel_index(np.arange(int(np.prod(grid))), grid), -1)
  factors = np.stack([keep[k][local[:, k]] for k in range(6)], -1)
  if shuffle_seed is not None:
    factors = factors[np.random.default_rng(shuffle_seed).permutation(len(factors))]
  labels = np.stack([renderer.FACTOR_VALUES[k][factors[:, k]]
                     for k in range(6)], -1).astype(np.float64)
  images = renderer.Shapes3DRenderer()(factors)
  with h5py.File(path, "w") as f:
    f.create_dataset("images", data=images, compression="gzip",
                     compression_opts=9, chunks=(1, 64, 64, 3))
    f.create_dataset("labels", data=labels)
  return factors


if __name__ == "__main__":
  write_fake_h5(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "3dshapes.h5"))
