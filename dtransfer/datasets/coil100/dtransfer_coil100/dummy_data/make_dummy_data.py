"""Writes dummy_data/coil-100.zip: a tiny zip in the original COIL-100 layout.

coil-100/obj{o}__{pose}.png, 128x128 RGB PNGs of a coloured ellipse on black
that turns with the pose; objects 1-2, poses 0, 5, 10 only.

  PYTHONPATH=. python dtransfer/datasets/coil100/dtransfer_coil100/dummy_data/make_dummy_data.py
"""

import io
import os
import zipfile

import numpy as np
from PIL import Image, ImageDraw

OBJECTS = (1, 2)
POSES = (0, 5, 10)


def fake_image(obj: int, pose: int) -> Image.Image:
  im = Image.new("RGB", (128, 128))
  d = ImageDraw.Draw(im)
  colour = [(220, 60, 40), (40, 120, 230)][(obj - 1) % 2]
  w = 30 + 4 * pose // 5
  d.ellipse([64 - w, 34, 64 + w, 94], fill=colour)
  d.rectangle([60, 50, 68, 78], fill=(250, 250, 250))
  return im


def write_fake_zip(path, objects=OBJECTS, poses=POSES):
  with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
    for o in objects:
      for p in poses:
        buf = io.BytesIO()
        fake_image(o, p).save(buf, format="PNG")
        z.writestr(f"coil-100/obj{o}__{p}.png", buf.getvalue())
    z.writestr("coil-100/convertGroupppm2png.pl", "# not an image\n")


if __name__ == "__main__":
  write_fake_zip(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "coil-100.zip"))
