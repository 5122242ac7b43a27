"""``launch.build_datasets --list``: description, size and where the files come from."""

from dtransfer.datasets import builders


def test_describe_says_what_each_dataset_is_and_which_files_it_needs():
  white = builders.describe("dsprites/white")
  assert white["image_shape"] == (64, 64, 1) and white["grid_size"] == 737_280
  assert "rendered procedurally" in white["description"]
  assert not white["needs_manual_files"] and not white["downloads"]
  assert white["files"].startswith("none")
  shapes = builders.describe("shapes3d/original")
  assert shapes["downloads"] and "3dshapes.h5" in shapes["files"]
  isaac = builders.describe("isaac3d/res128")
  assert isaac["needs_manual_files"] and isaac["image_shape"] == (128, 128, 3)
  assert "--manual_dir" in isaac["files"] and "README.md" in isaac["files"]
  # one file per MPI3D variant
  assert "mpi3d_real.npz" in builders.describe("mpi3d/real")["files"]
  assert builders.describe("real_objects")["files"].startswith("none")


def test_listing_has_every_name_with_three_lines_of_detail():
  text = builders.listing()
  lines = text.splitlines()
  heads = [l for l in lines if not l.startswith(" ")]
  assert heads == builders.names()
  assert len(lines) == 4 * len(heads)
  assert "at most 53,652 images (an incomplete grid)" in text
