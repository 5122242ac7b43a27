"""The one "find the original among candidate paths" helper every reader uses."""

import os

import pytest

from dtransfer import datasets
from dtransfer.datasets import _files


def test_find_first_takes_the_first_accepted_path(tmp_path):
  (tmp_path / "b").mkdir()
  (tmp_path / "b" / "x.npz").write_bytes(b"")
  (tmp_path / "x.npz").mkdir()            # exists, but is not a file
  got = _files.find_first(tmp_path, ("x.npz", os.path.join("b", "x.npz")), what="x.npz",
                          instructions="get it", accept=os.path.isfile)
  assert got == os.path.join(tmp_path, "b", "x.npz")
  assert _files.find_first(tmp_path, ("", "b"), what="a folder", instructions="") == str(tmp_path)


def test_find_first_errors_name_every_path_and_the_fix(tmp_path):
  with pytest.raises(ValueError, match="Toy needs data_dir.*get it at URL"):
    _files.find_first(None, ("x",), what="x", instructions="get it at URL", dataset="Toy")
  with pytest.raises(FileNotFoundError) as e:
    _files.find_first(tmp_path, ("x", os.path.join("sub", "x")), what="x",
                      instructions="get it at URL")
  assert os.path.join(tmp_path, "sub", "x") in str(e.value) and "get it at URL" in str(e.value)


@pytest.mark.parametrize("name", ["dsprites", "shapes3d", "mpi3d_toy", "isaac3d", "cars3d",
                                  "rgbd_objects", "coil100_augmented"])
def test_every_reader_says_where_it_looked(name, tmp_path):
  with pytest.raises(FileNotFoundError, match="looked for"):
    datasets.get_dataset(name, origin="original", data_dir=tmp_path)
  with pytest.raises(ValueError, match="needs data_dir"):
    datasets.get_dataset(name, origin="original", data_dir=None)
