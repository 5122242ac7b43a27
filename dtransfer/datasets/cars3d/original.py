"""Reader for Cars3D: ``car_*_mesh.mat`` files of nips2015-analogy-data.

Each .mat holds ``im`` [128, 128, 3, 24, 4] (azimuth 24, elevation 4 views of
one car). Factors as in disentanglement_lib: elevation (4), azimuth (24),
object (183), C order. Object ids follow the archive's ``data/cars/list.txt``
(the ordered car names, "car_***_mesh" without ".mat"), the order disent
reads; without a list.txt they follow the sorted file names (dlib used the
unsorted directory listing, so its ids depended on the filesystem). Views are
shrunk 128 -> 64 with Pillow's thumbnail (LANCZOS; dlib's ANTIALIAS, which
Pillow 10 removed).
"""

from __future__ import annotations

import functools
import os
import re

from absl import logging
import numpy as np

from dtransfer.data.factor_space import FactorSpace
from dtransfer.datasets import _archive
from dtransfer.datasets import _files

FACTOR_NAMES = ("elevation", "azimuth", "object")
NUM_OBJECTS = 183
IMAGE_SHAPE = (64, 64, 3)
ARCHIVE = "nips2015-analogy-data.tar.gz"
URL = f"http://www.scottreed.info/files/{ARCHIVE}"
INSTRUCTIONS = (
    f"Download {URL} and either place it, named {ARCHIVE}, in the manual "
    "directory or extract it there (tar xzf), so that <dir>/data/cars/"
    "car_001_mesh.mat exists.")
_NAME = re.compile(r"^car_.*\.mat$")
LIST = "list.txt"  # data/cars/list.txt: the ordered car names (object ids)


def find_folder(data_dir) -> str:
  """The folder holding car_*_mesh.mat (data/cars, cars, or data_dir)."""
  return _files.find_first(
      data_dir, (os.path.join("data", "cars"), "cars", ""), what="car_*_mesh.mat files",
      instructions=INSTRUCTIONS, dataset="Cars3D",
      accept=lambda c: os.path.isdir(c) and any(_NAME.match(n) for n in os.listdir(c)))


def extract_cars(archive, dest) -> str:
  """Extracts data/cars/ of the archive into dest (TFDS's extractor needs
  TensorFlow); returns dest. Already extracted files are kept."""
  import tarfile  # pylint: disable=g-import-not-at-top
  archive = os.fspath(archive)
  try:
    with tarfile.open(archive, "r:*") as t:
      # Every member is checked (absolute, '..', links, special files) with an
      # error naming it; only car_*.mat and list.txt under data/cars/ are extracted.
      members = [m for m in _archive.safe_tar_members(archive, t)
                 if m.isfile() and _is_car_member(_archive.normalized(m.name))]
      if not members:
        raise ValueError(f"{archive} holds no data/cars/ files; is it "
                         f"{ARCHIVE} from {URL}?")
      todo = [m for m in members
              if not os.path.exists(os.path.join(dest, m.name))]
      t.extractall(dest, members=todo, filter="data")
  except tarfile.TarError as e:
    raise ValueError(f"{archive} is not a readable tar.gz ({e}); it is "
                     f"corrupt or truncated. Download {URL} again.") from e
  return dest


def _is_car_member(name: str) -> bool:
  folder, base = os.path.split(name)
  return folder == "data/cars" and (bool(_NAME.match(base)) or base == LIST)


def read_list(path) -> list[str]:
  """The .mat file names listed in list.txt, in order (".mat" added)."""
  with open(path) as f:
    names = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
  names = [n if n.endswith(".mat") else n + ".mat" for n in names]
  dup = sorted({n for n in names if names.count(n) > 1})
  if dup:
    raise ValueError(f"{path} lists {dup} more than once; extract it again "
                     f"from {URL}.")
  return names


