"""Tests for the dtransfer_dsprites TFDS builder (no TensorFlow needed)."""

import os
import shutil
import tempfile
from unittest import mock

from absl.testing import absltest
import numpy as np
import tensorflow_datasets as tfds

from dtransfer import datasets
from dtransfer.datasets import dsprites
from dtransfer.datasets.dsprites import original
from dtransfer.datasets.dsprites import renderer
from dtransfer.datasets.dsprites import tfds_io
from dtransfer.datasets.dsprites import dataset as dsprites_dataset
from dtransfer.datasets.dsprites import variants

_DUMMY_DIR = os.path.join(os.path.dirname(renderer.__file__),
                          "dtransfer_dsprites", "dummy_data")
_DUMMY = os.path.join(_DUMMY_DIR, original.FILENAME)
_GRID = (3, 2, 4, 2, 4)          # 192 records


def _read_all(builder):
  src = builder.as_data_source(split="train")
  return src, src.__getitems__(list(range(len(src))))


def _grid(sizes):
  return np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), -1)


class BuilderTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.data_dir = tempfile.mkdtemp()

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.data_dir)
    super().tearDownClass()

  def test_name_does_not_clash_with_stock_tfds(self):
    self.assertEqual(tfds_io.Builder.name, "dtransfer_dsprites")
    self.assertIsNot(tfds.builder_cls("dsprites"), tfds_io.Builder)
    self.assertIn("white_original", dsprites.config_names())
    self.assertIn("noisy_color", dsprites.config_names())

  def test_config_names(self):
    self.assertEqual(tfds_io.config_name("noisy_color", "original", (2,) + _GRID),
                     "noisy_color_original_grid2x3x2x4x2x4")
    cfg = tfds_io.make_config("noisy_color_original_grid2x3x2x4x2x4")
    self.assertEqual((cfg.variant, cfg.base, cfg.factor_sizes),
                     ("noisy_color", "original", (2,) + _GRID))
    self.assertIs(tfds_io.make_config("white"),
                  tfds_io.Builder.builder_configs["white"])
    with self.assertRaisesRegex(ValueError, "unknown dtransfer_dsprites config"):
      tfds_io.make_config("purple")
    with self.assertRaisesRegex(ValueError, "one size per factor"):
      tfds_io.make_config("color_grid3x2")

  def test_white_procedural_reduced_grid(self):
    b = dsprites.build("white", self.data_dir, factor_sizes=_GRID)
    src, recs = _read_all(b)
    self.assertLen(src, 192)
    self.assertEqual(b.info.metadata["factor_sizes"], list(_GRID))
    self.assertEqual(b.info.metadata["factor_names"], list(renderer.FACTOR_NAMES))
    img = np.stack([r["image"] for r in recs])
    self.assertEqual(img.shape, (192, 64, 64, 1))
    self.assertEqual(img.dtype, np.uint8)
    labels = np.stack([[r[f"label_{n}"] for n in renderer.FACTOR_NAMES]
                       for r in recs])
    np.testing.assert_array_equal(labels, _grid(_GRID))      # factor order
    for k, n in enumerate(renderer.FACTOR_NAMES):
      self.assertEqual(b.info.features[f"label_{n}"].num_classes, _GRID[k])
    _, maps = renderer.subgrid(renderer.SPACE, _GRID)
    full = renderer.to_full(labels, maps)
    values = np.stack([[r[f"value_{n}"] for n in renderer.FACTOR_NAMES]
                       for r in recs])
    np.testing.assert_allclose(values, renderer.factor_values(full), rtol=1e-6)
    np.testing.assert_array_equal(img[..., 0], 255 * renderer.render(full))
    # Through the registry: tfds gives the procedural images.
    tf_src = datasets.get_dataset("dsprites", origin="tfds",
                                  data_dir=self.data_dir, factor_sizes=_GRID)
    proc = datasets.get_dataset("dsprites", factor_sizes=_GRID)
    self.assertEqual(tf_src.space, proc.space)
    idx = np.array([0, 7, 100, 191])
    np.testing.assert_array_equal(tf_src.images(idx), proc.images(idx))
    three = datasets.get_dataset("dsprites", origin="tfds", channels=3,
                                 data_dir=self.data_dir, factor_sizes=_GRID)
    np.testing.assert_array_equal(three.images(idx),
                                  np.repeat(proc.images(idx), 3, -1))
    # Fresh noise on top of the stored white records (baked=False).
    noisy = datasets.get_dataset("noisy_dsprites", origin="tfds", baked=False,
                                 data_dir=self.data_dir, factor_sizes=_GRID)
    rng = lambda: np.random.default_rng(9)
    np.testing.assert_array_equal(
        noisy.images(idx, rng()),
        dsprites_dataset.noisy_dsprites(factor_sizes=_GRID).images(idx, rng()))

  def test_color_procedural_matches_registry(self):
    sizes = (3, 3, 1, 2, 2, 4)
    b = dsprites.build("color", self.data_dir, factor_sizes=sizes)
    src, recs = _read_all(b)
    self.assertLen(src, 144)
    self.assertEqual(b.info.metadata["factor_names"][0], "color")
    labels = np.stack([[r[f"label_{n}"] for n in b.info.metadata["factor_names"]]
                       for r in recs])
    np.testing.assert_array_equal(labels, _grid(sizes))
    np.testing.assert_array_equal([r["value_color"] for r in recs],
                                  renderer.subgrid_indices(7, 3)[labels[:, 0]])
    tf_src = datasets.get_dataset("color_dsprites", origin="tfds",
                                  data_dir=self.data_dir, factor_sizes=sizes)
    proc = datasets.get_dataset("color_dsprites", factor_sizes=sizes)
    self.assertEqual(tf_src.space, proc.space)
    idx = np.arange(144)
    np.testing.assert_array_equal(tf_src.images(idx), proc.images(idx))

  def test_noisy_baked_is_seeded(self):
    sizes = (3, 1, 2, 2, 4)
    a = dsprites.build("noisy", self.data_dir, factor_sizes=sizes)
    _, recs = _read_all(a)
    img = np.stack([r["image"] for r in recs])
    self.assertEqual(img.shape, (48, 64, 64, 3))
    mask = renderer.render(renderer.to_full(
        _grid(sizes), renderer.subgrid(renderer.SPACE, sizes)[1])).astype(bool)
    self.assertTrue(np.all(img[mask] == 255))
    self.assertLessEqual(img[~mask].max(), 254)
    self.assertGreater(img[~mask].std(), 60)
    other = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, other)
    _, again = _read_all(dsprites.build("noisy", other, factor_sizes=sizes))
    np.testing.assert_array_equal(img, np.stack([r["image"] for r in again]))

  def test_original_from_manual_dir(self):
    raw = np.load(_DUMMY, allow_pickle=True, encoding="latin1")
    data_dir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, data_dir)
    with mock.patch.object(tfds.download.DownloadManager, "download",
                           autospec=True, side_effect=AssertionError("no")):
      b = dsprites.build("white_original", data_dir, manual_dir=_DUMMY_DIR)
    src, recs = _read_all(b)
    self.assertLen(src, 144)
    self.assertEqual(b.info.metadata["factor_sizes"], [3, 2, 2, 3, 4])
    np.testing.assert_array_equal(np.stack([r["image"] for r in recs])[..., 0],
                                  255 * raw["imgs"])
    labels = np.stack([[r[f"label_{n}"] for n in renderer.FACTOR_NAMES]
                       for r in recs])
    np.testing.assert_array_equal(labels, _grid((3, 2, 2, 3, 4)))
    values = np.stack([[r[f"value_{n}"] for n in renderer.FACTOR_NAMES]
                       for r in recs])
    np.testing.assert_allclose(values, raw["latents_values"][:, 1:], rtol=1e-6)
    via = datasets.get_dataset("dsprites", origin="tfds", tfds_base="original",
                               data_dir=data_dir)
    direct = datasets.get_dataset("dsprites", origin="original",
                                  data_dir=_DUMMY_DIR)
    np.testing.assert_array_equal(via.images(np.arange(144)),
                                  direct.images(np.arange(144)))

  def test_original_from_mocked_download_with_subgrid(self):
    raw = np.load(_DUMMY, allow_pickle=True, encoding="latin1")
    data_dir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, data_dir)
    urls = []

    def fake_download(self, url):
      del self
      urls.append(url)
      return _DUMMY

    sizes = (2, 3, 1, 2, 3, 2)    # colour 2 of 7, then a sub-grid of the file
    with mock.patch.object(tfds.download.DownloadManager, "download",
                           autospec=True, side_effect=fake_download):
      b = dsprites.build("color_original", data_dir, factor_sizes=sizes)
    self.assertEqual(urls, [original.URL])
    src, recs = _read_all(b)
    self.assertLen(src, 72)
    self.assertEqual(b.info.metadata["factor_sizes"], list(sizes))
    labels = np.stack([[r[f"label_{n}"] for n in b.info.metadata["factor_names"]]
                       for r in recs])
    np.testing.assert_array_equal(labels, _grid(sizes))
    img = np.stack([r["image"] for r in recs])
    self.assertEqual(img.shape, (72, 64, 64, 3))
    # Record (color 1, shape 2, scale 0, orient 1, x 2, y 1) comes from file
    # record (2, 0, 1, 2, 2) of grid (3, 2, 2, 3, 4); colour 1 -> row 3.
    i = np.ravel_multi_index((1, 2, 0, 1, 2, 1), sizes)
    j = np.ravel_multi_index((2, 0, 1, 2, 2), (3, 2, 2, 3, 4))
    mask = raw["imgs"][j].astype(bool)
    np.testing.assert_array_equal(np.unique(img[i][mask], axis=0),
                                  variants.COLORS_UINT8[3][None])
    self.assertEqual(img[i][~mask].max(), 0)

  def test_missing_original_and_unprepared(self):
    data_dir = tempfile.mkdtemp()
    self.addCleanup(shutil.rmtree, data_dir)
    with mock.patch.object(tfds.download.DownloadManager, "download",
                           autospec=True, side_effect=OSError("offline")):
      with self.assertRaisesRegex(FileNotFoundError, original.FILENAME) as e:
        dsprites.build("white_original", data_dir)
    self.assertIn(original.URL, str(e.exception))
    self.assertIn("manual", str(e.exception))
    with self.assertRaisesRegex(FileNotFoundError, "build"):
      datasets.get_dataset("noisy_dsprites", origin="tfds", data_dir=data_dir)


if __name__ == "__main__":
  absltest.main()
