"""Tests for Shapes3D: renderer semantics, original h5 reader, TFDS builder."""

import hashlib
import os
import runpy
import shutil
import tempfile
from unittest import mock

from absl.testing import absltest
import numpy as np

from dtransfer import datasets
from dtransfer.datasets.shapes3d import original
from dtransfer.datasets.shapes3d import renderer

_BUILDER_DIR = os.path.join(os.path.dirname(renderer.__file__),
                            "dtransfer_shapes3d")
_DUMMY_H5 = os.path.join(_BUILDER_DIR, "dummy_data", "3dshapes.h5")
_R = renderer.Shapes3DRenderer()


def _fake_writer():
  return runpy.run_path(os.path.join(_BUILDER_DIR, "dummy_data",
                                     "make_dummy_data.py"))["write_fake_h5"]


def _row(fh=1, wh=4, oh=7, sc=4, sh=0, ori=3):
  return np.array([[fh, wh, oh, sc, sh, ori]])


class RendererTest(absltest.TestCase):

  def test_space_and_shape(self):
    self.assertEqual(renderer.SPACE.sizes, (10, 10, 10, 8, 4, 15))
    self.assertEqual(renderer.SPACE.num_records, 480_000)
    img = _R(_row())
    self.assertEqual(img.shape, (1, 64, 64, 3))
    self.assertEqual(img.dtype, np.uint8)
    np.testing.assert_allclose(renderer.SCALES[[0, -1]], [0.75, 1.25])
    np.testing.assert_allclose(renderer.ORIENTATIONS[[0, -1]], [-30, 30])
    np.testing.assert_allclose(renderer.hue_to_rgb([0.0, 1 / 3]),
                               [[1, 0, 0], [0, 1, 0]], atol=1e-6)

  def test_record_order(self):
    idx = np.array([0, 1, 15, 479_999, 123_457])
    f = renderer.SPACE.factors(idx)
    np.testing.assert_array_equal(f[1], [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(f[2], [0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(_R.images(idx), _R(f))
    src = datasets.get_dataset("shapes3d")
    np.testing.assert_array_equal(src.images(idx), _R(f))

  def test_hue_changes_only_its_surface(self):
    base = _row()
    cover = _R.masks(base)[0]  # floor, wall, object coverage
    for k in range(3):
      other = base.copy()
      other[0, k] = 8
      diff = np.any(_R(base)[0] != _R(other)[0], axis=-1)
      self.assertGreater(diff.sum(), 20, renderer.FACTOR_NAMES[k])
      self.assertFalse(np.any(diff & ~cover[k]), renderer.FACTOR_NAMES[k])

  def test_scale_grows_object(self):
    for shape in range(4):
      f = np.repeat(_row(sh=shape), 8, 0)
      f[:, 3] = np.arange(8)
      area = _R.masks(f)[:, 2].sum((1, 2))
      self.assertTrue(np.all(np.diff(area) > 0), (shape, area))

  def test_shape_changes_silhouette(self):
    f = np.repeat(_row(sc=7, ori=2), 4, 0)
    f[:, 4] = np.arange(4)
    m = _R.masks(f)[:, 2]
    for a in range(4):
      for b in range(a + 1, 4):
        self.assertGreater(np.sum(m[a] != m[b]), 10, (a, b))

  def test_orientation_changes_object_pixels_only(self):
    for shape in (0, 1, 3):  # cube, cylinder, capsule
      a, b = _row(sh=shape, ori=0), _row(sh=shape, ori=14)
      diff = np.any(_R(a)[0] != _R(b)[0], axis=-1)
      obj = _R.masks(a)[0, 2] | _R.masks(b)[0, 2]
      self.assertGreater(diff.sum(), 10, shape)
      self.assertFalse(np.any(diff & ~obj), shape)
    # The sphere is rotation invariant (documented deviation).
    np.testing.assert_array_equal(_R(_row(sh=2, ori=0)), _R(_row(sh=2, ori=14)))

  def test_room_is_lit_3d(self):
    img = _R(_row(sc=0)).astype(int)[0]
    self.assertGreater(np.ptp(img[:, :, :].sum(-1)), 50)


class OriginalReaderTest(absltest.TestCase):

  def test_dummy_h5_matches_grid(self):
    src = datasets.get_dataset("shapes3d", origin="original",
                               data_dir=os.path.dirname(_DUMMY_H5))
    self.assertEqual(src.space.sizes, (2, 1, 2, 2, 4, 3))
    n = src.space.num_records
    f = src.factors(np.arange(n))
    self.assertEqual(f.max(0).tolist(), [9, 0, 9, 7, 3, 14])
    np.testing.assert_array_equal(np.argsort(
        np.ravel_multi_index(tuple(f.T), renderer.FACTOR_SIZES)), np.arange(n))
    idx = np.array([5, 0, 95, 5])
    np.testing.assert_array_equal(src.images(idx), _R(f[idx]))

  def test_labels_to_factors(self):
    f = renderer.SPACE.factors(np.array([0, 7, 479_999]))
    vals = np.stack([renderer.FACTOR_VALUES[k][f[:, k]] for k in range(6)], -1)
    np.testing.assert_array_equal(original.labels_to_factors(vals + 1e-7), f)
    bad = vals.copy()
    bad[0, 3] = 3.0
    with self.assertRaisesRegex(ValueError, "scale"):
      original.labels_to_factors(bad)

  def test_corrupt_and_missing(self):
    tmp = self.enter_context(tempfile.TemporaryDirectory())
    path = os.path.join(tmp, "3dshapes.h5")
    with open(path, "wb") as f:
      f.write(b"this is not hdf5" * 100)
    with self.assertRaisesRegex(ValueError, "not a readable HDF5.*download"):
      original.open_h5(path)
    with self.assertRaisesRegex(FileNotFoundError, "3dshapes.h5"):
      datasets.get_dataset("shapes3d", origin="original",
                           data_dir=os.path.join(tmp, "nowhere"))


class BuilderTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils
    from dtransfer.datasets.shapes3d.dtransfer_shapes3d import dtransfer_shapes3d_dataset_builder as b
    self.bu, self.b = _builder_utils, b
    self.tmp = self.enter_context(tempfile.TemporaryDirectory())

  def _check(self, builder, sizes, keep):
    src = builder.as_data_source(split="train")
    n = int(np.prod(sizes))
    self.assertLen(src, n)
    recs = src.__getitems__(list(range(n)))
    labels = np.array([[r[f"label_{k}"] for k in renderer.FACTOR_NAMES]
                       for r in recs])
    local = np.stack(np.unravel_index(np.arange(n), sizes), -1)
    expect = np.stack([keep[k][local[:, k]] for k in range(6)], -1)
    np.testing.assert_array_equal(labels, expect)  # factor order
    img = np.asarray(recs[3]["image"])
    self.assertEqual((img.shape, img.dtype), ((64, 64, 3), np.uint8))
    np.testing.assert_array_equal(img, _R(expect[3:4])[0])
    np.testing.assert_allclose(recs[-1]["value_orientation"],
                               renderer.ORIENTATIONS[expect[-1, 5]], rtol=1e-6)
    return src

  def test_procedural_subgrid(self):
    grid = (1, 2, 1, 2, 4, 2)
    cfg = self.b.Shapes3dConfig(name="tiny", origin="procedural", grid=grid)
    builder = self.bu.prepare(self.b.Builder, cfg, self.tmp)
    self.assertEqual(builder.info.features["label_orientation"].num_classes, 15)
    self._check(builder, grid, self.b.subgrid_values(grid))

  def test_original_from_download(self):
    # A shuffled file must still come out in factor order.
    path = os.path.join(self.tmp, "shuffled.h5")
    _fake_writer()(path, grid=(1, 2, 1, 1, 4, 2), shuffle_seed=0)
    with mock.patch("tensorflow_datasets.download.DownloadManager.download",
                    autospec=True, side_effect=lambda _, url: path):
      builder = self.bu.prepare(self.b.Builder, "original", self.tmp)
    self._check(builder, (1, 2, 1, 1, 4, 2), self.b.subgrid_values(
        (1, 2, 1, 1, 4, 2)))

  def test_original_from_manual_dir(self):
    manual = os.path.join(self.tmp, "manual")
    os.makedirs(manual)
    shutil.copy(_DUMMY_H5, manual)
    # The fake file is not the real one: size/checksum must be rejected.
    with self.assertRaisesRegex(ValueError, "3dshapes.h5.*download it again"):
      self.bu.prepare(self.b.Builder, "original", self.tmp, manual_dir=manual)
    size = os.path.getsize(_DUMMY_H5)
    with mock.patch.object(original, "NUM_BYTES", size), mock.patch.object(
        original, "SHA256", "0" * 64):
      with self.assertRaisesRegex(ValueError, "checksum mismatch"):
        self.bu.prepare(self.b.Builder, "original", self.tmp, manual_dir=manual)
    digest = hashlib.sha256(open(_DUMMY_H5, "rb").read()).hexdigest()
    with mock.patch.object(original, "NUM_BYTES", size), mock.patch.object(
        original, "SHA256", digest):
      builder = self.bu.prepare(self.b.Builder, "original", self.tmp,
                                manual_dir=manual)
    self._check(builder, (2, 1, 2, 2, 4, 3), self.b.subgrid_values(
        (2, 1, 2, 2, 4, 3)))

  def test_missing_manual_file_names_file_and_dir(self):
    manual = os.path.join(self.tmp, "manual")
    os.makedirs(manual)
    with mock.patch("tensorflow_datasets.download.DownloadManager.download",
                    autospec=True, side_effect=ConnectionError("offline")):
      with self.assertRaisesRegex(FileNotFoundError,
                                  f"offline.*{manual}/3dshapes.h5"):
        self.bu.prepare(self.b.Builder, "original", self.tmp,
                        manual_dir=manual)

  def test_factory_tfds(self):
    with self.assertRaisesRegex(FileNotFoundError, "not prepared"):
      datasets.get_dataset("shapes3d", origin="tfds", data_dir=self.tmp)
    # A full-grid source needs 480k records; a sub-grid build is refused.
    cfg = self.b.Shapes3dConfig(name="tiny", origin="procedural",
                                grid=(1, 1, 1, 1, 2, 2))
    self.bu.prepare(self.b.Builder, cfg, self.tmp)
    with self.assertRaisesRegex(ValueError, "holds 4 records"):
      datasets.get_dataset("shapes3d", origin="tfds", data_dir=self.tmp,
                           config=cfg)


if __name__ == "__main__":
  absltest.main()
