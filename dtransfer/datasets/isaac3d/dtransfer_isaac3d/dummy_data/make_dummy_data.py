"""Writes dummy_data/Isaac3D_down128/: a tiny release in the original layout.

labels.npy [N, 9] float factor values and images/{row:06d}.png (128x128 RGB),
over a sub-grid of 2 shapes x 2 robot x-positions x 3 lighting directions
(other factors fixed), with rows in C order like the real release.

  PYTHONPATH=. python dtransfer/datasets/isaac3d/dtransfer_isaac3d/dummy_data/make_dummy_data.py
"""

import os
import shutil

import numpy as np
from PIL import Image

GRID = (2, 2, 1, 1, 1, 1, 3, 1, 1)
SIZES = (3, 8, 5, 4, 4, 4, 6, 4, 4)


def fake_image(f) -> np.ndarray:
  img = np.zeros((128, 128, 3), np.uint8)
  img[..., 2] = 40 + 60 * f[6]  # lighting direction: background tone
  x0 = 20 + 12 * f[1]  # robot x
  img[40:80, x0:x0 + 30, 0] = 250 if f[0] == 0 else 120  # shape: brightness
  img[40:80, x0:x0 + 30, 1] = 30 * f[0]
  return img


def write_release(folder, grid=GRID):
  if os.path.exists(folder):
    shutil.rmtree(folder)
  os.makedirs(os.path.join(folder, "images"))
  factors = np.stack(np.unravel_index(np.arange(int(np.prod(grid))), grid), -1)
  values = factors / np.maximum(np.array(SIZES) - 1, 1)  # values in [0, 1]
  np.save(os.path.join(folder, "labels.npy"), values)
  for row, f in enumerate(factors):
    Image.fromarray(fake_image(f)).save(
        os.path.join(folder, "images", f"{row:06d}.png"))
  return factors


if __name__ == "__main__":
  write_release(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "Isaac3D_down128"))
