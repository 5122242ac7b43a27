"""Tests for dtransfer.datasets.builders and launch/build_datasets."""

import os
import subprocess
import sys
import tempfile
from unittest import mock

from absl.testing import absltest

from dtransfer.datasets import builders

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BuildersTest(absltest.TestCase):

  def test_names_and_parse(self):
    names = builders.names()
    for n in ("shapes3d/procedural", "rgbd_objects/depth", "isaac3d/res64",
              "mpi3d/real", "cars3d", "smallnorb", "dsprites/white",
              "coil100/binary"):
      self.assertIn(n, names)
    self.assertEqual(builders.parse("mpi3d/toy"), builders.Spec("mpi3d", "toy"))
    with self.assertRaisesRegex(KeyError, "unknown dataset builder 'shapes'"):
      builders.parse("shapes/procedural")
    with self.assertRaisesRegex(KeyError, "unknown config 'nope'.*procedural"):
      builders.parse("shapes3d/nope")

  def test_reduced_procedural_build_is_resumable(self):
    # pylint: disable=g-import-not-at-top
    from dtransfer.datasets.shapes3d.dtransfer_shapes3d import dtransfer_shapes3d_dataset_builder as s3d
    cfg = s3d.Shapes3dConfig(name="tiny", origin="procedural",
                             grid=(1, 1, 1, 1, 2, 2))
    with tempfile.TemporaryDirectory() as tmp:
      logs = []
      status = builders.build_all([("shapes3d", cfg)], tmp, progress=True,
                                  log=logs.append)
      self.assertEqual(status, {"shapes3d/tiny": "prepared"})
      self.assertTrue(builders.is_prepared(("shapes3d", cfg), tmp))
      with mock.patch.object(builders, "prepare",
                             side_effect=AssertionError("rebuilt")):
        status = builders.build_all([("shapes3d", cfg)], tmp, progress=False,
                                    log=logs.append)
      self.assertEqual(status, {"shapes3d/tiny": "skipped"})
      self.assertIn("already prepared", logs[-1])

  def test_missing_manual_file_is_a_clear_error(self):
    with tempfile.TemporaryDirectory() as tmp:
      manual = os.path.join(tmp, "manual")
      os.makedirs(manual)
      with self.assertRaisesRegex(FileNotFoundError,
                                  f"{manual}/Isaac3D_down128/labels.npy"):
        builders.build_all(["isaac3d/res64"], tmp, manual_dir=manual,
                           progress=False)
      self.assertFalse(builders.is_prepared("isaac3d/res64", tmp))

  def test_launcher_lists(self):
    out = subprocess.run([sys.executable, "-m", "launch.build_datasets",
                          "--list"], cwd=_ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=_ROOT), check=True)
    self.assertIn("shapes3d/procedural", out.stdout.split())


if __name__ == "__main__":
  absltest.main()
