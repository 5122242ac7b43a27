"""Tests for SmallNORB: binary matrices, train+test grid, camera 0, builder."""

import os
import runpy
import shutil
import tempfile
from unittest import mock

from absl.testing import absltest
import numpy as np

from dtransfer import datasets
from dtransfer.datasets.smallnorb import original

_DUMMY = os.path.join(os.path.dirname(original.__file__),
                      "dtransfer_smallnorb", "dummy_data")
_MAKE = runpy.run_path(os.path.join(_DUMMY, "make_dummy_data.py"))


class ReaderTest(absltest.TestCase):

  def test_grid_and_images(self):
    src = datasets.get_dataset("smallnorb", origin="original", data_dir=_DUMMY)
    self.assertEqual(src.space.names, original.FACTOR_NAMES)
    self.assertEqual(src.space.sizes, (2, 4, 2, 2, 1))  # instances 0,1,4,6
    idx = np.arange(src.space.num_records)
    f = src.factors(idx)
    np.testing.assert_array_equal(np.unique(f[:, 1]), [0, 1, 4, 6])
    np.testing.assert_array_equal(np.unique(f[:, 3]), [0, 1])  # azimuth / 2
    imgs = src.images(idx)
    self.assertEqual(imgs.shape, (32, 64, 64, 1))
    for img, (c, i, e, a, l) in zip(imgs, f):
      self.assertEqual(img[2, 2, 0], _MAKE["grey"](c, i, e, 2 * a, l))
    self.assertEqual(imgs[0, 32, 32, 0], 255)

  def test_binary_format(self):
    with tempfile.TemporaryDirectory() as tmp:
      _MAKE["write_files"](tmp, gz=False)
      name = "smallnorb-5x01235x9x18x6x2x96x96-testing-cat.mat"
      cat = original.read_matrix(os.path.join(tmp, name))
      self.assertEqual((cat.shape, cat.dtype), ((16,), np.dtype("<i4")))
      src = datasets.get_dataset("smallnorb", origin="original", data_dir=tmp)
      self.assertEqual(src.space.num_records, 32)
      with open(os.path.join(tmp, name), "r+b") as f:
        f.write(b"\0\0\0\0")
      with self.assertRaisesRegex(ValueError, "magic number 0"):
        original.read_matrix(os.path.join(tmp, name))
      os.remove(os.path.join(tmp, name))
      with self.assertRaisesRegex(FileNotFoundError, "testing-cat.mat.gz"):
        datasets.get_dataset("smallnorb", origin="original", data_dir=tmp)


class BuilderTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils
    from dtransfer.datasets.smallnorb.dtransfer_smallnorb import dtransfer_smallnorb_dataset_builder as b
    self.bu, self.b = _builder_utils, b
    self.tmp = self.create_tempdir().full_path

  def test_manual_checksums_and_gunzipped(self):
    manual = os.path.join(self.tmp, "manual")
    shutil.copytree(_DUMMY, manual)
    with self.assertRaisesRegex(ValueError, "bytes but the original"):
      self.bu.prepare(self.b.Builder, None, self.tmp, manual_dir=manual)
    for name in os.listdir(manual):
      if name.endswith(".gz"):
        os.remove(os.path.join(manual, name))
    _MAKE["write_files"](manual, gz=False)
    self.bu.prepare(self.b.Builder, None, self.tmp, manual_dir=manual)
    recs = self.bu.data_source(self.b.Builder, None, self.tmp)
    self.assertLen(recs, 32)
    ref = datasets.get_dataset("smallnorb", origin="original", data_dir=manual)
    r = recs[13]
    self.assertEqual([r[f"label_{n}"] for n in original.FACTOR_NAMES],
                     ref.factors(13).tolist())
    np.testing.assert_array_equal(r["image"], ref.images([13])[0])
    self.assertEqual(float(r["value_azimuth"]), 20.0 * ref.factors(13)[3])

  def test_download(self):
    names = {n: os.path.join(_DUMMY, n) for n in original.filenames()}
    with mock.patch("tensorflow_datasets.download.DownloadManager.download",
                    autospec=True,
                    side_effect=lambda _, url: names[url.rsplit("/", 1)[1]]):
      self.bu.prepare(self.b.Builder, None, self.tmp)
    self.assertLen(self.bu.data_source(self.b.Builder, None, self.tmp), 32)
    with self.assertRaisesRegex(ValueError, "holds 32 records"):
      datasets.get_dataset("smallnorb", origin="tfds", data_dir=self.tmp)


if __name__ == "__main__":
  absltest.main()
