"""numpy re-implementations of the few OpenCV operations dataset recipes use.

cv2 is not a dtransfer dependency, but the Coil100-Augmented recipe (Dapueto
et al.) is written with it, so its steps are reproduced here with OpenCV's
conventions: pixel centres at integer coordinates, rotation about
(w/2, h/2) with positive angles counter-clockwise on screen, nearest-neighbour
sampling with black (0) borders, BORDER_REPLICATE for the median filter,
THRESH_BINARY (> t -> 255) for Otsu, INTER_AREA as box averaging.
Known deviation: cv2 computes warp coordinates in 10-bit fixed point, so a
pixel whose source coordinate falls within ~1/1024 of a half-integer may
round the other way.
"""

from __future__ import annotations

import numpy as np


def rotation_matrix(center, angle_deg: float, scale: float = 1.0) -> np.ndarray:
  """cv2.getRotationMatrix2D: the forward 2x3 map of a rotation+scale."""
  a = np.deg2rad(angle_deg)
  alpha, beta = scale * np.cos(a), scale * np.sin(a)
  cx, cy = center
  return np.array([[alpha, beta, (1 - alpha) * cx - beta * cy],
                   [-beta, alpha, beta * cx + (1 - alpha) * cy]])


def nearest_map(shape, m: np.ndarray) -> np.ndarray:
  """Flat source pixel of each output pixel of a nearest warp, -1 = border.

  Index maps compose exactly (``a[b]`` with -1 kept), so a chain of nearest
  warps can be precomputed once and applied to many images.
  """
  h, w = shape[:2]
  full = np.vstack([m, [0.0, 0.0, 1.0]])
  inv = np.linalg.inv(full)[:2]
  ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
  sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
  sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
  ix = np.floor(sx + 0.5).astype(np.int64)
  iy = np.floor(sy + 0.5).astype(np.int64)
  ok = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
  return np.where(ok, iy * w + ix, -1).ravel()


def compose_maps(first: np.ndarray, then: np.ndarray) -> np.ndarray:
  """The map of applying warp `first`, then warp `then`."""
  return np.where(then >= 0, first[np.maximum(then, 0)], -1)


def apply_map(img: np.ndarray, flat_map: np.ndarray) -> np.ndarray:
  """Applies a nearest_map to img [..., H, W, C] (black where -1)."""
  h, w = img.shape[-3:-1] if img.ndim >= 3 else img.shape
  lead = img.shape[:-3] if img.ndim >= 3 else ()
  flat = img.reshape(lead + (h * w, -1))
  out = np.take(flat, np.maximum(flat_map, 0), axis=-2)
  out[..., flat_map < 0, :] = 0
  return out.reshape(img.shape)


def warp_affine_nearest(img: np.ndarray, m: np.ndarray) -> np.ndarray:
  """cv2.warpAffine(img, m, (w, h), INTER_NEAREST, BORDER_CONSTANT 0)."""
  return apply_map(img, nearest_map(img.shape, m))


def rotate_map(shape, angle_deg: float) -> np.ndarray:
  h, w = shape[:2]
  return nearest_map(shape, rotation_matrix((w / 2, h / 2), angle_deg))


def zoom_map(shape, factor: float) -> np.ndarray:
  h, w = shape[:2]
  return nearest_map(shape, rotation_matrix((w / 2, h / 2), 0.0, factor))


def rotate(img: np.ndarray, angle_deg: float) -> np.ndarray:
  """Rotation about the image centre, same canvas (the recipe's rotate_image)."""
  return apply_map(img, rotate_map(img.shape, angle_deg))


def zoom(img: np.ndarray, factor: float) -> np.ndarray:
  """Scaling about the image centre, same canvas (the recipe's zoom_at)."""
  return apply_map(img, zoom_map(img.shape, factor))


def to_gray(rgb: np.ndarray) -> np.ndarray:
  """cv2 RGB2GRAY: 0.299 R + 0.587 G + 0.114 B, rounded, uint8."""
  g = rgb[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
  return np.clip(np.floor(g + 0.5), 0, 255).astype(np.uint8)


def median_blur(gray: np.ndarray, k: int = 5) -> np.ndarray:
  """cv2.medianBlur on a 2-D uint8 image (replicated borders)."""
  r = k // 2
  pad = np.pad(gray, r, mode="edge")
  win = np.lib.stride_tricks.sliding_window_view(pad, (k, k))
  return np.median(win.reshape(gray.shape + (k * k,)), axis=-1).astype(gray.dtype)


def otsu_threshold(gray: np.ndarray) -> int:
  """Otsu's threshold t of a uint8 image (foreground = values > t)."""
  hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
  p = hist / hist.sum()
  omega = np.cumsum(p)
  mu = np.cumsum(p * np.arange(256))
  mu_t = mu[-1]
  with np.errstate(divide="ignore", invalid="ignore"):
    sigma_b = (mu_t * omega - mu) ** 2 / (omega * (1 - omega))
  sigma_b = np.nan_to_num(sigma_b, nan=-1.0, posinf=-1.0)
  return int(np.argmax(sigma_b))


def otsu(gray: np.ndarray) -> np.ndarray:
  """cv2.threshold(gray, 0, 255, THRESH_BINARY + THRESH_OTSU)[1]."""
  return np.where(gray > otsu_threshold(gray), 255, 0).astype(np.uint8)


def _morph(binary: np.ndarray, k: int, op) -> np.ndarray:
  r = k // 2
  # Borders never win (cv2's morphologyDefaultBorderValue).
  fill = 0 if op is np.max else 255
  pad = np.pad(binary, r, mode="constant", constant_values=fill)
  win = np.lib.stride_tricks.sliding_window_view(pad, (k, k))
  return op(win, axis=(-1, -2)).astype(binary.dtype)


def morph_close(binary: np.ndarray, k: int = 5) -> np.ndarray:
  """cv2.morphologyEx(MORPH_CLOSE) with a k x k rectangle: dilate, erode."""
  return _morph(_morph(binary, k, np.max), k, np.min)


def resize_area(img: np.ndarray, size: int) -> np.ndarray:
  """cv2.resize(INTER_AREA) to size x size.

  Integer down-scaling factors (128 -> 64, COIL's case) of uint8 images are
  exact box means rounded half up; other sizes fall back to PIL's BOX filter. Works on
  [H, W], [H, W, C] or batches [N, H, W, C].
  """
  batched = img.ndim == 4
  h, w = img.shape[-3:-1] if (batched or img.ndim == 3) else img.shape
  if h % size == 0 and w % size == 0:
    fy, fx = h // size, w // size
    lead = img.shape[:-3] if (batched or img.ndim == 3) else ()
    tail = img.shape[len(lead) + 2:]
    ax = len(lead)
    sl = (slice(None),) * ax
    total = np.zeros(lead + (size, size) + tail, np.uint32)
    for dy in range(fy):  # strided adds: far faster than a 2-axis reduce
      for dx in range(fx):
        total += img[sl + (slice(dy, None, fy), slice(dx, None, fx))]
    n = fy * fx
    return ((total + n // 2) // n).astype(img.dtype)  # round half up
  if batched:
    return np.stack([resize_area(i, size) for i in img])
  from PIL import Image  # pylint: disable=g-import-not-at-top
  return np.asarray(Image.fromarray(img).resize((size, size), Image.BOX))
