"""Offline procedural Shapes3D: a small vectorised numpy ray-caster.

DeepMind's 3dshapes (Burgess & Kim, 2018) is a MuJoCo rendering of an object
in a room. The public h5 needs a 268 MB download, so dtransfer renders a scene
with the same factor grid offline: floor, back wall, one Lambert-lit object and
a perspective camera. Factor values follow the original:

  floor_hue, wall_hue, object_hue: linspace(0, 1, 10, endpoint=False), HSV with
    full saturation and value;
  scale: linspace(0.75, 1.25, 8);
  shape: cube, cylinder, sphere, capsule;
  orientation: linspace(-30, 30, 15) degrees about the vertical axis.

Design (why it is fast): floor/wall hits do not depend on any factor and the
object's silhouette and shading depend only on (scale, shape, orientation), so
each of the 8 * 4 * 15 = 480 object poses is ray-cast once and cached as three
coverage-times-shading weight maps (floor, wall, object). An image is then the
weighted sum of three hue colours, which makes each hue factor change only its
own surface's pixels (exactly, by construction).

Deliberate deviations from the original (documented in README.md):
  * orientation rotates the object, not the camera, so walls and floor stay
    fixed; the sphere is therefore invariant to orientation;
  * the cylinder and the capsule lie on their side (axis left-right at
    orientation 0) so that orientation is visible for them too;
  * no shadows (they would let object factors change floor pixels).
"""

from __future__ import annotations

import colorsys
import functools

import numpy as np

from dtransfer.data.factor_space import FactorSpace

FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape",
                "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
SPACE = FactorSpace(FACTOR_NAMES, FACTOR_SIZES)
SHAPES = ("cube", "cylinder", "sphere", "capsule")
IMAGE_SHAPE = (64, 64, 3)

HUES = np.linspace(0.0, 1.0, 10, endpoint=False)
SCALES = np.linspace(0.75, 1.25, 8)
ORIENTATIONS = np.linspace(-30.0, 30.0, 15)
# The float values the original h5 stores in `labels`, per factor.
FACTOR_VALUES = (HUES, HUES, HUES, SCALES, np.arange(4, dtype=np.float64),
                 ORIENTATIONS)

# Scene constants (world frame: x right, y up, z away from the camera).
_CAMERA = np.array([0.0, 1.5, -3.4])
_LOOK_AT = np.array([0.0, 0.55, 0.4])
_FOV_DEG = 36.0
_WALL_Z = 2.6
_LIGHT = np.array([-0.55, 1.0, -0.75]) / np.linalg.norm([-0.55, 1.0, -0.75])
_AMBIENT = 0.35
_DIFFUSE = 0.65
# Half extents along y of each canonical shape: the object rests on the floor.
_HALF_HEIGHT = {"cube": 0.5, "cylinder": 0.45, "sphere": 0.5, "capsule": 0.4}
_CYL_RADIUS, _CYL_HALF_LEN = 0.45, 0.55
_CAP_RADIUS, _CAP_HALF_SEG = 0.4, 0.38
_SUPERSAMPLE = 3


def hue_to_rgb(hues) -> np.ndarray:
  """RGB in [0, 1] of HSV(hue, 1, 1), as DeepMind coloured 3dshapes."""
  return np.array([colorsys.hsv_to_rgb(float(h), 1.0, 1.0)
                   for h in np.ravel(hues)], dtype=np.float32)


_HUE_RGB = hue_to_rgb(HUES)  # [10, 3]


def _camera_rays(size: int, supersample: int):
  """Unit ray directions [size, size, s*s, 3] through sub-pixel centres."""
  fwd = _LOOK_AT - _CAMERA
  fwd /= np.linalg.norm(fwd)
  right = np.cross(np.array([0.0, 1.0, 0.0]), fwd)
  right /= np.linalg.norm(right)
  up = np.cross(fwd, right)
  half = np.tan(np.deg2rad(_FOV_DEG) / 2)
  n = size * supersample
  coords = (np.arange(n) + 0.5) / n * 2 - 1  # -1..1 across the image
  u = coords[None, :] * half                   # columns: left -> right
  v = -coords[:, None] * half                  # rows: top -> bottom
  d = fwd + u[..., None] * right + v[..., None] * up
  d /= np.linalg.norm(d, axis=-1, keepdims=True)
  # [n, n, 3] -> [size, size, s*s, 3] so sub-pixels of one pixel are adjacent.
  d = d.reshape(size, supersample, size, supersample, 3).transpose(0, 2, 1, 3, 4)
  return d.reshape(size, size, supersample * supersample, 3)


