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
        src = datasets.get_dataset("mpi3d_real", origin="original",
                                   data_dir=tmp, factor_sizes=_SIZES)
        self.assertEqual(src.file.stored, not compressed)
        self.assertEqual(src.space.names[-1], "vertical_axis")
        idx = np.array([23, 0, 5])
        np.testing.assert_array_equal(src.images(idx), ref[idx])
        chunks = list(src.file.iter_chunks(chunk=5))
        self.assertEqual([s for s, _ in chunks], [0, 5, 10, 15, 20])
        np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]),
                                      ref)

  def test_current_and_old_urls(self):
    # The maintainers' README since 2025-04-17 (rr-learning/
    # disentanglement_dataset a7a6729): Hugging Face, mpi3d_<variant>.npz.
    for v in original.VARIANTS:
      self.assertEqual(original.URLS[v],
                       "https://huggingface.co/datasets/waleedgondal/mpi3d/"
                       f"resolve/main/mpi3d_{v}.npz")
    # The 2024 link for real was data/real.npz, never data/mpi3d_real.npz.
    self.assertIn("https://storage.googleapis.com/mpi3d_disentanglement_"
                  "dataset/data/real.npz", original.OLD_URLS["real"])
    for v, urls in original.OLD_URLS.items():
      for url in urls:
        name = url.rsplit("/", 1)[1]
        self.assertIn(name, original.candidates(v))

  def test_old_file_names_are_accepted_with_a_note(self):
    with tempfile.TemporaryDirectory() as tmp:
      ref = _write(os.path.join(tmp, "real.npz"))
      with self.assertLogs(level="WARNING") as logs:
        src = datasets.get_dataset("mpi3d_real", origin="original",
                                   data_dir=tmp, factor_sizes=_SIZES)
      log = "".join(logs.output)
      self.assertIn("old file name", log)
      self.assertIn("disentanglement_dataset#5", log)
      self.assertIn(original.URLS["real"], log)
      np.testing.assert_array_equal(src.images([3]), ref[[3]])
      os.makedirs(os.path.join(tmp, "mpi3d_toy"))
      old = os.path.join(tmp, "mpi3d_toy",
                         "sim_toy_64x_ordered_without_heldout_factors.npz")
      _write(old)
      with self.assertLogs(level="WARNING") as logs:
        self.assertEqual(original.find(tmp, "toy"), old)
      self.assertIn("NeurIPS-2019 challenge", "".join(logs.output))
      # The current name wins, without a note.
      _write(os.path.join(tmp, "mpi3d_toy.npz"))
      self.assertEqual(original.find(tmp, "toy"),
                       os.path.join(tmp, "mpi3d_toy.npz"))
      self.assertIsNone(original.old_name_note(
          os.path.join(tmp, "mpi3d_real.npz"), "real"))

  def test_verify_md5(self):
    with tempfile.TemporaryDirectory() as tmp:
      path = os.path.join(tmp, "mpi3d_toy.npz")
      _write(path)
      with self.assertRaisesRegex(ValueError, "md5 .* lists 55889cb7.*"
                                  "Final_Dataset"):
        original.verify_md5(path, "toy")
      digest = original.md5(path)
      with mock.patch.dict(original.FINAL_DATASET_MD5, toy=digest):
        self.assertEqual(original.verify_md5(path, "toy"), digest)

  def test_errors(self):
    with tempfile.TemporaryDirectory() as tmp:
      with self.assertRaisesRegex(FileNotFoundError, "mpi3d_toy.npz"):
        datasets.get_dataset("mpi3d_toy", origin="original", data_dir=tmp)
      _write(os.path.join(tmp, "mpi3d_toy.npz"))
      with self.assertRaisesRegex(ValueError, "24 images.*known releases"):
        datasets.get_dataset("mpi3d_toy", origin="original", data_dir=tmp)
      np.savez(os.path.join(tmp, "mpi3d_toy.npz"), imgs=np.zeros(3))
      with self.assertRaisesRegex(ValueError, "no 'images'"):
        datasets.get_dataset("mpi3d_toy", origin="original", data_dir=tmp)


class BuilderTest(absltest.TestCase):

  def test_build_from_manual_dir_and_download(self):
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets import _builder_utils as bu
    from dtransfer.datasets.mpi3d.dtransfer_mpi3d import dtransfer_mpi3d_dataset_builder as b
    tmp = self.create_tempdir().full_path
    cfg = b.Mpi3dConfig(name="toy_tiny", variant="toy", factor_sizes=_SIZES)
    bu.prepare(b.Builder, cfg, tmp, manual_dir=_DUMMY)
    src = datasets.get_dataset("mpi3d_toy", origin="tfds", data_dir=tmp,
                               config=cfg)
    self.assertEqual(src.space.sizes, _SIZES)
    ref = datasets.get_dataset("mpi3d_toy", origin="original", data_dir=_DUMMY,
                               factor_sizes=_SIZES)
    np.testing.assert_array_equal(src.images([3, 17]), ref.images([3, 17]))
    rec = bu.data_source(b.Builder, cfg, tmp)[17]
    self.assertEqual([rec[f"label_{n}"] for n in original.FACTOR_NAMES],
                     src.space.factors(17).tolist())
    # An old name in the manual dir, checked against a (patched) md5.
    with tempfile.TemporaryDirectory() as manual:
      ref_imgs = _write(os.path.join(manual, "real.npz"))
      cfg3 = b.Mpi3dConfig(name="real_old", variant="real",
                           factor_sizes=_SIZES, verify_md5=True)
      with self.assertRaisesRegex(ValueError, "md5"):
        bu.prepare(b.Builder, cfg3, tmp, manual_dir=manual)
      digest = original.md5(os.path.join(manual, "real.npz"))
      with mock.patch.dict(original.FINAL_DATASET_MD5, real=digest), \
          self.assertLogs(level="WARNING") as logs:
        bu.prepare(b.Builder, cfg3, tmp, manual_dir=manual)
      self.assertIn("old file name", "".join(logs.output))
      old = datasets.get_dataset("mpi3d_real", origin="tfds", data_dir=tmp,
                                 config=cfg3)
      np.testing.assert_array_equal(old.images([5]), ref_imgs[[5]])
    # Not in the manual dir and offline: the error says where to put it.
    cfg2 = b.Mpi3dConfig(name="real_tiny", variant="real", factor_sizes=_SIZES)
    with mock.patch("tensorflow_datasets.download.DownloadManager.download",
                    autospec=True, side_effect=ConnectionError("offline")):
      with self.assertRaisesRegex(FileNotFoundError,
                                  f"offline.*{_DUMMY}/mpi3d_real.npz"):
        bu.prepare(b.Builder, cfg2, tmp, manual_dir=_DUMMY)


if __name__ == "__main__":
  absltest.main()
