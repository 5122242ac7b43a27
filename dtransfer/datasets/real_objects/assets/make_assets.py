"""Regenerates the object crops in this folder from scikit-image's sample photos.

The photos ship inside the scikit-image wheel (skimage/data/*.png|jpg) and are
public domain or CC0 (see README.md). Each object is a rectangular crop,
downscaled with Lanczos so that its longer side is at most 128 pixels; the
coins are also masked onto black (a threshold + hole filling segmentation).
Needs numpy, Pillow and scipy (only here, not at dtransfer runtime):

  python make_assets.py --skimage_data=/path/to/skimage/data
"""

import argparse
import csv
import os

import numpy as np
from PIL import Image

MAX_SIDE = 128
# name, file, (y0, y1, x0, x1), licence as stated in skimage.data docstrings.
OBJECTS = [
    ("astronaut_face", "astronaut.png", (20, 215, 135, 300),
     "public domain (NASA)"),
    ("astronaut_helmet", "astronaut.png", (335, 512, 290, 512),
     "public domain (NASA)"),
    ("shuttle_model", "astronaut.png", (0, 285, 345, 470),
     "public domain (NASA)"),
    ("cat", "chelsea.png", (0, 300, 60, 400), "CC0 (Stefan van der Walt)"),
    ("coffee_cup", "coffee.png", (0, 390, 70, 490), "CC0 (Rachel Michetti)"),
    ("rocket", "rocket.jpg", (110, 427, 270, 380), "public domain (SpaceX)"),
    ("retina", "retina.jpg", (0, 1411, 0, 1411),
     "CC0 (Mikael Haggstrom, Wikimedia)"),
    ("cameraman", "camera.png", (50, 512, 20, 400), "CC0 (Lav Varshney)"),
    ("coin_a", "coins.png", (12, 76, 301, 369), "no known copyright restrictions (Brooklyn Museum)"),
    ("coin_b", "coins.png", (152, 221, 311, 384), "no known copyright restrictions (Brooklyn Museum)"),
    ("coin_c", "coins.png", (229, 292, 14, 79), "no known copyright restrictions (Brooklyn Museum)"),
    ("coin_d", "coins.png", (233, 291, 140, 205), "no known copyright restrictions (Brooklyn Museum)"),
    ("coin_e", "coins.png", (92, 148, 241, 300), "no known copyright restrictions (Brooklyn Museum)"),
    ("coin_f", "coins.png", (166, 220, 185, 241), "no known copyright restrictions (Brooklyn Museum)"),
]


def _coin_mask(gray: np.ndarray) -> np.ndarray:
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  m = gray > 110
  m = ndimage.binary_fill_holes(ndimage.binary_closing(m, iterations=2))
  m = ndimage.binary_opening(m, iterations=2)
  lab, _ = ndimage.label(m)
  centre = lab[lab.shape[0] // 2, lab.shape[1] // 2]
  return lab == centre if centre else m


def main():
  p = argparse.ArgumentParser(description=__doc__)
  p.add_argument("--skimage_data", required=True,
                 help="folder holding scikit-image's astronaut.png etc.")
  p.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
  args = p.parse_args()
  rows = []
  for i, (name, fname, (y0, y1, x0, x1), lic) in enumerate(OBJECTS):
    img = np.asarray(Image.open(os.path.join(args.skimage_data, fname))
                     .convert("RGB"))[y0:y1, x0:x1]
    if fname == "coins.png":
      img = img * _coin_mask(img[..., 0])[..., None].astype(np.uint8)
    im = Image.fromarray(img)
    im.thumbnail((MAX_SIDE, MAX_SIDE), Image.LANCZOS)
    out = f"{i:02d}_{name}.png"
    im.save(os.path.join(args.out, out), optimize=True)
    rows.append((i, name, out, f"skimage/data/{fname}", f"{y0}:{y1},{x0}:{x1}",
                 lic))
  with open(os.path.join(args.out, "objects.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["object", "name", "file", "source", "crop_yx", "licence"])
    w.writerows(rows)


if __name__ == "__main__":
  main()
