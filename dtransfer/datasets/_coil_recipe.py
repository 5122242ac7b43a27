"""The Coil100-Augmented recipe (Dapueto et al. 2024), shared by the datasets
that use it (coil100 on the original photos, real_objects on bundled crops).

Each object photo sits on a 128x128 black canvas; the recipe rotates it about
the centre (nearest, black border) by each of 18 angles, then zooms about the
centre by each of 9 factors, exactly the authors' rotate_image and zoom_at
(numpy re-implementations in _image_ops, no cv2).
"""

from __future__ import annotations

import functools

import numpy as np

from dtransfer.datasets import _image_ops

ROTATIONS = np.arange(0, 360, 20)                  # 18 angles, degrees
SCALES = np.linspace(1.0, 0.5, 9).round(2)         # 9 zoom factors
CANVAS = 128


def augment(canvas: np.ndarray, angle: float, scale: float,
            size: int = 64) -> np.ndarray:
  """The recipe on one canvas: rotate_image, zoom_at, then resize to ``size``."""
  img = _image_ops.zoom(_image_ops.rotate(canvas, angle), scale)
  return _image_ops.resize_area(img, size)


@functools.lru_cache(maxsize=2)
def transform_maps(canvas: int = CANVAS) -> np.ndarray:
  """Composed rotate-then-zoom nearest maps [18, 9, canvas*canvas]."""
  shape = (canvas, canvas)
  rots = [_image_ops.rotate_map(shape, float(a)) for a in ROTATIONS]
  zooms = [_image_ops.zoom_map(shape, float(s)) for s in SCALES]
  return np.stack([np.stack([_image_ops.compose_maps(r, z) for z in zooms])
                   for r in rots])
