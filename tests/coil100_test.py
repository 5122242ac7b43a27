"""Tests for Coil100-Augmented(-binary): numpy cv2 ops, readers, builder."""

import csv
import os
import tempfile
from unittest import mock
import zipfile

from absl.testing import absltest
import numpy as np
from PIL import Image

from dtransfer import datasets
from dtransfer.datasets import _image_ops as ops
from dtransfer.datasets.coil100 import original as coil

_DUMMY = os.path.join(os.path.dirname(coil.__file__), "dtransfer_coil100",
                      "dummy_data")
_ZIP = os.path.join(_DUMMY, "coil-100.zip")


def _png(name):
  with zipfile.ZipFile(_ZIP) as z, z.open(name) as f:
    return np.asarray(Image.open(f).convert("RGB"))


class ImageOpsTest(absltest.TestCase):

  def test_median_otsu_close_resize(self):
    g = np.zeros((9, 9), np.uint8)
    g[4, 4] = 255  # salt: removed by a 5x5 median
    self.assertEqual(ops.median_blur(g).max(), 0)
    bimodal = np.r_[np.full(50, 40), np.full(50, 200)].astype(np.uint8)
    t = ops.otsu_threshold(bimodal.reshape(10, 10))
    self.assertTrue(40 <= t < 200)
    ring = np.full((11, 11), 255, np.uint8)
    ring[5, 5] = 0
    self.assertEqual(ops.morph_close(ring).min(), 255)
    blocks = np.arange(16, dtype=np.uint8).reshape(4, 4)
    np.testing.assert_array_equal(ops.resize_area(blocks, 2),
                                  [[3, 5], [11, 13]])  # means 2.5.. round up
    np.testing.assert_array_equal(ops.to_gray(np.array([[[255, 0, 0]]], np.uint8)),
                                  [[76]])

  def test_zoom_about_centre(self):
    img = np.zeros((8, 8), np.uint8)
    img[0, :] = 9
    z = ops.zoom(img, 0.5)
    self.assertEqual(z[:2].max(), 0)
    self.assertEqual(z[2].max(), 9)


class ZipSourceTest(absltest.TestCase):

  def test_augmented_matches_recipe(self):
    src = datasets.get_dataset("coil100_augmented", origin="original",
                               data_dir=_DUMMY)
    self.assertEqual(src.space.sizes, (2, 3, 18, 9))
    idx = np.array([0, 200, 971])
    f = src.factors(idx)
    np.testing.assert_array_equal(f[-1], [1, 2, 17, 8])
    imgs = src.images(idx)
    self.assertEqual((imgs.shape, imgs.dtype), ((3, 64, 64, 3), np.uint8))
    for img, (o, p, r, s) in zip(imgs, f):
      raw = _png(f"coil-100/obj{o + 1}__{coil.POSES[p]}.png")
      ref = ops.resize_area(ops.zoom(ops.rotate(raw, coil.ROTATIONS[r]),
                                     coil.SCALES[s]), 64)
      np.testing.assert_array_equal(img, ref)

  def test_binary(self):
    src = datasets.get_dataset("coil100_augmented_binary", origin="original",
                               data_dir=_DUMMY)
    imgs = src.images(np.array([0, 5, 500]))
    self.assertTrue(set(np.unique(imgs)) <= {0, 255})
    np.testing.assert_array_equal(imgs[..., 0], imgs[..., 2])
    b = coil.binarize(_png("coil-100/obj1__0.png"))
    self.assertEqual(b.shape, (64, 64))
    self.assertEqual(b[32, 20], 255)  # inside the ellipse
    self.assertEqual(b[2, 2], 0)
    self.assertEqual(b[32, 32], 255)  # white bar is object too after Otsu

  def test_errors(self):
    with tempfile.TemporaryDirectory() as tmp:
      with self.assertRaisesRegex(FileNotFoundError, "coil-100.zip"):
        datasets.get_dataset("coil100_augmented", origin="original",
                             data_dir=tmp)
      bad = os.path.join(tmp, "coil-100.zip")
      with open(bad, "wb") as f:
        f.write(b"garbage" * 10)
      with self.assertRaisesRegex(ValueError, "not a valid zip.*download"):
        datasets.get_dataset("coil100_augmented", origin="original",
                             data_dir=tmp)
    with self.assertRaisesRegex(ValueError, "real_objects"):
      datasets.get_dataset("coil100_augmented")


