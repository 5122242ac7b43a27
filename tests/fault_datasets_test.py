"""Fault injection on datasets: hostile archive members (tar and zip alike),
corrupt prepared files, builds interrupted by SIGKILL."""

import io
import os
import shutil
import stat
import tarfile
import zipfile

import numpy as np
import pytest

from dtransfer.datasets import _archive
from dtransfer.datasets.cars3d import original as cars
from dtransfer.datasets.coil100 import original as coil

_COIL_ZIP = os.path.join(os.path.dirname(coil.__file__), "dtransfer_coil100", "dummy_data",
                         "coil-100.zip")
_CARS = os.path.join(os.path.dirname(cars.__file__), "dtransfer_cars3d", "dummy_data")

# (member name, kind, what the error must say)
HOSTILE = [
    ("/etc/obj1__0.png", "file", "absolute"),
    ("../obj1__0.png", "file", r"climbs out"),
    ("coil-100/../../obj1__0.png", "file", r"climbs out"),
    ("coil-100/obj1__5.png", "symlink", "symbolic link"),
]
TAR_ONLY = [("data/cars/car_999_mesh.mat", "hardlink", "hard link"),
            ("data/cars/car_998_mesh.mat", "fifo", "special file")]


def _hostile_zip(path, name, kind):
  with zipfile.ZipFile(_COIL_ZIP) as src, zipfile.ZipFile(path, "w") as dst:
    for info in src.infolist():
      dst.writestr(info, src.read(info.filename))
    info = zipfile.ZipInfo(name)
    if kind == "symlink":
      info.external_attr = (stat.S_IFLNK | 0o777) << 16
      dst.writestr(info, "/etc/passwd")
    else:
      dst.writestr(info, src.read(src.namelist()[-1]))


def _hostile_tar(path, name, kind):
  with tarfile.open(path, "w:gz") as t:
    t.add(os.path.join(_CARS, "data"), arcname="data")
    info = tarfile.TarInfo(name.replace("coil-100", "data/cars").replace(".png", ".mat"))
    data = b""
    if kind == "symlink":
      info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    elif kind == "hardlink":
      info.type, info.linkname = tarfile.LNKTYPE, "data/cars/list.txt"
    elif kind == "fifo":
      info.type = tarfile.FIFOTYPE
    else:
      data = b"x" * 10
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("name,kind,why", HOSTILE)
def test_hostile_zip_member_is_refused_by_name(tmp_path, name, kind, why):
  path = tmp_path / "coil-100.zip"
  _hostile_zip(path, name, kind)
  with pytest.raises(_archive.UnsafeArchiveError,
                     match=rf"coil-100.zip: member '{__import__('re').escape(name)}' is refused: .*{why}"):
    coil.ZipCoil100Source(path)


@pytest.mark.parametrize("name,kind,why", HOSTILE + TAR_ONLY)
def test_hostile_tar_member_is_refused_by_name_and_nothing_extracted(tmp_path, name, kind, why):
  path = tmp_path / cars.ARCHIVE
  _hostile_tar(path, name, kind)
  dest = tmp_path / "out"
  with pytest.raises(_archive.UnsafeArchiveError, match=rf"member .* is refused: .*{why}"):
    cars.extract_cars(path, str(dest))
  assert not dest.exists() or not any(dest.rglob("*.mat"))
  assert not (tmp_path / "obj1__0.mat").exists()


def test_safe_extra_members_are_skipped(tmp_path):
  path = tmp_path / "coil-100.zip"
  with zipfile.ZipFile(_COIL_ZIP) as src, zipfile.ZipFile(path, "w") as dst:
    for info in src.infolist():
      dst.writestr(info, src.read(info.filename))
    dst.writestr("readme.txt", b"COIL-100\n")
    dst.writestr("__MACOSX/coil-100/._obj1__0.png", b"junk")
  ref = coil.ZipCoil100Source(_COIL_ZIP)
  got = coil.ZipCoil100Source(path)
  assert got.space.sizes == ref.space.sizes
  np.testing.assert_array_equal(got.images([0, 5]), ref.images([0, 5]))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
  from dtransfer.datasets import dsprites  # pylint: disable=g-import-not-at-top
  data_dir = tmp_path_factory.mktemp("tfds")
  b = dsprites.build("white", str(data_dir), factor_sizes=(3, 2, 4, 2, 4))
  return data_dir, b


