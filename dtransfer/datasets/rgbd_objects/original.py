"""Reader for the extracted RGB-D Object Dataset (Lai et al., ICRA 2011).

Layout of ``rgbd-dataset.tar`` once extracted::

  rgbd-dataset/<category>/<instance>/<instance>_<video>_<frame>_crop.png
                                     <instance>_<video>_<frame>_maskcrop.png
                                     <instance>_<video>_<frame>_depthcrop.png

Dapueto et al.'s recipe: keep only the first instance of each category (in
sorted order), factors category (51), "azimuth" (the video: the turntable
sequence filmed at camera elevation 30, 45 or 60 degrees, ids 1, 2, 4) and
"pose" (the frame). Frames per video differ, so the factor grid is incomplete;
``available`` lists the grid cells that exist (see dtransfer.data.sources).

The authors' loader gives azimuth and pose the factor sizes 4 and 263
(azimuth = video - 1, pose = frame - 1); those are sizes of their grid, not
limits the release documents. Here they bound the grid (video 1..MAX_VIDEO,
frame 1..MAX_POSES): a file outside it is skipped, never fatal, and the scan
reports what it skipped (``Scan.skipped``, a logged warning with the count
and examples). ``max_video=None`` / ``max_frame=None`` take every video and
frame present. Within the bounds the grid is spanned by what is present:
videos are label-encoded, the pose size is the largest frame found.

Deliberate differences from the authors' loader:
  * azimuth is the index of the video among those present (1, 2, 4 -> 0, 1, 2);
    theirs is video - 1, a size-4 factor whose value 2 never occurs.
  * depth: the 16-bit depth (millimetres) is clipped to [DEPTH_MIN_MM,
    DEPTH_MAX_MM] and scaled linearly to 1..255, 0 = no depth reading. Theirs
    read the 16-bit PNG as 8 bits (mm >> 8, 0..5 at 0.5-1.5 m), multiplied by
    255/4 and cast to uint8, which wraps above 255: five grey levels at most.
  * square padding centres the crop on an exact square (their SquarePad pads
    both sides by floor(diff / 2), leaving a 1-pixel non-square remainder);
    resizing to 64 is Pillow's antialiased bilinear (theirs: cv2 INTER_LINEAR
    through albumentations, which aliases when shrinking).
"""

from __future__ import annotations

import os
import re

from absl import logging
import numpy as np

from dtransfer.data.factor_space import FactorSpace
from dtransfer.data.sources import SparseSource
from dtransfer.datasets import _files

FACTOR_NAMES = ("category", "azimuth", "pose")
NUM_CATEGORIES = 51
VIDEOS = (1, 2, 4)  # the video ids the authors describe (elevations 30-60)
MAX_VIDEO = 4  # the authors' azimuth size (video - 1 in 0..3)
MAX_POSES = 263  # the authors' pose size (frame - 1 in 0..262)
IMAGE_SIZE = 64
IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 3)
DEPTH_MIN_MM = 500
DEPTH_MAX_MM = 1500
ROOT = "rgbd-dataset"
URL = "https://rgbd-dataset.cs.washington.edu/dataset/rgbd-dataset/rgbd-dataset.tar"
VARIANTS = ("rgb", "depth")
INSTRUCTIONS = (
    f"Download {URL} and extract it into the manual directory, so that "
    f"<manual_dir>/{ROOT}/apple/apple_1/apple_1_1_1_crop.png exists (only the "
    "first instance of each category is read: `tar xf rgbd-dataset.tar "
    "--wildcards 'rgbd-dataset/*/*_1/*'` extracts just those).")
_SUFFIX = {"rgb": ("_crop.png", "_maskcrop.png"), "depth": ("_depthcrop.png",)}


def find_root(data_dir) -> str:
  """The ``rgbd-dataset`` folder in data_dir (or the authors' layout).

  Raises:
    FileNotFoundError: naming the folders looked for and how to get them.
  """
  cands = [ROOT, os.path.join("rgbd-objects", "train")]
  if data_dir is not None and os.path.basename(os.path.normpath(data_dir)) == ROOT:
    cands.insert(0, "")
  return _files.find_first(data_dir, cands, what="the extracted RGB-D Object Dataset",
                           instructions=INSTRUCTIONS, accept=os.path.isdir,
                           dataset="RGB-D Objects")


