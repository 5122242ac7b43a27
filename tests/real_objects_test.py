"""Tests for real_objects: bundled photos, Coil100-style factors, builder."""

import csv
import os
import tempfile

from absl.testing import absltest
import numpy as np

from dtransfer import datasets
from dtransfer.datasets import _image_ops
from dtransfer.datasets.real_objects import original as ro


class RealObjectsTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.src = datasets.get_dataset("real_objects")

  def test_assets_small_and_licensed(self):
    total = sum(os.path.getsize(os.path.join(ro.ASSETS, f))
                for f in os.listdir(ro.ASSETS))
    self.assertLess(total, 2 * 1024 * 1024)
    self.assertTrue(os.path.exists(os.path.join(ro.ASSETS, "README.md")))
    with open(os.path.join(ro.ASSETS, "objects.csv"), newline="") as f:
      rows = list(csv.DictReader(f))
    self.assertLen(rows, 14)
    for r in rows:
      self.assertRegex(r["licence"], "public domain|CC0|no known copyright")

  def test_space(self):
    sp = self.src.space
    self.assertEqual(sp.names, ("object", "rotation", "scale"))
    self.assertEqual(sp.sizes, (14, 18, 9))
    np.testing.assert_allclose(ro.SCALES,
                               [1.0, .94, .88, .81, .75, .69, .62, .56, .5])
    np.testing.assert_array_equal(ro.ROTATIONS, np.arange(0, 341, 20))

  def test_images_follow_recipe(self):
    idx = np.array([0, 9 + 3, 2267, 1000])
    imgs = self.src.images(idx)
    self.assertEqual(imgs.shape, (4, 64, 64, 3))
    self.assertEqual(imgs.dtype, np.uint8)
    objs = ro.load_objects()
    for i, img in zip(idx, imgs):
      o, r, s = self.src.space.factors([i])[0]
      canvas = objs[o]
      step = _image_ops.zoom(_image_ops.rotate(canvas, ro.ROTATIONS[r]),
                             ro.SCALES[s])
      np.testing.assert_array_equal(img, _image_ops.resize_area(step, 64))

  def test_factor_semantics(self):
    sp = self.src.space
    base = sp.index([[3, 0, 0]])
    # Rotation by 180 degrees about (w/2, h/2) (cv2 convention: pixel
    # centres on integers) maps pixel x to 128 - x: a flip of rows/cols 1..127.
    canvas = ro.load_objects()[3]
    turned = _image_ops.rotate(canvas, 180.0)
    np.testing.assert_array_equal(turned[1:, 1:], canvas[1:, 1:][::-1, ::-1])
    self.assertEqual(turned[0].max(), 0)
    quarter = _image_ops.rotate(canvas, 90.0)  # counter-clockwise on screen
    np.testing.assert_array_equal(quarter[1:, :], np.rot90(canvas)[:-1, :])
    a, b = self.src.images(np.r_[base, sp.index([[3, 9, 0]])])
    self.assertGreater(np.abs(a.astype(int) - b).mean(), 5)
    # Smaller scale -> fewer non-black pixels; black border stays black.
    areas = [np.any(self.src.images(sp.index([[3, 0, s]]))[0] > 0, -1).sum()
             for s in range(9)]
    self.assertTrue(np.all(np.diff(areas) < 0), areas)
    small = self.src.images(sp.index([[3, 0, 8]]))[0]
    self.assertEqual(small[:12].max(), 0)
    # Objects differ.
    objs = self.src.images(sp.index([[o, 0, 0] for o in range(14)]))
    self.assertLen({o.tobytes() for o in objs}, 14)

  def test_builder(self):
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.real_objects.dtransfer_real_objects import dtransfer_real_objects_dataset_builder as b
    with tempfile.TemporaryDirectory() as tmp:
      builder = bu.prepare(b.Builder, None, tmp)
      self.assertEqual(builder.name, "dtransfer_real_objects")
      src = datasets.get_dataset("real_objects", origin="tfds", data_dir=tmp)
      self.assertEqual(src.space.num_records, 2268)
      idx = np.array([0, 17, 2267, 500])
      np.testing.assert_array_equal(src.images(idx), self.src.images(idx))
      recs = builder.as_data_source(split="train").__getitems__([0, 1, 9, 2267])
      labels = [[r[f"label_{k}"] for k in b.FACTOR_NAMES] for r in recs]
      self.assertEqual(labels, [[0, 0, 0], [0, 0, 1], [0, 1, 0], [13, 17, 8]])
      self.assertAlmostEqual(float(recs[1]["value_scale"]), 0.94, places=5)


if __name__ == "__main__":
  absltest.main()