def _records(b):
  return [os.path.join(b.data_dir, f) for f in sorted(os.listdir(b.data_dir))
          if "array_record" in f]


def _flip(d, at):
  d = bytearray(d)
  d[at] ^= 0x10
  return bytes(d)


@pytest.mark.slow
def test_corrupt_prepared_file_names_the_file_and_the_rebuild(prepared, tmp_path):
  from dtransfer.datasets import _builder_utils as bu  # pylint: disable=g-import-not-at-top
  from dtransfer.datasets.dsprites import tfds_io  # pylint: disable=g-import-not-at-top
  data_dir, _ = prepared
  copy = tmp_path / "tfds"
  shutil.copytree(data_dir, copy)
  sizes = (3, 2, 4, 2, 4)
  b = tfds_io.builder("white", str(copy), sizes)
  path = _records(b)[0]
  pristine = open(path, "rb").read()
  ref = tfds_io.open_source("white", str(copy), sizes).images(np.arange(192))
  damages = [("4 KB overwrite in the middle",
              lambda d: d[:len(d) // 2] + os.urandom(4096) + d[len(d) // 2 + 4096:]),
             ("truncated to half", lambda d: d[:len(d) // 2]),
             ("zeroed 2 KB tail (block padding)", lambda d: d[:-2048] + bytes(2048))]
  damages += [(f"bit flip at byte {at}", lambda d, at=at: _flip(d, at))
               for at in np.linspace(0, len(pristine) - 1, 12).astype(int)]
  outcomes = {}
  for name, damage in damages:
    open(path, "wb").write(damage(pristine))
    try:
      images = tfds_io.open_source("white", str(copy), sizes).images(np.arange(192))
      outcomes[name] = "harmless" if np.array_equal(images, ref) else "SILENTLY CHANGED"
    except bu.PreparedDataError as e:
      assert path in str(e) and "launch.build_datasets --datasets=dsprites/" in str(e)
      outcomes[name] = "named"
    except Exception as e:  # pylint: disable=broad-except
      outcomes[name] = f"unclear {type(e).__name__}: {e}"
  open(path, "wb").write(pristine)
  assert set(outcomes.values()) <= {"named", "harmless"}, outcomes
  assert list(outcomes.values()).count("named") >= 2, outcomes
  print("OUTCOMES", outcomes)


def test_stale_incomplete_build_is_removed_on_the_next_build(tmp_path, monkeypatch):
  from dtransfer.datasets import _builder_utils as bu  # pylint: disable=g-import-not-at-top
  from dtransfer.datasets.dsprites import tfds_io  # pylint: disable=g-import-not-at-top
  b = tfds_io.builder("white", str(tmp_path), (3, 2, 4, 2, 4))
  config_dir = os.path.dirname(os.fspath(b.data_dir).rstrip("/"))
  stale = os.path.join(config_dir, "incomplete.ABC123_1.0.0")
  os.makedirs(os.path.join(stale, "x"))
  calls = []
  monkeypatch.setattr(type(b), "download_and_prepare",
                      lambda self, **kw: calls.append(os.listdir(config_dir)))
  bu.prepare(type(b), b.builder_config, str(tmp_path))
  assert calls and "incomplete.ABC123_1.0.0" not in calls[0]
  assert ".lock" in calls[0]  # the build held the config's lock
  assert not os.path.exists(stale) and not os.path.exists(os.path.join(config_dir, ".lock"))
