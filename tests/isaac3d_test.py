"""Tests for Isaac3D: reader of the release layout (fake files), builder."""

import os
import runpy
import tempfile

from absl.testing import absltest
import numpy as np
from PIL import Image

from dtransfer import datasets
from dtransfer.datasets import _image_ops
from dtransfer.datasets.isaac3d import original

_DUMMY = os.path.join(os.path.dirname(original.__file__), "dtransfer_isaac3d",
                      "dummy_data")
_WRITE = os.path.join(_DUMMY, "make_dummy_data.py")


def _png(folder, row):
  return np.asarray(Image.open(os.path.join(folder, "images", f"{row:06d}.png")))


class ReaderTest(absltest.TestCase):

  def test_dummy_release(self):
    src = datasets.get_dataset("isaac3d", origin="original", data_dir=_DUMMY,
                               resolution=128)
    self.assertEqual(src.space.names[0], "object_shape")
    self.assertEqual(src.space.sizes, (2, 2, 1, 1, 1, 1, 3, 1, 1))
    folder = os.path.join(_DUMMY, "Isaac3D_down128")
    np.testing.assert_array_equal(src.images([7])[0], _png(folder, 7))
    small = datasets.get_dataset("isaac3d", origin="original", data_dir=_DUMMY)
    self.assertEqual(small.image_shape, (64, 64, 3))
    np.testing.assert_array_equal(small.images([7])[0],
                                  _image_ops.resize_area(_png(folder, 7), 64))

  def test_shuffled_rows_come_out_in_factor_order(self):
    with tempfile.TemporaryDirectory() as tmp:
      folder = os.path.join(tmp, "Isaac3D_down128")
      factors = runpy.run_path(_WRITE)["write_release"](folder)
      labels = np.load(os.path.join(folder, "labels.npy"))
      perm = np.random.default_rng(0).permutation(len(labels))
      np.save(os.path.join(folder, "labels.npy"), labels[perm])
      for new, old in enumerate(perm):  # image `new` shows row `old`
        os.rename(os.path.join(folder, "images", f"{old:06d}.png"),
                  os.path.join(folder, "images", f"tmp{new:06d}.png"))
      for new in range(len(perm)):
        os.rename(os.path.join(folder, "images", f"tmp{new:06d}.png"),
                  os.path.join(folder, "images", f"{new:06d}.png"))
      # The documented image index no longer holds: refused by default.
      with self.assertRaisesRegex(ValueError, "not in image order"):
        datasets.get_dataset("isaac3d", origin="original", data_dir=tmp)
      src = datasets.get_dataset("isaac3d", origin="original", data_dir=tmp,
                                 resolution=128, check_index=False)
      np.testing.assert_array_equal(src.grid.factors, factors)
      np.testing.assert_array_equal(
          src.images([5])[0], _png(folder, int(np.nonzero(perm == 5)[0][0])))
      os.remove(os.path.join(folder, "images", "000003.png"))
      with self.assertRaisesRegex(FileNotFoundError, "000003.png"):
        src.images(np.arange(12))
      np.save(os.path.join(folder, "labels.npy"), labels[:-1])
      with self.assertRaisesRegex(ValueError, "exactly once"):
        datasets.get_dataset("isaac3d", origin="original", data_dir=tmp,
                             check_index=False)

  def test_swapped_equal_size_columns_are_refused(self):
    # object_scale and lighting_intensity both have 4 values: a swap keeps
    # every column's size, only the documented image index reveals it.
    with tempfile.TemporaryDirectory() as tmp:
      folder = os.path.join(tmp, "Isaac3D_down128")
      write = runpy.run_path(_WRITE)["write_release"]
      write(folder, grid=(1, 1, 1, 1, 2, 2, 1, 1, 1))
      ok = datasets.get_dataset("isaac3d", origin="original", data_dir=tmp)
      self.assertEqual(ok.space.sizes, (1, 1, 1, 1, 2, 2, 1, 1, 1))
      path = os.path.join(folder, "labels.npy")
      labels = np.load(path)
      np.save(path, labels[:, [0, 1, 2, 3, 5, 4, 6, 7, 8]])
      with self.assertRaisesRegex(
          ValueError, r"column 4 \(read as object_scale\) follows the index "
          r"digit of lighting_intensity.*dataset_demo.py"):
        datasets.get_dataset("isaac3d", origin="original", data_dir=tmp)
      # Trusting the labels would silently exchange the two factors.
      src = datasets.get_dataset("isaac3d", origin="original", data_dir=tmp,
                                 check_index=False)
      self.assertEqual(src.grid.order.tolist(), [0, 2, 1, 3])

  def test_documented_index(self):
    # NVIDIA's index: the bases of FACTOR_SIZES in C order (dataset_demo.py).
    bases = np.prod(original.FACTOR_SIZES) // np.cumprod(original.FACTOR_SIZES)
    self.assertEqual(bases.tolist(),
                     [245760, 30720, 6144, 1536, 384, 96, 16, 4, 1])
    self.assertEqual(int(np.prod(original.FACTOR_SIZES)), original.NUM_RECORDS)

  def test_missing(self):
    with tempfile.TemporaryDirectory() as tmp:
      with self.assertRaisesRegex(FileNotFoundError,
                                  "Isaac3D_down128/labels.npy"):
        datasets.get_dataset("isaac3d", origin="original", data_dir=tmp)


class BuilderTest(absltest.TestCase):

  def test_build(self):
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.isaac3d.dtransfer_isaac3d import dtransfer_isaac3d_dataset_builder as b
    tmp = self.create_tempdir().full_path
    with self.assertRaisesRegex(FileNotFoundError, "labels.npy"):
      bu.prepare(b.Builder, "res64", tmp, manual_dir=tmp)
    bu.prepare(b.Builder, "res64", tmp, manual_dir=_DUMMY)
    recs = bu.data_source(b.Builder, "res64", tmp).__getitems__([0, 11])
    ref = datasets.get_dataset("isaac3d", origin="original", data_dir=_DUMMY)
    np.testing.assert_array_equal(recs[1]["image"], ref.images([11])[0])
    self.assertEqual(recs[1]["label_lighting_direction"], 2)
    self.assertEqual(recs[1]["label_robot_x"], 1)
    self.assertAlmostEqual(float(recs[1]["value_lighting_direction"]), 0.4)
    with self.assertRaisesRegex(ValueError, "holds 12 records"):
      datasets.get_dataset("isaac3d", origin="tfds", data_dir=tmp)


if __name__ == "__main__":
  absltest.main()
