"""Rendered digits: printed digits in fonts that ship offline, on colour clutter.

A stand-in for synthetic-digit targets (SynDigits, SVHN-like): each image is
one digit drawn with one of the TrueType fonts matplotlib ships (DejaVu Sans /
Sans Mono / Serif, STIX and Computer Modern, 20 faces with bold and italic
variants), in a random colour on a random two-colour gradient background with
noise, between partly visible neighbouring digits (the clutter of house-number
crops), with random size, rotation and offset. Against scikit-learn's
handwritten ``digits`` it is a real domain shift: print vs handwriting, colour
vs grey, clutter vs clean.

Factors: ``digit`` (10) x ``font`` (20) x ``instance`` (``instances``, 50 by
default): ``instance`` seeds the nuisances (colours, background, clutter,
pose), so every record is a fixed image, rendered on demand (a pure function
of its factors).
"""

from __future__ import annotations

import functools
import os

import numpy as np

from dtransfer.data.factor_space import FactorSpace
from dtransfer.data.sources import RenderedSource
from dtransfer.datasets import _offline

# Faces with all ten digits, in matplotlib's mpl-data/fonts/ttf.
FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf", "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf", "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmb10.ttf",
)
SCALE = 4          # render at 4x and downsample (anti-aliasing)


def space(instances: int = 50) -> FactorSpace:
  return FactorSpace(("digit", "font", "instance"), (10, len(FONTS), int(instances)))


def font_dir() -> str:
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError("rendered_digits draws with the fonts matplotlib ships: "
                      "`pip install matplotlib`.") from e
  return os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")


@functools.lru_cache(maxsize=256)
def _font(name: str, px: int):
  from PIL import ImageFont  # pylint: disable=g-import-not-at-top
  return ImageFont.truetype(os.path.join(font_dir(), name), px)


def _glyph(digit: int, font: str, px: int, colour, angle: float):
  """An RGBA image of one digit, tightly cropped, rotated."""
  from PIL import Image, ImageDraw  # pylint: disable=g-import-not-at-top
  f = _font(font, px)
  left, top, right, bottom = f.getbbox(str(digit))
  img = Image.new("RGBA", (right - left + 4, bottom - top + 4), (0, 0, 0, 0))
  ImageDraw.Draw(img).text((2 - left, 2 - top), str(digit), font=f, fill=tuple(colour) + (255,))
  return img.rotate(angle, resample=Image.BICUBIC, expand=True)


def _luminance(c) -> float:
  return float(np.dot(c, (0.299, 0.587, 0.114)))


def render_one(digit: int, font: int, instance: int, size: int) -> np.ndarray:
  """uint8 [size, size, 3]: the record (digit, font, instance)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng([int(digit), int(font), int(instance), 0xD161])
  big = size * SCALE
  # Background: a gradient between two colours, then noise.
  c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
  t = np.linspace(0, 1, big)
  angle = rng.uniform(0, 2 * np.pi)
  ramp = (np.cos(angle) * t[None, :] + np.sin(angle) * t[:, None])
  ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
  bg = c0[None, None] * (1 - ramp[..., None]) + c1[None, None] * ramp[..., None]
  canvas = Image.fromarray(bg.clip(0, 255).astype(np.uint8), "RGB")
  back = _luminance((c0 + c1) / 2)
  # Foreground: a colour far enough from the background in luminance.
  for _ in range(20):
    fg = rng.integers(0, 256, 3)
    if abs(_luminance(fg) - back) > 80:
      break
  else:
    fg = np.array([255, 255, 255]) if back < 128 else np.array([0, 0, 0])
  height = int(big * rng.uniform(0.6, 0.85))
  # Clutter: partial neighbour digits left and right, as in house-number crops.
  for side in (-1, 1):
    if rng.uniform() < 0.7:
      g = _glyph(int(rng.integers(10)), FONTS[int(rng.integers(len(FONTS)))], height,
                 rng.integers(0, 256, 3), rng.uniform(-10, 10))
      x = big // 2 + side * int(big * rng.uniform(0.55, 0.75)) - g.width // 2
      y = big // 2 - g.height // 2 + int(rng.integers(-big // 10, big // 10 + 1))
      canvas.paste(g, (x, y), g)
  g = _glyph(int(digit), FONTS[int(font)], height, fg, rng.uniform(-15, 15))
  x = big // 2 - g.width // 2 + int(rng.integers(-big // 12, big // 12 + 1))
  y = big // 2 - g.height // 2 + int(rng.integers(-big // 12, big // 12 + 1))
  canvas.paste(g, (x, y), g)
  out = np.asarray(canvas.resize((size, size), Image.Resampling.BOX), np.float32)
  out = out + rng.normal(0, rng.uniform(0, 12), out.shape)
  return out.clip(0, 255).round().astype(np.uint8)


def rendered_digits(origin: str = "procedural", data_dir=None, size: int = 28,
                    channels: int = 3, instances: int = 50):
  """Rendered digits as an ImageSource.

  Args:
    origin: "procedural" (rendered on demand; nothing to download).
    data_dir: unused.
    size: image side in pixels.
    channels: 3 (RGB) or 1 (luminance).
    instances: nuisance draws per (digit, font).
  """
  del data_dir
  size, channels = _offline.check_options(
      "rendered_digits", origin, size, channels,
      origin_fix="the images are rendered offline; use 'procedural'.")
  if int(instances) < 1:
    raise ValueError(f"rendered_digits: instances must be at least 1, got {instances}.")

  def render(factors):
    imgs = np.stack([render_one(d, f, i, size) for d, f, i in np.asarray(factors)])
    if channels == 1:
      imgs = np.round(imgs @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)[..., None]
    return imgs

  return RenderedSource(render, space(instances), (size, size, channels))