class Scan:
  """The first instance of each category, its frames and files.

  Attributes:
    categories: sorted category names (label order).
    instances: the instance read for each category.
    videos: video ids present (label order of azimuth).
    space: FactorSpace (categories, videos, max frame).
    available: sorted grid indices present.
    files: [M, n] file paths of each available record (crop and maskcrop for
      "rgb", depthcrop for "depth").
    skipped: (path, reason) of each file outside the grid bounds, sorted.
  """

  def __init__(self, root, variant: str = "rgb",
               max_video: int | None = MAX_VIDEO,
               max_frame: int | None = MAX_POSES):
    if variant not in VARIANTS:
      raise ValueError(f"unknown RGB-D variant {variant!r}; use {VARIANTS}.")
    self.root = os.fspath(root)
    self.variant = variant
    self.max_video, self.max_frame = max_video, max_frame
    self.skipped = []
    self.categories = sorted(d for d in os.listdir(self.root)
                             if os.path.isdir(os.path.join(self.root, d)))
    if not self.categories:
      raise ValueError(f"{self.root} holds no category folders. {INSTRUCTIONS}")
    if len(self.categories) > NUM_CATEGORIES:
      raise ValueError(f"{self.root} holds {len(self.categories)} category "
                       f"folders, RGB-D Objects has {NUM_CATEGORIES}; point "
                       "data_dir at the extracted rgbd-dataset folder.")
    suffixes = _SUFFIX[variant]
    found, self.instances = {}, []
    for c, cat in enumerate(self.categories):
      cdir = os.path.join(self.root, cat)
      insts = sorted(d for d in os.listdir(cdir)
                     if os.path.isdir(os.path.join(cdir, d)))
      if not insts:
        raise ValueError(f"category folder {cdir} holds no instance folders.")
      inst = insts[0]
      self.instances.append(inst)
      idir = os.path.join(cdir, inst)
      names = set(os.listdir(idir))
      pat = re.compile(rf"^{re.escape(inst)}_(\d+)_(\d+){re.escape(suffixes[0])}$")
      for n in names:
        m = pat.match(n)
        if not m:
          continue
        stem = n[:-len(suffixes[0])]
        if any(stem + s not in names for s in suffixes[1:]):
          continue  # e.g. a frame without a mask: not part of this variant
        video, frame = int(m.group(1)), int(m.group(2))
        reason = self._outside(video, frame)
        if reason:
          self.skipped.append((os.path.join(idir, n), reason))
          continue
        found[(c, video, frame)] = [os.path.join(idir, stem + s)
                                    for s in suffixes]
    self.skipped.sort()
    if self.skipped:
      logging.warning(
          "RGB-D Objects (%s): skipped %d file(s) outside the grid (video "
          "1..%s, frame 1..%s; pass max_video/max_frame=None to keep them), "
          "e.g. %s", variant, len(self.skipped), max_video, max_frame,
          "; ".join(f"{os.path.relpath(p, self.root)} ({r})"
                    for p, r in self.skipped[:5]))
    if not found:
      raise ValueError(f"no <instance>_<video>_<frame>{suffixes[0]} files "
                       f"under {self.root}"
                       + (f" inside the grid ({len(self.skipped)} outside it "
                          "were skipped)" if self.skipped else "")
                       + f". {INSTRUCTIONS}")
    self.videos = tuple(sorted({k[1] for k in found}))
    max_frame = max(k[2] for k in found)
    self.space = FactorSpace(FACTOR_NAMES,
                             (len(self.categories), len(self.videos), max_frame))
    keys = np.array([(c, self.videos.index(v), f - 1) for c, v, f in found])
    index = self.space.index(keys)
    order = np.argsort(index)
    self.available = index[order]
    paths = list(found.values())
    self.files = [paths[i] for i in order]

  def _outside(self, video: int, frame: int) -> str | None:
    """Why (video, frame) is outside the grid bounds, or None."""
    if video < 1 or (self.max_video is not None and video > self.max_video):
      return f"video {video} not in 1..{self.max_video}"
    if frame < 1 or (self.max_frame is not None and frame > self.max_frame):
      return f"frame {frame} not in 1..{self.max_frame}"
    return None