class PrebuiltTest(absltest.TestCase):

  def test_classes_csv(self):
    with tempfile.TemporaryDirectory() as tmp:
      rng = np.random.default_rng(0)
      rows, pix = [], {}
      for o in (3, 7):
        for p in (0, 5):
          for r in (0, 20):
            for s in (1.0, 0.5):
              name = f"obj{o}__{p}__{r}__{s}.png"
              img = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
              Image.fromarray(img).save(os.path.join(tmp, name))
              rows.append([name, o, p, r, s])
              pix[(o, p, r, s)] = img
      rows = rows[::-1]  # csv order must not matter
      with open(os.path.join(tmp, "classes.csv"), "w", newline="") as f:
        csv.writer(f).writerows([["image", "object", "pose", "rotation",
                                  "scale"]] + rows)
      src = datasets.get_dataset("coil100_augmented", origin="prebuilt",
                                 data_dir=tmp)
      self.assertEqual(src.space.sizes, (2, 2, 2, 2))
      img = src.images([src.space.index([[1, 0, 1, 0]])[0]])[0]
      ref = np.asarray(Image.fromarray(pix[(7, 0, 20, 0.5)]).resize(
          (64, 64), Image.BILINEAR))
      np.testing.assert_array_equal(img, ref)
      os.remove(os.path.join(tmp, "classes.csv"))
      with self.assertRaisesRegex(FileNotFoundError, "classes.csv"):
        datasets.get_dataset("coil100_augmented", origin="prebuilt",
                             data_dir=tmp)


class BuilderTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils
    from dtransfer.datasets.coil100.dtransfer_coil100 import dtransfer_coil100_dataset_builder as b
    self.bu, self.b = _builder_utils, b
    self.tmp = self.enter_context(tempfile.TemporaryDirectory())

  def _download(self, side_effect):
    return mock.patch("tensorflow_datasets.download.DownloadManager.download",
                      autospec=True, side_effect=side_effect)

  def test_build_both_configs(self):
    ref = coil.ZipCoil100Source(_ZIP)
    for cfg in ("augmented", "binary"):
      with self._download(lambda _, url: _ZIP):
        builder = self.bu.prepare(self.b.Builder, cfg, self.tmp)
      src = builder.as_data_source(split="train")
      self.assertLen(src, 2 * 3 * 18 * 9)
      recs = src.__getitems__([0, 1, 9, 971])
      labels = [[r[f"label_{k}"] for k in coil.FACTOR_NAMES] for r in recs]
      self.assertEqual(labels, [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0],
                                [1, 2, 17, 8]])
      self.assertEqual(float(recs[3]["value_pose"]), 10.0)
      self.assertEqual(recs[0]["image"].shape, (64, 64, 3))
      if cfg == "augmented":
        np.testing.assert_array_equal(recs[2]["image"], ref.images([9])[0])
      else:
        self.assertTrue(set(np.unique(recs[2]["image"])) <= {0, 255})

  def test_manual_dir_checks(self):
    manual = os.path.join(self.tmp, "manual")
    os.makedirs(manual)
    with self._download(ConnectionError("offline")):
      with self.assertRaisesRegex(FileNotFoundError,
                                  f"{manual}/coil-100.zip"):
        self.bu.prepare(self.b.Builder, "augmented", self.tmp,
                        manual_dir=manual)
    with open(os.path.join(manual, "coil-100.zip"), "wb") as f:
      f.write(open(_ZIP, "rb").read())
    with self.assertRaisesRegex(ValueError, "coil-100.zip.*bytes"):
      self.bu.prepare(self.b.Builder, "augmented", self.tmp, manual_dir=manual)


if __name__ == "__main__":
  absltest.main()
