"""Writes the tiny fake dSprites npz used by the builder and reader tests.

Why: tests must exercise the original-file path offline. The fake file has
DeepMind's exact format (same file name; keys imgs uint8 [N, 64, 64] 0/1,
latents_classes int64 [N, 6], latents_values float64 [N, 6], a pickled
metadata dict; saved compressed) but holds only a complete sub-grid of the
real one: colour 1, shape 3, scale 2, orientation 2, posX 3, posY 4 = 144
records, in C order, with the real grid's class indices and values. Images
come from dtransfer's renderer.

Run from the repository root:
  python dtransfer/datasets/dsprites/dtransfer_dsprites/dummy_data/make_dummy_data.py
"""

import os
import pathlib
import sys

import numpy as np

SIZES = (3, 2, 2, 3, 4)   # shape, scale, orientation, posX, posY


def make(path) -> None:
  from dtransfer.datasets.dsprites import renderer  # pylint: disable=g-import-not-at-top
  space, maps = renderer.subgrid(renderer.SPACE, SIZES)
  full = renderer.to_full(space.factors(np.arange(space.num_records)), maps)
  n = len(full)
  classes = np.concatenate([np.zeros((n, 1), np.int64), full], axis=1)
  values = np.concatenate(
      [np.ones((n, 1)), renderer.factor_values(full).astype(np.float64)], 1)
  metadata = {
      "date": "fake, for dtransfer tests",
      "description": "Tiny sub-grid in the format of DeepMind's dSprites npz.",
      "version": 1,
      "latents_names": ("color", "shape", "scale", "orientation", "posX",
                        "posY"),
      "latents_possible_values": {
          "color": np.array([1.0]),
          "shape": renderer.SHAPE_VALUES[maps[0]],
          "scale": renderer.SCALE_VALUES[maps[1]],
          "orientation": renderer.ORIENTATION_VALUES[maps[2]],
          "posX": renderer.POS_VALUES[maps[3]],
          "posY": renderer.POS_VALUES[maps[4]],
      },
      "latents_sizes": np.array((1,) + SIZES),
      "author": "dtransfer",
      "title": "dSprites dataset (fake sub-grid)",
  }
  np.savez_compressed(path, imgs=renderer.render(full),
                      latents_classes=classes, latents_values=values,
                      metadata=np.array(metadata, dtype=object))


if __name__ == "__main__":
  here = pathlib.Path(__file__).resolve().parent
  sys.path.insert(0, str(here.parents[4]))
  from dtransfer.datasets.dsprites import original  # pylint: disable=g-import-not-at-top
  out = here / original.FILENAME
  make(out)
  print(f"wrote {out} ({os.path.getsize(out):,} bytes)")
