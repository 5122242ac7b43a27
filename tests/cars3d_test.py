"""Tests for Cars3D: .mat reader (list.txt ids, view axes), builder."""

import os
import runpy
import shutil
import tarfile
import tempfile
from unittest import mock

from absl.testing import absltest
import numpy as np

from dtransfer import datasets
from dtransfer.datasets.cars3d import original

_DUMMY = os.path.join(os.path.dirname(original.__file__), "dtransfer_cars3d",
                      "dummy_data")


class ReaderTest(absltest.TestCase):

  def test_factor_order_and_list_txt_ids(self):
    # The dummy archive's list.txt is deliberately not sorted.
    src = datasets.get_dataset("cars3d", origin="original", data_dir=_DUMMY)
    self.assertEqual(src.space.names, ("elevation", "azimuth", "object"))
    self.assertEqual(src.space.sizes, (4, 24, 3))
    self.assertEqual(src.object_order, "list.txt")
    self.assertEqual(src.files, ["car_113_mesh.mat", "car_001_mesh.mat",
                                 "car_042_mesh.mat"])
    f = np.array([[0, 0, 0], [3, 5, 2], [1, 23, 1]])
    imgs = src.images(src.space.index(f))
    self.assertEqual(imgs.shape, (3, 64, 64, 3))
    for img, (e, a, o) in zip(imgs, f):
      np.testing.assert_array_equal(img[32, 32],
                                    [(113, 1, 42)[o], 10 * a, 60 * e])

  def test_without_list_txt_ids_follow_sorted_names(self):
    with tempfile.TemporaryDirectory() as tmp:
      shutil.copytree(os.path.join(_DUMMY, "data"), os.path.join(tmp, "data"))
      os.remove(os.path.join(tmp, "data", "cars", original.LIST))
      src = datasets.get_dataset("cars3d", origin="original", data_dir=tmp)
      self.assertEqual(src.object_order, "sorted")
      self.assertEqual(src.files, ["car_001_mesh.mat", "car_042_mesh.mat",
                                   "car_113_mesh.mat"])

  def test_list_txt_problems(self):
    write = runpy.run_path(os.path.join(_DUMMY, "make_dummy_data.py"))[
        "write_cars"]
    with tempfile.TemporaryDirectory() as tmp:
      folder = os.path.join(tmp, "data", "cars")
      write(folder)
      listing = os.path.join(folder, original.LIST)
      with open(listing, "w") as f:  # ".mat" and blank lines are tolerated
        f.write("car_042_mesh.mat\n\ncar_113_mesh\n")
      with self.assertLogs(level="WARNING") as logs:
        src = datasets.get_dataset("cars3d", origin="original", data_dir=tmp)
      self.assertIn("car_001_mesh.mat", "".join(logs.output))
      self.assertEqual(src.files, ["car_042_mesh.mat", "car_113_mesh.mat"])
      with open(listing, "a") as f:
        f.write("car_999_mesh\n")
      with self.assertRaisesRegex(FileNotFoundError, "car_999_mesh.mat"):
        datasets.get_dataset("cars3d", origin="original", data_dir=tmp)
      with open(listing, "w") as f:
        f.write("car_042_mesh\ncar_042_mesh\n")
      with self.assertRaisesRegex(ValueError, "more than once"):
        datasets.get_dataset("cars3d", origin="original", data_dir=tmp)

  def test_missing(self):
    with tempfile.TemporaryDirectory() as tmp:
      with self.assertRaisesRegex(FileNotFoundError, "data/cars/car_001"):
        datasets.get_dataset("cars3d", origin="original", data_dir=tmp)


class BuilderTest(absltest.TestCase):

  def test_build_from_archive(self):
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.cars3d.dtransfer_cars3d import dtransfer_cars3d_dataset_builder as b
    tmp = self.create_tempdir().full_path
    archive = os.path.join(tmp, original.ARCHIVE)
    with tarfile.open(archive, "w:gz") as t:
      t.add(os.path.join(_DUMMY, "data"), arcname="data")
    with mock.patch("tensorflow_datasets.download.DownloadManager.download",
                    autospec=True, side_effect=lambda _, url: archive):
      bu.prepare(b.Builder, None, os.path.join(tmp, "out"))
    recs = bu.data_source(b.Builder, None, os.path.join(tmp, "out"))
    self.assertLen(recs, 4 * 24 * 3)
    ref = datasets.get_dataset("cars3d", origin="original", data_dir=_DUMMY)
    r = recs[100]
    self.assertEqual([r["label_elevation"], r["label_azimuth"],
                      r["label_object"]], ref.space.factors(100).tolist())
    np.testing.assert_array_equal(r["image"], ref.images([100])[0])
    meta = bu.builder(b.Builder, None, os.path.join(tmp, "out")).info.metadata
    self.assertEqual(meta["objects"], ["car_113_mesh", "car_001_mesh",
                                       "car_042_mesh"])
    self.assertEqual(meta["object_order"], "list.txt")
    with self.assertRaisesRegex(ValueError, "holds 288 records"):
      datasets.get_dataset("cars3d", origin="tfds",
                           data_dir=os.path.join(tmp, "out"))

  def test_offline_without_files(self):
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.cars3d.dtransfer_cars3d import dtransfer_cars3d_dataset_builder as b
    tmp = self.create_tempdir().full_path
    with mock.patch("tensorflow_datasets.download.DownloadManager.download",
                    autospec=True, side_effect=ConnectionError("offline")):
      with self.assertRaisesRegex(FileNotFoundError,
                                  f"offline.*{tmp}/{original.ARCHIVE}"):
        bu.prepare(b.Builder, None, tmp, manual_dir=tmp)


if __name__ == "__main__":
  absltest.main()