def _background(d: np.ndarray):
  """Hit distance, surface id (0 floor, 1 wall) and shading of the room."""
  o = _CAMERA
  with np.errstate(divide="ignore", invalid="ignore"):
    t_floor = np.where(d[..., 1] < 0, -o[1] / d[..., 1], np.inf)
    t_wall = np.where(d[..., 2] > 0, (_WALL_Z - o[2]) / d[..., 2], np.inf)
  is_wall = t_wall < t_floor
  t = np.minimum(t_floor, t_wall)
  # Lambert with a gentle distance falloff so the room reads as 3D.
  lam = np.where(is_wall, -_LIGHT[2], _LIGHT[1])
  shade = (_AMBIENT + _DIFFUSE * np.clip(lam, 0, 1)) * np.clip(
      1.3 - 0.07 * t, 0.6, 1.0)
  return t, is_wall, shade


def _intersect_box(o, d):
  inv = 1.0 / np.where(np.abs(d) < 1e-12, 1e-12, d)
  t1 = (-0.5 - o) * inv
  t2 = (0.5 - o) * inv
  tn = np.minimum(t1, t2)
  tf = np.maximum(t1, t2)
  t_near = tn.max(-1)
  t_far = tf.min(-1)
  hit = (t_far >= t_near) & (t_near > 0)
  axis = tn.argmax(-1)
  normal = np.zeros_like(o)
  sign = -np.sign(np.take_along_axis(d, axis[:, None], 1))[:, 0]
  normal[np.arange(len(o)), axis] = sign
  return np.where(hit, t_near, np.inf), normal


def _intersect_sphere(o, d, centre, r):
  oc = o - centre
  a = (d * d).sum(-1)
  b = 2 * (oc * d).sum(-1)
  c = (oc * oc).sum(-1) - r * r
  disc = b * b - 4 * a * c
  sq = np.sqrt(np.maximum(disc, 0))
  t = (-b - sq) / (2 * a)
  t = np.where((disc >= 0) & (t > 0), t, np.inf)
  normal = (oc + t[:, None] * d) / r
  return t, normal


def _intersect_tube(o, d, r, half_len):
  """Open tube around the x axis, |x| <= half_len."""
  a = d[:, 1] ** 2 + d[:, 2] ** 2
  b = 2 * (o[:, 1] * d[:, 1] + o[:, 2] * d[:, 2])
  c = o[:, 1] ** 2 + o[:, 2] ** 2 - r * r
  disc = b * b - 4 * a * c
  with np.errstate(divide="ignore", invalid="ignore"):
    t = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
  p = o + t[:, None] * d
  ok = (disc >= 0) & (a > 1e-12) & (t > 0) & (np.abs(p[:, 0]) <= half_len)
  normal = np.stack([np.zeros_like(t), p[:, 1], p[:, 2]], -1) / r
  return np.where(ok, t, np.inf), normal


def _closest(*hits):
  ts = np.stack([h[0] for h in hits])
  k = ts.argmin(0)
  t = np.take_along_axis(ts, k[None], 0)[0]
  normals = np.stack([h[1] for h in hits])
  normal = normals[k, np.arange(ts.shape[1])]
  return t, normal


def _intersect_cylinder(o, d):
  tube = _intersect_tube(o, d, _CYL_RADIUS, _CYL_HALF_LEN)
  caps = []
  for sign in (-1.0, 1.0):
    with np.errstate(divide="ignore", invalid="ignore"):
      t = (sign * _CYL_HALF_LEN - o[:, 0]) / d[:, 0]
    p = o + t[:, None] * d
    ok = (t > 0) & (p[:, 1] ** 2 + p[:, 2] ** 2 <= _CYL_RADIUS ** 2)
    n = np.zeros_like(o)
    n[:, 0] = sign
    caps.append((np.where(ok, t, np.inf), n))
  return _closest(tube, *caps)


def _intersect_capsule(o, d):
  tube = _intersect_tube(o, d, _CAP_RADIUS, _CAP_HALF_SEG)
  ends = [_intersect_sphere(o, d, np.array([s * _CAP_HALF_SEG, 0.0, 0.0]),
                            _CAP_RADIUS) for s in (-1.0, 1.0)]
  return _closest(tube, *ends)


_INTERSECT = {"cube": _intersect_box, "cylinder": _intersect_cylinder,
              "sphere": lambda o, d: _intersect_sphere(o, d, np.zeros(3), 0.5),
              "capsule": _intersect_capsule}


def _object_hits(d, scale: float, shape: str, orientation_deg: float):
  """Hit distance and world-frame shading of the object for rays d [R, 3]."""
  theta = np.deg2rad(orientation_deg)
  c, s = np.cos(theta), np.sin(theta)
  rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])  # object -> world
  centre = np.array([0.0, scale * _HALF_HEIGHT[shape], 0.0])
  # World -> object frame: x_obj = R^T (x - centre) / scale. Keeping d
  # unnormalised after the same map keeps t identical in both frames.
  o = ((_CAMERA - centre) @ rot) / scale
  o = np.broadcast_to(o, d.shape)
  d_obj = (d @ rot) / scale
  t, normal = _INTERSECT[shape](o, d_obj)
  normal = np.where(np.isfinite(t)[:, None], normal, 0.0) @ rot.T
  normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-12)
  shade = _AMBIENT + _DIFFUSE * np.clip(normal @ _LIGHT, 0, 1)
  return t, shade