def mat_files(folder) -> list[str]:
  """The .mat files in object-id order: list.txt's order if present, else
  the sorted file names.

  Raises:
    FileNotFoundError: list.txt names a file that is missing.
  """
  present = sorted(n for n in os.listdir(folder) if _NAME.match(n))
  path = os.path.join(folder, LIST)
  if not os.path.exists(path):
    logging.info("Cars3D: no %s in %s; object ids follow the sorted file "
                 "names.", LIST, folder)
    return present
  names = read_list(path)
  missing = [n for n in names if not os.path.exists(os.path.join(folder, n))]
  if missing:
    raise FileNotFoundError(
        f"{path} lists {len(missing)} files that are missing in {folder} "
        f"(e.g. {missing[:3]}): the extraction is incomplete. {INSTRUCTIONS}")
  extra = sorted(set(present) - set(names))
  if extra:
    logging.warning("Cars3D: %d .mat files in %s are not in %s and are left "
                    "out (e.g. %s).", len(extra), folder, LIST, extra[:3])
  return names


def load_car(path) -> np.ndarray:
  """One car's views [24 azimuth, 4 elevation, 64, 64, 3] uint8."""
  import scipy.io  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    im = scipy.io.loadmat(path)["im"]
  except Exception as e:  # corrupt or not a MATLAB file
    raise ValueError(f"cannot read {path} ({e}); extract it again from "
                     f"{URL}.") from e
  if im.ndim != 5 or im.shape[:3] != (128, 128, 3):
    raise ValueError(f"{path}: 'im' is {im.shape}, Cars3D meshes are "
                     "[128, 128, 3, azimuth, elevation].")
  views = np.einsum("abcde->deabc", im)  # [azimuth, elevation, H, W, C]
  out = np.empty(views.shape[:2] + IMAGE_SHAPE, np.uint8)
  for a in range(views.shape[0]):
    for e in range(views.shape[1]):
      pic = Image.fromarray(np.ascontiguousarray(views[a, e]).astype(np.uint8))
      pic.thumbnail((64, 64), Image.LANCZOS)
      out[a, e] = np.asarray(pic)
  return out


class Cars3DSource:
  """Random-access ImageSource over the car_*_mesh.mat files.

  Attributes:
    files: the .mat file of each object id.
    object_order: "list.txt" or "sorted" (where ``files``' order comes from).

  A car's 96 views are decoded together on first use and cached (all 183
  cars: about 216 MB).
  """

  def __init__(self, folder):
    self.folder = os.fspath(folder)
    self.name = "cars3d"
    self.files = mat_files(self.folder)
    self.object_order = (
        LIST if os.path.exists(os.path.join(self.folder, LIST)) else "sorted")
    if not self.files:
      raise FileNotFoundError(f"no car_*_mesh.mat in {self.folder}. "
                              f"{INSTRUCTIONS}")
    import scipy.io  # pylint: disable=g-import-not-at-top
    shape = scipy.io.whosmat(os.path.join(self.folder, self.files[0]))
    dims = dict((n, s) for n, s, _ in shape).get("im")
    if dims is None or len(dims) != 5:
      raise ValueError(f"{self.files[0]} has no 5-d 'im' array; is this the "
                       f"cars folder of {ARCHIVE}?")
    self.space = FactorSpace(FACTOR_NAMES, (dims[4], dims[3], len(self.files)))
    self.image_shape = IMAGE_SHAPE
    self._car = functools.lru_cache(maxsize=None)(self._load)

  def _load(self, obj: int) -> np.ndarray:
    views = load_car(os.path.join(self.folder, self.files[obj]))
    expect = (self.space.sizes[1], self.space.sizes[0])
    if views.shape[:2] != expect:
      raise ValueError(f"{self.files[obj]} has {views.shape[:2]} views, the "
                       f"others {expect}.")
    return views

  def images(self, index, rng=None) -> np.ndarray:
    f = self.space.factors(np.asarray(index, np.int64).reshape(-1))
    out = np.empty((len(f),) + IMAGE_SHAPE, np.uint8)
    for i, (e, a, o) in enumerate(f):
      out[i] = self._car(int(o))[a, e]
    return out

  def __getstate__(self):
    state = dict(self.__dict__)
    state["_car"] = None
    return state

  def __setstate__(self, state):
    self.__dict__.update(state)
    self._car = functools.lru_cache(maxsize=None)(self._load)
