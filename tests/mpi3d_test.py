"""Tests for MPI3D: npz reader (stored and compressed), sizes, builder."""

import os
import runpy
import tempfile
from unittest import mock

from absl.testing import absltest
import numpy as np

from dtransfer import datasets
from dtransfer.datasets.mpi3d import original

_DUMMY = os.path.join(os.path.dirname(original.__file__), "dtransfer_mpi3d",
                      "dummy_data")
_SIZES = (2, 1, 2, 1, 1, 3, 2)
_write = runpy.run_path(os.path.join(_DUMMY, "make_dummy_data.py"))[
    "write_fake_npz"]


class ReaderTest(absltest.TestCase):

  def test_sizes_from_length(self):
    self.assertEqual(original.sizes_for(460_800), (4, 4, 2, 3, 3, 40, 40))
    self.assertEqual(original.sizes_for(1_036_800), (6, 6, 2, 3, 3, 40, 40))
    with self.assertRaisesRegex(ValueError, "460,800.*truncated"):
      original.sizes_for(1000)
    with self.assertRaisesRegex(ValueError, "do not multiply"):
      original.sizes_for(24, (2, 2))

  def test_stored_and_compressed(self):
    for compressed in (False, True):
      with tempfile.TemporaryDirectory() as tmp:
        ref = _write(os.path.join(tmp, "mpi3d_real.npz"), compressed=compressed)
        src = datasets.get_dataset("mpi3d_real", source="original",
                                   data_dir=tmp, factor_sizes=_SIZES)
        self.assertEqual(src.file.stored, not compressed)
        self.assertEqual(src.space.names[-1], "vertical_axis")
        idx = np.array([23, 0, 5])
        np.testing.assert_array_equal(src.images(idx), ref[idx])
        chunks = list(src.file.iter_chunks(chunk=5))
        self.assertEqual([s for s, _ in chunks], [0, 5, 10, 15, 20])
        np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]),
                                      ref)

  def test_errors(self):
    with tempfile.TemporaryDirectory() as tmp:
      with self.assertRaisesRegex(FileNotFoundError, "mpi3d_toy.npz"):
        datasets.get_dataset("mpi3d_toy", source="original", data_dir=tmp)
      _write(os.path.join(tmp, "mpi3d_toy.npz"))
      with self.assertRaisesRegex(ValueError, "24 images.*known releases"):
        datasets.get_dataset("mpi3d_toy", source="original", data_dir=tmp)
      np.savez(os.path.join(tmp, "mpi3d_toy.npz"), imgs=np.zeros(3))
      with self.assertRaisesRegex(ValueError, "no 'images'"):
        datasets.get_dataset("mpi3d_toy", source="original", data_dir=tmp)


class BuilderTest(absltest.TestCase):

  def test_build_from_manual_dir_and_download(self):
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.mpi3d.dtransfer_mpi3d import dtransfer_mpi3d_dataset_builder as b
    tmp = self.create_tempdir().full_path
    cfg = b.Mpi3dConfig(name="toy_tiny", variant="toy", factor_sizes=_SIZES)
    bu.prepare(b.Builder, cfg, tmp, manual_dir=_DUMMY)
    src = datasets.get_dataset("mpi3d_toy", source="tfds", data_dir=tmp,
                               config=cfg)
    self.assertEqual(src.space.sizes, _SIZES)
    ref = datasets.get_dataset("mpi3d_toy", source="original", data_dir=_DUMMY,
                               factor_sizes=_SIZES)
    np.testing.assert_array_equal(src.images([3, 17]), ref.images([3, 17]))
    rec = bu.data_source(b.Builder, cfg, tmp)[17]
    self.assertEqual([rec[f"label_{n}"] for n in original.FACTOR_NAMES],
                     src.space.factors(17).tolist())
    # Not in the manual dir and offline: the error says where to put it.
    cfg2 = b.Mpi3dConfig(name="real_tiny", variant="real", factor_sizes=_SIZES)
    with mock.patch("tensorflow_datasets.download.DownloadManager.download",
                    autospec=True, side_effect=ConnectionError("offline")):
      with self.assertRaisesRegex(FileNotFoundError,
                                  f"offline.*{_DUMMY}/mpi3d_real.npz"):
        bu.prepare(b.Builder, cfg2, tmp, manual_dir=_DUMMY)


if __name__ == "__main__":
  absltest.main()
