"""Real handwritten digits that ship offline: scikit-learn's 8x8 digits.

scikit-learn's wheel carries the UCI "Optical Recognition of Handwritten
Digits" test set (1,797 images of 8x8 pixels, 16 grey levels, written by 43
people), so a real digits set is available without a download. It stands in
for MNIST in the protocols that need real handwriting (the cycle-consistent
VAE's specified/unspecified split, CDRD's digit domain adaptation); images are
upsampled to ``size`` (28 by default, MNIST's size).

The factor space is ``digit`` (10) x ``instance`` (174): every class keeps its
first 174 examples (the smallest class has 174), so the grid is full and the
weak-pair sampler draws pairs that share the digit and differ in the writer's
instance. ``instance`` is an index, not a generative factor: metrics should
score ``digit`` (``factor_names``), and a train/test split by instance keeps
the two sets of images apart.
"""

from __future__ import annotations

import functools

import numpy as np

from dtransfer.data.factor_space import FactorSpace
from dtransfer.data.sources import ArraySource
from dtransfer.datasets import _offline

PER_CLASS = 174   # examples per digit in the full grid (the smallest class)


def space() -> FactorSpace:
  return FactorSpace(("digit", "instance"), (10, PER_CLASS))


@functools.lru_cache(maxsize=8)
def _images(size: int, channels: int) -> np.ndarray:
  """uint8 [10 * PER_CLASS, size, size, channels] in factor order (cached)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top  (heavy, only here)
  from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top
  digits = load_digits()
  order = np.concatenate([np.flatnonzero(digits.target == d)[:PER_CLASS]
                          for d in range(10)])
  small = np.round(digits.images[order] * (255.0 / 16.0)).astype(np.uint8)
  if size == 8:
    out = small
  else:
    out = np.stack([np.asarray(Image.fromarray(im).resize((size, size),
                                                         Image.Resampling.BILINEAR))
                    for im in small])
  out = out[..., None]
  return np.repeat(out, channels, axis=-1) if channels == 3 else out


def digits(origin: str = "procedural", data_dir=None, size: int = 28,
           channels: int = 1):
  """scikit-learn's handwritten digits as an ImageSource.

  Args:
    origin: "procedural" or "original" (both read the copy in scikit-learn).
    data_dir: unused (the data ships with scikit-learn).
    size: image side in pixels (8 = the originals; 28 = MNIST; 64 = the
      project's conv nets), upsampled bilinearly.
    channels: 1 (grey) or 3 (grey repeated, for RGB networks).
  """
  del data_dir
  size, channels = _offline.check_options(
      "digits", origin, size, channels, min_size_note=" (the originals)",
      origin_fix="the images ship with scikit-learn; use 'procedural' (or 'original').")
  try:
    images = _images(int(size), int(channels))
  except ImportError as e:
    raise ImportError("the digits dataset reads scikit-learn's copy: "
                      "`pip install scikit-learn`.") from e
  return ArraySource(images, space())
