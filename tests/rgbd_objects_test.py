"""Tests for RGB-D Objects: archive reader, recipe, sparse grid, builder."""

import os
import re
import shutil
import tempfile

from absl.testing import absltest
import numpy as np
from PIL import Image

from dtransfer import datasets
from dtransfer.data import pairs
from dtransfer.datasets.rgbd_objects import original

_DUMMY = os.path.join(os.path.dirname(original.__file__),
                      "dtransfer_rgbd_objects", "dummy_data")
_ROOT = os.path.join(_DUMMY, "rgbd-dataset")


def _png(name):
  inst = re.match(r"^(.+)_\d+_\d+_[a-z]+\.png$", name).group(1)
  cat = inst.rsplit("_", 1)[0]
  return np.asarray(Image.open(os.path.join(_ROOT, cat, inst, name)))


class ReaderTest(absltest.TestCase):

  def test_grid_is_sparse_first_instance_only(self):
    src = datasets.get_dataset("rgbd_objects", origin="original", data_dir=_DUMMY)
    self.assertEqual(src.space.names, ("category", "azimuth", "pose"))
    self.assertEqual(src.space.sizes, (3, 3, 4))
    self.assertEqual(src.scan.categories, ["apple", "cell_phone", "food_bag"])
    self.assertEqual(src.scan.instances, ["apple_1", "cell_phone_1",
                                          "food_bag_1"])
    self.assertEqual(src.scan.videos, (1, 2, 4))
    f = src.space.factors(src.available)
    # apple: 4 + 2 + 2 (frame 3 of video 4 has no mask); cell_phone: 3+3+3;
    # food_bag: 2 + 1 + 2.
    self.assertLen(f, 8 + 9 + 5)
    self.assertTrue(np.any(np.all(f == [1, 2, 3], 1)))  # frame 4
    self.assertFalse(np.any(np.all(f == [1, 2, 2], 1)))  # hole: frame 3
    self.assertFalse(np.any(np.all(f == [0, 2, 2], 1)))  # no mask
    depth = datasets.get_dataset("rgbd_objects_depth", origin="original", data_dir=_DUMMY)
    self.assertLen(depth.available, 23)

  def test_rgb_recipe(self):
    src = datasets.get_dataset("rgbd_objects", origin="original", data_dir=_DUMMY)
    idx = src.space.index([[1, 2, 3]])
    img = src.images(idx)[0]
    self.assertEqual((img.shape, img.dtype), ((64, 64, 3), np.uint8))
    rgb = _png("cell_phone_1_4_4_crop.png")
    mask = _png("cell_phone_1_4_4_maskcrop.png") // 255
    h, w = rgb.shape[:2]
    self.assertLess(h, w)
    square = np.zeros((w, w, 3), np.uint8)
    top = (w - h) // 2
    square[top:top + h] = rgb * mask[..., None]
    ref = np.asarray(Image.fromarray(square).resize((64, 64), Image.BILINEAR))
    np.testing.assert_array_equal(img, ref)
    self.assertEqual(img[0].max(), 0)  # padding and masked-out corners
    with self.assertRaisesRegex(KeyError, "does not exist"):
      src.images(src.space.index([[1, 2, 2]]))

  def test_depth_quantisation(self):
    q = original.quantize_depth(np.array([0, 100, 500, 1000, 1500, 4000]))
    np.testing.assert_array_equal(q, [0, 1, 1, 128, 255, 255])
    src = datasets.get_dataset("rgbd_objects_depth", origin="original", data_dir=_DUMMY)
    img = src.images(src.space.index([[0, 0, 0]]))[0]
    np.testing.assert_array_equal(img[..., 0], img[..., 2])
    d = _png("apple_1_1_1_depthcrop.png")
    ref = original.resize(original.square_pad(original.quantize_depth(d)))
    np.testing.assert_array_equal(img[..., 0], ref)
    # Depth grows left to right in the fake crops: so must the grey level.
    row = img[32, :, 0].astype(int)
    self.assertGreater(row[row > 0][-1], row[row > 0][0])

  def test_weak_pairs_on_the_sparse_grid(self):
    src = datasets.get_dataset("rgbd_objects", origin="original", data_dir=_DUMMY)
    b = pairs.WeakPairBatches(src, 16, seed=0)[0]
    self.assertEqual(b["x1"].shape, (16, 64, 64, 3))
    np.testing.assert_array_equal((b["f1"] != b["f2"]).sum(1), 1)
    self.assertTrue(src.sparse.contains(src.space.index(b["f2"])).all())

  def test_files_outside_the_grid_are_skipped_and_reported(self):
    with tempfile.TemporaryDirectory() as tmp:
      root = os.path.join(tmp, "rgbd-dataset")
      shutil.copytree(_ROOT, root)
      folder = os.path.join(root, "apple", "apple_1")
      # A longer sequence (frame 264 > the authors' 263) and a video 5.
      for stem in ("apple_1_1_264", "apple_1_5_1"):
        for kind in ("crop", "maskcrop", "depthcrop"):
          shutil.copy(os.path.join(folder, f"apple_1_1_1_{kind}.png"),
                      os.path.join(folder, f"{stem}_{kind}.png"))
      with self.assertLogs(level="WARNING") as logs:
        src = datasets.get_dataset("rgbd_objects", origin="original",
                                   data_dir=tmp)
      log = "".join(logs.output)
      self.assertIn("skipped 2 file(s)", log)
      self.assertIn("apple_1_1_264_crop.png (frame 264 not in 1..263)", log)
      self.assertEqual(
          [(os.path.basename(p), r) for p, r in src.skipped],
          [("apple_1_1_264_crop.png", "frame 264 not in 1..263"),
           ("apple_1_5_1_crop.png", "video 5 not in 1..4")])
      self.assertEqual(src.space.sizes, (3, 3, 4))  # as without them
      self.assertLen(src.available, 22)
      # Unbounded: every video and frame present spans the grid.
      full = datasets.get_dataset("rgbd_objects", origin="original",
                                  data_dir=tmp, max_video=None, max_frame=None)
      self.assertEqual(full.skipped, [])
      self.assertEqual(full.scan.videos, (1, 2, 4, 5))
      self.assertEqual(full.space.sizes, (3, 4, 264))
      self.assertLen(full.available, 24)
      np.testing.assert_array_equal(
          full.images(full.space.index([[0, 0, 263]])),
          full.images(full.space.index([[0, 0, 0]])))
      # Builder: skipped files are recorded in the metadata.
      # pylint: disable=g-import-not-at-top
      from dtransfer.datasets import _builder_utils as bu
      from dtransfer.datasets.rgbd_objects.dtransfer_rgbd_objects import dtransfer_rgbd_objects_dataset_builder as b
      out = os.path.join(tmp, "out")
      bu.prepare(b.Builder, "depth", out, manual_dir=tmp)
      meta = bu.builder(b.Builder, "depth", out).info.metadata
      self.assertEqual(meta["skipped"], 2)
      self.assertEqual(meta["skipped_examples"][1],
                       "apple/apple_1/apple_1_5_1_depthcrop.png (video 5 not "
                       "in 1..4)")
      ref = datasets.get_dataset("rgbd_objects_depth", origin="original",
                                 data_dir=tmp)
      np.testing.assert_array_equal(
          datasets.get_dataset("rgbd_objects_depth", origin="tfds",
                               data_dir=out).available, ref.available)

  def test_errors(self):
    with tempfile.TemporaryDirectory() as tmp:
      with self.assertRaisesRegex(FileNotFoundError,
                                  "rgbd-dataset.*apple_1_1_1_crop.png"):
        datasets.get_dataset("rgbd_objects", origin="original", data_dir=tmp)
      os.makedirs(os.path.join(tmp, "rgbd-dataset", "apple", "apple_1"))
      with self.assertRaisesRegex(ValueError, "no <instance>"):
        datasets.get_dataset("rgbd_objects", origin="original", data_dir=tmp)
    with self.assertRaisesRegex(ValueError, "real_objects"):
      datasets.get_dataset("rgbd_objects", origin="procedural")


class BuilderTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils
    from dtransfer.datasets.rgbd_objects.dtransfer_rgbd_objects import dtransfer_rgbd_objects_dataset_builder as b
    self.bu, self.b = _builder_utils, b
    self.tmp = self.enter_context(tempfile.TemporaryDirectory())

  def test_build_and_read_back(self):
    ref = datasets.get_dataset("rgbd_objects_depth", origin="original", data_dir=_DUMMY)
    self.bu.prepare(self.b.Builder, "depth", self.tmp, manual_dir=_DUMMY)
    src = datasets.get_dataset("rgbd_objects_depth", origin="tfds",
                               data_dir=self.tmp)
    self.assertEqual(src.space, ref.space)
    np.testing.assert_array_equal(src.available, ref.available)
    idx = ref.available[[0, 7, 22]]
    np.testing.assert_array_equal(src.images(idx), ref.images(idx))
    rec = self.b.bu.data_source(self.b.Builder, "depth", self.tmp)[7]
    f = ref.space.factors(ref.available[7])
    self.assertEqual([rec["label_category"], rec["label_azimuth"],
                      rec["label_pose"]], f.tolist())
    self.assertEqual(float(rec["value_azimuth"]), ref.scan.videos[f[1]])
    b = pairs.WeakPairBatches(src, 8, seed=1)[2]
    self.assertTrue(src.sparse.contains(src.space.index(b["f2"])).all())

  def test_missing_manual_dir(self):
    with self.assertRaisesRegex(FileNotFoundError,
                                "rgbd-dataset/.*apple_1_1_1_crop.png"):
      self.bu.prepare(self.b.Builder, "rgb", self.tmp, manual_dir=self.tmp)


if __name__ == "__main__":
  absltest.main()
