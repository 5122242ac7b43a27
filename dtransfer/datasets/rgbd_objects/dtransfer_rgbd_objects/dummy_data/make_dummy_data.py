"""Writes dummy_data/rgbd-dataset/: a tiny tree in the RGB-D Objects layout.

<category>/<instance>/<instance>_<video>_<frame>_{crop,maskcrop,depthcrop}.png
with small synthetic crops (RGB 8-bit, mask 0/255, depth 16-bit millimetres).
Frames per video differ, cell_phone_1 video 4 lacks frame 3 (a hole in the
grid), apple_1_4_3 has no mask (so it is in the depth grid only), and apple_2
is a second instance that the reader must ignore.

  PYTHONPATH=. python dtransfer/datasets/rgbd_objects/dtransfer_rgbd_objects/dummy_data/make_dummy_data.py
"""

import os
import shutil

import numpy as np
from PIL import Image

# instance -> {video: frames}
FRAMES = {
    "apple_1": {1: (1, 2, 3, 4), 2: (1, 2), 4: (1, 2, 3)},
    "apple_2": {1: (1, 2)},
    "cell_phone_1": {1: (1, 2, 3), 2: (1, 2, 3), 4: (1, 2, 4)},
    "food_bag_1": {1: (1, 2), 2: (1,), 4: (1, 2)},
}
NO_MASK = ("apple_1_4_3",)


def fake_crop(inst: str, video: int, frame: int):
  """(rgb uint8 [h, w, 3], mask uint8 [h, w], depth uint16 [h, w])."""
  h, w = 14 + 2 * video, 18 + 3 * frame
  seed = sum(map(ord, inst)) * 100 + video * 10 + frame
  rng = np.random.default_rng(seed)
  rgb = rng.integers(30, 256, (h, w, 3), dtype=np.uint8)
  yy, xx = np.mgrid[0:h, 0:w]
  mask = (((yy - h / 2) / (h / 2.5)) ** 2 + ((xx - w / 2) / (w / 2.5)) ** 2
          <= 1).astype(np.uint8) * 255
  depth = (700 + 60 * frame + 4 * xx + 2 * yy).astype(np.uint16)
  depth[0, :3] = 0  # missing readings
  depth[-1, -1] = 2500  # beyond the far clip
  return rgb, mask, depth


def write_tree(root):
  if os.path.exists(root):
    shutil.rmtree(root)
  for inst, videos in FRAMES.items():
    cat = inst.rsplit("_", 1)[0]
    folder = os.path.join(root, cat, inst)
    os.makedirs(folder)
    for video, frames in videos.items():
      for frame in frames:
        stem = os.path.join(folder, f"{inst}_{video}_{frame}")
        rgb, mask, depth = fake_crop(inst, video, frame)
        Image.fromarray(rgb).save(stem + "_crop.png")
        if os.path.basename(stem) not in NO_MASK:
          Image.fromarray(mask).save(stem + "_maskcrop.png")
        Image.fromarray(depth).save(stem + "_depthcrop.png")
        with open(stem + "_loc.txt", "w") as f:
          f.write("10,20\n")


if __name__ == "__main__":
  write_tree(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "rgbd-dataset"))
