"""Tests for dSprites: renderer semantics, variants, original npz reader."""

import os
import shutil
import tempfile
import zipfile

from absl.testing import absltest
import numpy as np

from dtransfer import datasets
from dtransfer.datasets.dsprites import original
from dtransfer.datasets.dsprites import renderer
from dtransfer.datasets.dsprites import dataset as dsprites_dataset
from dtransfer.datasets.dsprites import variants

_DUMMY_DIR = os.path.join(os.path.dirname(renderer.__file__),
                          "dtransfer_dsprites", "dummy_data")
_DUMMY = os.path.join(_DUMMY_DIR, original.FILENAME)


def _one(shape=2, scale=5, orientation=0, x=16, y=16) -> np.ndarray:
  return renderer.render([[shape, scale, orientation, x, y]])[0]


def _centroid(img):
  rows, cols = np.nonzero(img)
  return rows.mean(), cols.mean()


def _cov(img):
  rows, cols = np.nonzero(img)
  return np.cov(np.stack([rows, cols]))


class RendererTest(absltest.TestCase):

  def test_grid_matches_original(self):
    self.assertEqual(renderer.SPACE.names,
                     ("shape", "scale", "orientation", "posX", "posY"))
    self.assertEqual(renderer.SPACE.sizes, (3, 6, 40, 32, 32))
    self.assertEqual(renderer.SPACE.num_records, 737_280)
    np.testing.assert_allclose(renderer.SCALE_VALUES, np.linspace(0.5, 1, 6))
    # The original's latents_values: linspace(0, 2 pi, 40), endpoint included.
    np.testing.assert_array_equal(renderer.ORIENTATION_VALUES,
                                  np.linspace(0, 2 * np.pi, 40))
    self.assertEqual(renderer.ORIENTATION_VALUES[-1], 2 * np.pi)
    np.testing.assert_allclose(np.diff(renderer.ORIENTATION_VALUES),
                               2 * np.pi / 39)

  def test_first_and_last_orientation_are_the_same_image(self):
    # As in DeepMind's file: 0 and 2 pi are one angle, so classes 0 and 39 coincide.
    f = np.array([[s, 3, o, 10, 20] for s in range(3) for o in (0, 39)])
    img = renderer.render(f)
    for s in range(3):
      np.testing.assert_array_equal(img[2 * s], img[2 * s + 1])

  def test_record_i_has_factors_unravel_i(self):
    src = dsprites_dataset.dsprites()
    idx = np.random.default_rng(0).integers(0, 737_280, 64)
    idx[:3] = [0, 1, 737_279]
    f = np.stack(np.unravel_index(idx, (3, 6, 40, 32, 32)), -1)
    np.testing.assert_array_equal(src.images(idx)[..., 0],
                                  255 * renderer.render(f))
    # posY is the fastest factor: records 0 and 1 differ by one row.
    r0, c0 = _centroid(src.images([0])[0, ..., 0])
    r1, c1 = _centroid(src.images([1])[0, ..., 0])
    self.assertAlmostEqual(r1 - r0, 1.0)
    self.assertAlmostEqual(c1, c0)

  def test_binary_uint8(self):
    f = renderer.SPACE.sample(np.random.default_rng(1), 500)
    img = renderer.render(f)
    self.assertEqual(img.shape, (500, 64, 64))
    self.assertEqual(img.dtype, np.uint8)
    self.assertTrue(set(np.unique(img)) <= {0, 1})
    self.assertTrue(np.all(img.reshape(500, -1).sum(1) > 20))
    src = dsprites_dataset.dsprites()
    self.assertEqual(src.image_shape, (64, 64, 1))
    self.assertTrue(set(np.unique(src.images(np.arange(50)))) <= {0, 255})

  def test_pos_x_moves_columns_pos_y_moves_rows(self):
    for shape in range(3):
      cx = np.array([_centroid(_one(shape, 3, 7, x, 10)) for x in range(32)])
      np.testing.assert_allclose(np.diff(cx[:, 1]), 1.0, atol=1e-9)
      np.testing.assert_allclose(cx[:, 0], cx[0, 0], atol=1e-9)
      cy = np.array([_centroid(_one(shape, 3, 7, 10, y)) for y in range(32)])
      np.testing.assert_allclose(np.diff(cy[:, 0]), 1.0, atol=1e-9)
      np.testing.assert_allclose(cy[:, 1], cy[0, 1], atol=1e-9)

  def test_sprite_stays_inside_frame(self):
    f = np.array([[s, 5, o, x, y] for s in range(3) for o in range(40)
                  for x in (0, 31) for y in (0, 31)])
    img = renderer.render(f)
    masks = renderer.sprite_masks()[f[:, 0], f[:, 1], f[:, 2]]
    np.testing.assert_array_equal(img.sum((1, 2)), masks.sum((1, 2)))
    border = np.concatenate([img[:, 0], img[:, -1], img[:, :, 0],
                             img[:, :, -1]], 1)
    self.assertEqual(border.sum(), 0)

  def test_scale_increases_area(self):
    for shape in range(3):
      for orientation in (0, 5, 13):
        area = [_one(shape, s, orientation).sum() for s in range(6)]
        self.assertTrue(np.all(np.diff(area) > 0), (shape, orientation, area))

  def test_orientation_rotates(self):
    for shape in (1, 2):   # the square's second moments are isotropic
      a, b = _one(shape, 5, 0), _one(shape, 5, 10)     # 0 and 92.3 degrees
      self.assertAlmostEqual(a.sum() / b.sum(), 1.0, delta=0.05)
      ca, cb = _cov(a), _cov(b)
      np.testing.assert_allclose(np.diag(ca), np.diag(cb)[::-1], rtol=0.1)
      self.assertGreater(abs(ca[0, 0] - ca[1, 1]), 0.5)
    # The square at 45 degrees is a diamond: wider, same area.
    sq, diamond = _one(0, 5, 0), _one(0, 5, 5)
    self.assertAlmostEqual(sq.sum() / diamond.sum(), 1.0, delta=0.05)
    self.assertGreater(np.ptp(np.nonzero(diamond)[1]),
                       np.ptp(np.nonzero(sq)[1]) + 4)
    # Orientations are distinct images (for the heart, no symmetry), except
    # 0 and 39, which are both 0 = 2 pi as in the original.
    hearts = renderer.render([[2, 5, o, 16, 16] for o in range(40)])
    self.assertLen(np.unique(hearts.reshape(40, -1), axis=0), 39)

  def test_shape_changes_silhouette(self):
    imgs = [_one(s, 5, 0) for s in range(3)]
    for i in range(3):
      for j in range(i + 1, 3):
        self.assertGreater(np.sum(imgs[i] != imgs[j]), 40)
    square = imgs[0]
    rows, cols = np.nonzero(square)
    self.assertEqual(square.sum(), (np.ptp(rows) + 1) * (np.ptp(cols) + 1))

  def test_heart_is_a_heart(self):
    heart = _one(2, 5, 0)
    rows = np.nonzero(heart.any(1))[0]
    runs = lambda r: np.sum(np.diff(np.concatenate([[0], r, [0]])) == 1)
    # Two lobes at the top, one body in the middle, a point at the bottom.
    self.assertEqual(runs(heart[rows[1]]), 2)
    self.assertEqual(runs(heart[rows[len(rows) // 2]]), 1)
    self.assertLess(heart[rows[-1]].sum(), 4)
    self.assertGreater(heart[rows[len(rows) // 3]].sum(), 14)
    # Upside down at 180 degrees.
    flipped = _one(2, 5, 20)
    self.assertGreater(np.mean(flipped[::-1] == heart), 0.99)


class VariantsTest(absltest.TestCase):

  def test_registry_factories(self):
    for name, k, c in [("dsprites", 5, 1), ("noisy_dsprites", 5, 3),
                       ("color_dsprites", 6, 3), ("color_dsprites_dlib", 5, 3),
                       ("noisy_color_dsprites", 6, 3)]:
      src = datasets.get_dataset(name)
      self.assertEqual(src.space.num_factors, k, name)
      self.assertEqual(src.image_shape, (64, 64, c), name)
      img = src.images([0, 5, 1000], np.random.default_rng(0))
      self.assertEqual(img.shape, (3, 64, 64, c))
      self.assertEqual(img.dtype, np.uint8)

  def test_white_three_channels(self):
    img = dsprites_dataset.dsprites(channels=3).images(np.arange(20))
    self.assertEqual(img.shape, (20, 64, 64, 3))
    np.testing.assert_array_equal(img[..., 0], img[..., 2])
    self.assertTrue(set(np.unique(img)) <= {0, 255})

  def test_noisy(self):
    src = dsprites_dataset.noisy_dsprites()
    idx = np.arange(100, 140)
    img = src.images(idx, np.random.default_rng(3))
    mask = renderer.render(src.space.factors(idx)).astype(bool)
    self.assertTrue(np.all(img[mask] == 255))
    bg = img[~mask]
    self.assertLessEqual(bg.max(), 254)
    self.assertAlmostEqual(bg.mean() / 254, 0.5, delta=0.01)
    self.assertAlmostEqual(bg.std() / 254, np.sqrt(1 / 12), delta=0.01)
    self.assertFalse(np.array_equal(img[..., 0], img[..., 1]))  # per channel
    np.testing.assert_array_equal(img, src.images(idx, np.random.default_rng(3)))
    self.assertFalse(np.array_equal(img, src.images(idx, np.random.default_rng(4))))
    np.testing.assert_array_equal(src.images(idx), src.images(idx))  # rng=None
    # Fresh noise per access from a running Generator.
    rng = np.random.default_rng(5)
    self.assertFalse(np.array_equal(src.images(idx, rng), src.images(idx, rng)))

  def test_color_factor(self):
    src = dsprites_dataset.color_dsprites()
    self.assertEqual(src.space.names, ("color", "shape", "scale",
                                       "orientation", "posX", "posY"))
    self.assertEqual(src.space.num_records, 5_160_960)
    f = np.array([[c, 2, 5, 3, 16, 16] for c in range(7)])
    img = src.images(src.space.index(f))
    mask = renderer.render(f[:, 1:]).astype(bool)
    for c in range(7):
      expect = (255 * np.asarray(variants.OBJECT_COLORS[c])).astype(np.uint8)
      np.testing.assert_array_equal(img[c][mask[c]],
                                    np.broadcast_to(expect, (mask[c].sum(), 3)))
      self.assertEqual(img[c][~mask[c]].max(), 0)
    np.testing.assert_array_equal(variants.COLORS_UINT8[0], [255, 255, 255])
    np.testing.assert_allclose(variants.OBJECT_COLORS[1],
                               [.9096, .5883, .3658])
    # Same sprite, different colour: the colour factor is the slowest.
    np.testing.assert_array_equal(src.space.index(f) % 737_280,
                                  renderer.SPACE.index(f[:, 1:]))

  def test_color_dlib(self):
    src = dsprites_dataset.color_dsprites_dlib()
    idx = np.arange(0, 4000, 100)
    img = src.images(idx, np.random.default_rng(0))
    mask = renderer.render(src.space.factors(idx)).astype(bool)
    for i in range(len(idx)):
      colours = np.unique(img[i][mask[i]], axis=0)
      self.assertLen(colours, 1)
      self.assertTrue(np.all(colours >= 127))
      self.assertEqual(img[i][~mask[i]].max(), 0)
    self.assertGreater(len(np.unique(img[mask].reshape(-1, 3), axis=0)), 30)
    np.testing.assert_array_equal(img, src.images(idx, np.random.default_rng(0)))

  def test_noisy_color(self):
    src = dsprites_dataset.noisy_color_dsprites()
    f = np.array([[c, 0, 5, 0, 16, 16] for c in range(7)])
    img = src.images(src.space.index(f), np.random.default_rng(1))
    mask = renderer.render(f[:, 1:]).astype(bool)
    for c in range(7):
      np.testing.assert_array_equal(np.unique(img[c][mask[c]], axis=0),
                                    variants.COLORS_UINT8[c][None])
    bg = img[~mask]
    self.assertLessEqual(bg.max(), 254)
    self.assertAlmostEqual(bg.mean() / 254, 0.5, delta=0.02)

  def test_reduced_grid(self):
    src = dsprites_dataset.color_dsprites(factor_sizes=(2, 3, 2, 4, 4, 4))
    self.assertEqual(src.space.sizes, (2, 3, 2, 4, 4, 4))
    full = dsprites_dataset.color_dsprites()
    f = src.space.factors(np.arange(src.space.num_records))
    maps = [renderer.subgrid_indices(n, s) for n, s in
            zip(full.space.sizes, src.space.sizes)]
    np.testing.assert_array_equal(
        src.images(np.arange(src.space.num_records)),
        full.images(full.space.index(renderer.to_full(f, maps))))
    np.testing.assert_array_equal(renderer.subgrid_indices(40, 4),
                                  [0, 10, 20, 30])
    with self.assertRaisesRegex(ValueError, "one size per factor"):
      dsprites_dataset.dsprites(factor_sizes=(3, 2))

  def test_size_downsamples_by_area(self):
    idx = np.arange(300, 340)
    for name, c in [("dsprites", 1), ("noisy_dsprites", 3), ("color_dsprites", 3),
                    ("color_dsprites_dlib", 3), ("noisy_color_dsprites", 3)]:
      src = datasets.get_dataset(name, size=32)
      self.assertEqual(src.image_shape, (32, 32, c), name)
      img = src.images(idx, np.random.default_rng(0))
      self.assertEqual(img.shape, (40, 32, 32, c), name)
      self.assertEqual(img.dtype, np.uint8)
    # White: the coverage of each 2x2 block, rounded to 0..255.
    mask = renderer.render(renderer.SPACE.factors(idx)).astype(np.float64)
    expect = np.round(255 * mask.reshape(40, 32, 2, 32, 2).mean((2, 4)))
    img = dsprites_dataset.dsprites(size=32, channels=3).images(idx)
    np.testing.assert_array_equal(img[..., 0], expect)
    np.testing.assert_array_equal(img[..., 0], img[..., 2])
    # Every posX still gives a different image (half-pixel moves show as grey).
    f = np.array([[0, 0, 0, x, 10] for x in range(32)])
    small = dsprites_dataset.dsprites(size=32).images(renderer.SPACE.index(f))
    self.assertLen({im.tobytes() for im in small}, 32)

  def test_size_variant_formulas(self):
    idx = np.arange(5000, 5040)
    alpha = variants.downsample(renderer.render(renderer.SPACE.factors(idx)), 32)
    inside, edge, outside = alpha == 255, (alpha > 0) & (alpha < 255), alpha == 0
    self.assertTrue(edge.any())
    noisy = dsprites_dataset.noisy_dsprites(size=32).images(
        idx, np.random.default_rng(2))
    self.assertTrue(np.all(noisy[inside] == 255))
    self.assertTrue(np.all(noisy[edge] >= alpha[edge][:, None]))
    bg = noisy[outside]
    self.assertLessEqual(bg.max(), 254)
    self.assertAlmostEqual(bg.mean() / 254, 0.5, delta=0.02)
    color = dsprites_dataset.color_dsprites(size=32)
    f = np.array([[3, 1, 5, 0, 16, 16]])
    img = color.images(color.space.index(f))[0]
    a = variants.downsample(renderer.render(f[:, 1:]), 32)[0]
    np.testing.assert_array_equal(img[a == 255],
                                  np.broadcast_to(variants.COLORS_UINT8[3],
                                                  ((a == 255).sum(), 3)))
    self.assertEqual(img[a == 0].max(), 0)
    # A 0/1 mask through the grey formulas gives the 64x64 variants' images.
    masks = renderer.render(renderer.SPACE.factors(idx))
    for v in ("white", "noisy", "color", "noisy_color", "color_dlib"):
      fac = np.concatenate([np.full((40, 1), 2), renderer.SPACE.factors(idx)], 1) \
          if variants.has_color_factor(v) else renderer.SPACE.factors(idx)
      np.testing.assert_array_equal(
          variants.apply_variant_grey(v, masks * 255, fac, np.random.default_rng(1)),
          variants.apply_variant(v, masks, fac, np.random.default_rng(1)), v)
    with self.assertRaisesRegex(ValueError, "size must be one of"):
      dsprites_dataset.dsprites(size=48)

  def test_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "unknown origin"):
      dsprites_dataset.dsprites(origin="web")
    with self.assertRaisesRegex(TypeError, "Generator"):
      dsprites_dataset.noisy_dsprites().images([0], rng=3)


class OriginalReaderTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.tmp = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, self.tmp)

  def test_dummy_file_order_dtype_shapes(self):
    raw = np.load(_DUMMY, allow_pickle=True, encoding="latin1")
    header = original.read_header(_DUMMY)
    self.assertEqual(header.space.names, renderer.FACTOR_NAMES)
    self.assertEqual(header.space.sizes, (3, 2, 2, 3, 4))
    np.testing.assert_array_equal(header.classes, raw["latents_classes"][:, 1:])
    np.testing.assert_array_equal(
        header.labels, np.stack(np.unravel_index(np.arange(144),
                                                 (3, 2, 2, 3, 4)), -1))
    src = dsprites_dataset.dsprites(origin="original", data_dir=_DUMMY_DIR)
    self.assertEqual(src.space.sizes, (3, 2, 2, 3, 4))
    img = src.images(np.arange(144))
    self.assertEqual(img.shape, (144, 64, 64, 1))
    self.assertEqual(img.dtype, np.uint8)
    np.testing.assert_array_equal(img[..., 0], 255 * raw["imgs"])
    # The authors' layout <data_dir>/dsprites/<file> is found too.
    os.makedirs(os.path.join(self.tmp, "dsprites"))
    shutil.copy(_DUMMY, os.path.join(self.tmp, "dsprites"))
    color = dsprites_dataset.color_dsprites(origin="original", data_dir=self.tmp)
    self.assertEqual(color.space.sizes, (7, 3, 2, 2, 3, 4))
    np.testing.assert_array_equal(
        color.images([144 * 3 + 10])[0, ..., 0] > 0, raw["imgs"][10] > 0)

  def test_streaming_matches_load(self):
    _, imgs = original.load(_DUMMY)
    chunks = list(original.iter_images(_DUMMY, chunk=50))
    self.assertEqual([i for i, _ in chunks], [0, 50, 100])
    np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]), imgs)

  def test_missing_file(self):
    with self.assertRaisesRegex(FileNotFoundError, original.FILENAME) as e:
      dsprites_dataset.dsprites(origin="original", data_dir=self.tmp)
    self.assertIn(original.URL, str(e.exception))
    with self.assertRaisesRegex(ValueError, "needs data_dir"):  # as every reader
      dsprites_dataset.dsprites(origin="original")

  def _write(self, **arrays) -> str:
    path = os.path.join(self.tmp, original.FILENAME)
    np.savez_compressed(path, **arrays)
    return path

  def test_corrupt_files(self):
    raw = dict(np.load(_DUMMY, allow_pickle=True, encoding="latin1"))
    path = os.path.join(self.tmp, original.FILENAME)
    with open(path, "wb") as f:
      f.write(b"<html>GitHub blob page, not the file</html>")
    with self.assertRaisesRegex(original.OriginalFileError,
                                "cannot be read as an npz"):
      original.read_header(path)
    with self.assertRaisesRegex(original.OriginalFileError, "download"):
      dsprites_dataset.dsprites(origin="original", data_dir=self.tmp)
    self._write(images=raw["imgs"], latents_classes=raw["latents_classes"],
                latents_values=raw["latents_values"])
    with self.assertRaisesRegex(original.OriginalFileError, "no 'imgs'"):
      original.read_header(path)
    self._write(imgs=raw["imgs"][:, :32], latents_classes=raw["latents_classes"],
                latents_values=raw["latents_values"])
    with self.assertRaisesRegex(original.OriginalFileError, r"\[N, 64, 64\]"):
      original.read_header(path)
    self._write(imgs=raw["imgs"][:100], latents_classes=raw["latents_classes"],
                latents_values=raw["latents_values"])
    with self.assertRaisesRegex(original.OriginalFileError, "do not match"):
      original.read_header(path)
    perm = np.random.default_rng(0).permutation(144)
    self._write(imgs=raw["imgs"][perm], latents_classes=raw["latents_classes"][perm],
                latents_values=raw["latents_values"][perm])
    with self.assertRaisesRegex(original.OriginalFileError, "C order"):
      original.read_header(path)
    self._write(imgs=raw["imgs"] * 255, latents_classes=raw["latents_classes"],
                latents_values=raw["latents_values"])
    with self.assertRaisesRegex(original.OriginalFileError, "binary"):
      original.load(path)
    # A truncated download.
    data = open(_DUMMY, "rb").read()
    with open(path, "wb") as f:
      f.write(data[:len(data) // 2])
    with self.assertRaises(original.OriginalFileError):
      original.load(path)
    self.assertTrue(zipfile.is_zipfile(_DUMMY))


if __name__ == "__main__":
  absltest.main()