@functools.lru_cache(maxsize=4)
def _background_weights(size: int, supersample: int):
  d = _camera_rays(size, supersample)
  t, is_wall, shade = _background(d)
  return d, t, is_wall, shade


def pose_weights(scale_idx: int, shape_idx: int, orient_idx: int,
                 size: int = 64, supersample: int = _SUPERSAMPLE) -> np.ndarray:
  """Weight maps [3, H, W] (floor, wall, object) of one object pose.

  Each map is the fraction of a pixel's sub-samples that see the surface,
  times that surface's shading; an image is sum_k w_k * rgb_k.
  """
  d, t_bg, is_wall, shade_bg = _background_weights(size, supersample)
  flat = d.reshape(-1, 3)
  t_obj, shade_obj = _object_hits(flat, float(SCALES[scale_idx]),
                                  SHAPES[shape_idx],
                                  float(ORIENTATIONS[orient_idx]))
  t_obj = t_obj.reshape(t_bg.shape)
  shade_obj = shade_obj.reshape(t_bg.shape)
  is_obj = t_obj < t_bg
  floor = np.where(~is_obj & ~is_wall, shade_bg, 0).mean(-1)
  wall = np.where(~is_obj & is_wall, shade_bg, 0).mean(-1)
  obj = np.where(is_obj, shade_obj, 0).mean(-1)
  return np.stack([floor, wall, obj]).astype(np.float32)


class Shapes3DRenderer:
  """Renders Shapes3D images from factor rows, caching the 480 object poses.

  Attributes:
    space: the FactorSpace (floor_hue 10, wall_hue 10, object_hue 10, scale 8,
      shape 4, orientation 15).
    image_shape: (64, 64, 3).
  """

  def __init__(self, size: int = 64, supersample: int = _SUPERSAMPLE):
    self.space = SPACE
    self.image_shape = (size, size, 3)
    self._size = size
    self._supersample = supersample
    n_pose = 8 * 4 * 15
    # [pose, H*W, 3 surfaces]: an image batch is one batched matmul.
    self._weights = np.zeros((n_pose, size * size, 3), np.float32)
    self._ready = np.zeros(n_pose, bool)

  def _pose_index(self, factors: np.ndarray) -> np.ndarray:
    return np.ravel_multi_index(tuple(factors[:, 3:].T), (8, 4, 15))

  def warm_up(self, poses=None) -> None:
    """Ray-casts the given pose indices (default: all 480) into the cache."""
    poses = np.arange(len(self._ready)) if poses is None else np.asarray(poses)
    for p in np.unique(poses):
      if not self._ready[p]:
        sc, sh, ori = np.unravel_index(p, (8, 4, 15))
        self._weights[p] = pose_weights(sc, sh, ori, self._size,
                                        self._supersample).reshape(3, -1).T
        self._ready[p] = True

  def __call__(self, factors) -> np.ndarray:
    """uint8 images [N, H, W, 3] for factor rows [N, 6]."""
    factors = self.space.check(np.asarray(factors).reshape(-1, 6))
    return self.paint(factors, _HUE_RGB[factors[:, :3]])

  def paint(self, factors, rgb) -> np.ndarray:
    """uint8 images [N, H, W, 3] of the poses (scale, shape, orientation) of
    factor rows [N, 6] with floor, wall and object painted ``rgb`` [N, 3, 3]
    (floats in [0, 1]) instead of their hues: scenes off the hue grid, e.g.
    the grey surfaces of the two-domain pairs (shapes3d/domains.py)."""
    factors = self.space.check(np.asarray(factors).reshape(-1, 6))
    poses = self._pose_index(factors)
    self.warm_up(poses)
    rgb = np.asarray(rgb, np.float32).reshape(-1, 3, 3) * np.float32(255)
    img = np.matmul(self._weights[poses], rgb)                 # [N, H*W, 3]
    img = np.clip(img + np.float32(0.5), 0, 255).astype(np.uint8)
    return img.reshape((-1,) + self.image_shape)

  def images(self, index, rng=None) -> np.ndarray:
    """ImageSource API: images of record indices (factor order)."""
    return self(self.space.factors(np.asarray(index).reshape(-1)))

  def masks(self, factors) -> np.ndarray:
    """Whether floor, wall and object are seen in each pixel: bool [N, 3, H, W]."""
    factors = self.space.check(np.asarray(factors).reshape(-1, 6))
    poses = self._pose_index(factors)
    self.warm_up(poses)
    w = self._weights[poses].transpose(0, 2, 1)
    return w.reshape(-1, 3, self._size, self._size) > 0