def square_pad(img: np.ndarray) -> np.ndarray:
  """Zero-pads [H, W(, C)] to a centred square (extra pixel right/bottom)."""
  h, w = img.shape[:2]
  s = max(h, w)
  top, left = (s - h) // 2, (s - w) // 2
  pad = [(top, s - h - top), (left, s - w - left)] + [(0, 0)] * (img.ndim - 2)
  return np.pad(img, pad)


def resize(img: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
  """Antialiased bilinear resize of a uint8 [H, W(, 3)] image to size^2."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))


def quantize_depth(depth_mm: np.ndarray) -> np.ndarray:
  """uint8 depth: 0 = missing, DEPTH_MIN..MAX_MM -> 1..255 (clipped, linear)."""
  d = np.asarray(depth_mm).astype(np.float64)
  q = 1 + np.round(254 * (np.clip(d, DEPTH_MIN_MM, DEPTH_MAX_MM) - DEPTH_MIN_MM)
                   / (DEPTH_MAX_MM - DEPTH_MIN_MM))
  return np.where(d > 0, q, 0).astype(np.uint8)


def _read(path, mode=None) -> np.ndarray:
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    with Image.open(path) as im:
      return np.asarray(im.convert(mode) if mode else im)
  except FileNotFoundError:
    raise
  except Exception as e:  # truncated or not a PNG
    raise ValueError(f"cannot read {path} ({e}); the file is corrupt. "
                     f"Extract it again from {URL}.") from e


def rgb_record(crop_path, mask_path) -> np.ndarray:
  """Masked RGB crop -> square -> 64x64x3 (the authors' recipe)."""
  rgb = _read(crop_path, "RGB")
  mask = _read(mask_path)
  if mask.ndim == 3:
    mask = mask[..., 0]
  if mask.shape != rgb.shape[:2]:
    raise ValueError(f"{mask_path} is {mask.shape}, its crop {crop_path} is "
                     f"{rgb.shape[:2]}; the files do not belong together.")
  peak = int(mask.max())
  binary = (mask // peak if peak else mask).astype(np.uint8)
  return resize(square_pad(rgb * binary[..., None]))


def depth_record(depth_path) -> np.ndarray:
  """16-bit depth crop -> quantised -> square -> 64x64, 3 equal channels."""
  depth = _read(depth_path)
  if depth.ndim == 3:
    depth = depth[..., 0]
  q = resize(square_pad(quantize_depth(depth)))
  return np.repeat(q[..., None], 3, -1)


def load_rows(scan: Scan, rows) -> np.ndarray:
  """Processed images [N, 64, 64, 3] of compact rows of a Scan."""
  make = rgb_record if scan.variant == "rgb" else depth_record
  return np.stack([make(*scan.files[r]) for r in np.asarray(rows)])


class RGBDObjectsSource(SparseSource):
  """ImageSource over the extracted archive (reads and processes on demand).

  ``max_video`` / ``max_frame`` bound the grid (see Scan); what lies outside
  is in ``self.scan.skipped``.
  """

  def __init__(self, root, variant: str = "rgb",
               max_video: int | None = MAX_VIDEO,
               max_frame: int | None = MAX_POSES):
    self.scan = Scan(root, variant, max_video, max_frame)
    self.name = "rgbd_objects" + ("_depth" if variant == "depth" else "")
    super().__init__(self._load, self.scan.space, self.scan.available,
                     IMAGE_SHAPE)

  @property
  def skipped(self) -> list[tuple[str, str]]:
    """(path, reason) of the files outside the grid bounds (see Scan)."""
    return self.scan.skipped

  def _load(self, rows, rng=None) -> np.ndarray:
    return load_rows(self.scan, rows)
