"""Two unpaired Shapes3D domains with a known guided translation (for DIDD).

Domain intersection / difference (Benaim et al. 2019) needs two image sets
that share some content and each add their own: on CelebA the paper takes
mutually exclusive attribute combinations (A = smiling without glasses, B =
glasses without a smile). Here the attributes are surface colours of the
procedural Shapes3D scene, whose generator is known, so every translation the
method produces has an exact rendered ground truth.

A pair ``"<a>_<b>"`` (a, b two of ``floor``, ``wall``, ``object``) defines

* domain A: surface ``a`` takes one of the 10 hues, surface ``b`` is grey;
* domain B: surface ``b`` takes one of the 10 hues, surface ``a`` is grey;
* the common content: the third surface's hue, scale, shape, orientation;
* the A-specific content: ``a``'s hue; the B-specific content: ``b``'s hue.

No training image has both surfaces coloured, and none has both grey. With
``render(common, a_hue, b_hue)`` (``None`` = grey) the ground truths are

  a -> B guided by b:  render(common(a), grey, hue_b(b))
  b -> A guided by a:  render(common(b), hue_a(a), grey)
  intersection of x:   render(common(x), grey, grey)
  union (a, b):        render(common(a), hue_a(a), hue_b(b))

Pairs (``PAIRS``): ``wall_floor`` (the default; A colours the wall, B the
floor, the object is shared) and every other ordered choice of two surfaces,
e.g. ``object_wall`` (A colours the object, B the wall, the floor is shared).

``DomainPair`` is an ImageSource over the common factors: record i is the
scene with common factors i drawn, from the ``rng`` it is given, in domain A
or B with a random specific hue, i.e. a sample of A u B labelled with the
shared factors only (what the shared metrics score E^c against). ``pair.a``
and ``pair.b`` are the two domains as ImageSources over (specific hue,
common factors).
"""

from __future__ import annotations

import functools

import numpy as np

from dtransfer.data.factor_space import FactorSpace
from dtransfer.datasets.shapes3d import renderer as r3d

SURFACES = ("floor", "wall", "object")
GREY = np.float32(0.6)            # the colour of an "absent" surface
NUM_HUES = 10
PAIRS = tuple(f"{a}_{b}" for a in SURFACES for b in SURFACES if a != b)
DEFAULT_PAIR = "wall_floor"


@functools.lru_cache(maxsize=4)
def _renderer(size: int) -> r3d.Shapes3DRenderer:
  return r3d.Shapes3DRenderer(size=size)


class _Domain:
  """One domain as an ImageSource: factors (specific hue, common factors)."""

  def __init__(self, pair: "DomainPair", which: str):
    self._pair, self._which = pair, which
    surface = pair.a_surface if which == "a" else pair.b_surface
    self.space = FactorSpace((f"{surface}_hue",) + pair.space.names,
                             (NUM_HUES,) + pair.space.sizes)
    self.image_shape = pair.image_shape
    self.name = f"shapes3d_domains[{pair.pair}].{which}"

  def images(self, index, rng=None) -> np.ndarray:
    del rng
    f = self.space.factors(np.asarray(index).reshape(-1))
    hue = f[:, 0]
    if self._which == "a":
      return self._pair.render(f[:, 1:], hue, None)
    return self._pair.render(f[:, 1:], None, hue)


class DomainPair:
  """A pair of Shapes3D domains (see the module docstring).

  Attributes:
    pair: the pair's name, e.g. "wall_floor".
    a_surface, b_surface, common_surface: which surface is A-specific,
      B-specific and shared.
    space: the common factors (shared hue, scale, shape, orientation).
    image_shape: (size, size, 3).
    a, b: the two domains (ImageSources over (specific hue, common factors)).
  """

  def __init__(self, pair: str = DEFAULT_PAIR, size: int = 64):
    if pair not in PAIRS:
      raise ValueError(f"unknown domain pair '{pair}'; choose one of {PAIRS} "
                       "(<A-specific surface>_<B-specific surface>).")
    self.pair = pair
    self.a_surface, self.b_surface = pair.split("_")
    self.common_surface = next(s for s in SURFACES if s not in (self.a_surface,
                                                                 self.b_surface))
    self._slot = {s: SURFACES.index(s) for s in SURFACES}
    names = (f"{self.common_surface}_hue",) + r3d.FACTOR_NAMES[3:]
    self.space = FactorSpace(names, (NUM_HUES,) + r3d.FACTOR_SIZES[3:])
    self.image_shape = (int(size), int(size), 3)
    self.name = f"shapes3d_domains[{pair}]"
    self._size = int(size)
    self.a = _Domain(self, "a")
    self.b = _Domain(self, "b")

  def describe(self) -> str:
    return (f"A: {self.a_surface} coloured, {self.b_surface} grey; B: {self.b_surface} "
            f"coloured, {self.a_surface} grey; shared: {', '.join(self.space.names)}")

  def render(self, common, a_hue, b_hue) -> np.ndarray:
    """uint8 scenes [N, H, W, 3]: common factor rows [N, 4], the A-specific and
    B-specific surface hues [N] (or None, or -1 per row, for grey)."""
    common = self.space.check(np.asarray(common).reshape(-1, self.space.num_factors))
    n = len(common)
    rgb = np.empty((n, 3, 3), np.float32)
    full = np.zeros((n, 6), np.int64)
    full[:, 3:] = common[:, 1:]
    rgb[:, self._slot[self.common_surface]] = r3d.hue_to_rgb(r3d.HUES[common[:, 0]])
    for surface, hue in ((self.a_surface, a_hue), (self.b_surface, b_hue)):
      hue = np.full(n, -1) if hue is None else np.asarray(hue, np.int64).reshape(n)
      if np.any(hue >= NUM_HUES):
        raise ValueError(f"{surface} hue must be in [0, {NUM_HUES}) or -1 (grey).")
      colours = np.full((n, 3), GREY, np.float32)
      on = hue >= 0
      if on.any():
        colours[on] = r3d.hue_to_rgb(r3d.HUES[hue[on]])
      rgb[:, self._slot[surface]] = colours
    return _renderer(self._size).paint(full, rgb)

  def images(self, index, rng=None) -> np.ndarray:
    """Scenes of the common factors of ``index``, each in domain A or B with a
    specific hue drawn from ``rng`` (by default from the record index)."""
    index = np.asarray(index, np.int64).reshape(-1)
    common = self.space.factors(index)
    if rng is None:
      draws = np.array([np.random.default_rng([0xD1DD, int(i)]).integers(0, 2 * NUM_HUES)
                        for i in index], np.int64).reshape(-1)
    else:
      draws = np.asarray(rng.integers(0, 2 * NUM_HUES, size=(len(index),)),
                         np.int64).reshape(-1)
    in_b, hue = draws // NUM_HUES, draws % NUM_HUES
    return self.render(common, np.where(in_b, -1, hue), np.where(in_b, hue, -1))


def shapes3d_domains(origin: str = "procedural", data_dir=None, pair: str = DEFAULT_PAIR,
                     size: int = 64, **unused) -> DomainPair:
  """Registry factory: a DomainPair (procedural only: the pairs need the renderer)."""
  del data_dir
  if unused:
    raise TypeError(f"shapes3d_domains() got unexpected options {sorted(unused)}; it "
                    "takes pair and size.")
  if origin != "procedural":
    raise ValueError(f"shapes3d_domains is rendered offline only (origin='procedural'), "
                     f"got origin={origin!r}: its off-grid grey surfaces are not in "
                     "any file.")
  return DomainPair(pair, size)
