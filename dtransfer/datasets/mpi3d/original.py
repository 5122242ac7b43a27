"""Reader for the MPI3D npz files (key ``images``, [N, 64, 64, 3] uint8).

Factor order (disentanglement_lib): object colour, object shape, object size
(2), camera height (3), background colour (3), horizontal axis (40), vertical
axis (40), C order. Two releases exist: the NeurIPS-2019 challenge files
"without held-out factors" that dlib uses (colour 4, shape 4: 460,800 images
for toy and realistic) and the final files (colour 6, shape 6: 1,036,800
images; dlib's sizes for real). The version is detected from the array
length. The npy member is memory-mapped when the npz is stored uncompressed
(np.savez), otherwise streamed in chunks.

Where the files are (sources in dtransfer_mpi3d/README.md): the maintainers'
README (rr-learning/disentanglement_dataset, commit a7a6729, 2025-04-17)
links ``mpi3d_{toy,realistic,real}.npz`` on Hugging Face. Earlier links used
other hosts and, for real in 2024, another file name (``real.npz``, whose
content was reported corrupt and replaced); those names are still accepted,
with a logged note. No sha256 is published for any variant; disent publishes
the md5 of the 2019 ``Final_Dataset`` files, checked on request
(``verify_md5``).
"""

from __future__ import annotations

import os
import struct
import zipfile

from absl import logging
import numpy as np

from dtransfer.data.factor_space import FactorSpace
from dtransfer.datasets import _archive
from dtransfer.datasets import _hashing
from dtransfer.datasets import _files

FACTOR_NAMES = ("object_color", "object_shape", "object_size", "camera_height",
                "background_color", "horizontal_axis", "vertical_axis")
_TAIL = (2, 3, 3, 40, 40)
VERSIONS = {460_800: (4, 4) + _TAIL, 1_036_800: (6, 6) + _TAIL}
IMAGE_SHAPE = (64, 64, 3)
VARIANTS = ("toy", "realistic", "real")
# The links in the maintainers' README since 2025-04-17 (commit a7a6729).
URLS = {v: ("https://huggingface.co/datasets/waleedgondal/mpi3d/resolve/main/"
            f"mpi3d_{v}.npz") for v in VARIANTS}
_GCS = "https://storage.googleapis.com/"
# Earlier official links, newest first (README history of
# rr-learning/disentanglement_dataset); kept so old downloads are recognised.
OLD_URLS = {
    "toy": (_GCS + "mpi3d_disentanglement_dataset/data/mpi3d_toy.npz",
            _GCS + "disentanglement_dataset/Final_Dataset/mpi3d_toy.npz",
            _GCS + "disentanglement_dataset/data_npz/"
            "sim_toy_64x_ordered_without_heldout_factors.npz"),
    "realistic": (_GCS + "mpi3d_disentanglement_dataset/data/"
                  "mpi3d_realistic.npz",
                  _GCS + "disentanglement_dataset/Final_Dataset/"
                  "mpi3d_realistic.npz",
                  _GCS + "disentanglement_dataset/data_npz/"
                  "sim_realistic_64x_ordered_without_heldout_factors.npz"),
    "real": (_GCS + "mpi3d_disentanglement_dataset/data/real.npz",
             _GCS + "disentanglement_dataset/Final_Dataset/mpi3d_real.npz"),
}
# Old file names that differ from mpi3d_<variant>.npz -> why they are noted.
OLD_NAMES = {
    "toy": {"sim_toy_64x_ordered_without_heldout_factors.npz": (
        "the NeurIPS-2019 challenge file (colour 4 x shape 4, 460,800 "
        "images) that disentanglement_lib's dlib_download_data fetched; "
        "its link is dead and the current release has 6 x 6")},
    "realistic": {"sim_realistic_64x_ordered_without_heldout_factors.npz": (
        "the NeurIPS-2019 challenge file (colour 4 x shape 4, 460,800 "
        "images); its link is dead and the current release has 6 x 6")},
    "real": {"real.npz": (
        "the name of the 2024-05 link storage.googleapis.com/"
        "mpi3d_disentanglement_dataset/data/real.npz, whose images were "
        "reported corrupt (rr-learning/disentanglement_dataset#5) and which "
        "the maintainers replaced on 2025-04-17 by mpi3d_real.npz on Hugging "
        "Face. Unless you know your copy predates the corruption, download "
        f"{URLS['real']} and use that")},
}
# md5 of the whole file, as published by disent (nmichlo/disent,
# disent/dataset/data/_groundtruth__mpi3d.py, "full" hash mode = md5 of all
# bytes) for the 2019 Final_Dataset files. Whether the Hugging Face files are
# byte-identical is not published; no sha256 is published for any variant.
FINAL_DATASET_MD5 = {"toy": "55889cb7c7dfc655d6e0277beee88868",
                     "realistic": "59a6225b88b635365f70c91b3e52f70f",
                     "real": "0f33f609918fb5c97996692f91129802"}


def filename(variant: str) -> str:
  return f"mpi3d_{variant}.npz"


def instructions(variant: str) -> str:
  return (f"Download {URLS[variant]} (the link in the maintainers' README, "
          "github.com/rr-learning/disentanglement_dataset) and place it, "
          f"named {filename(variant)}, in the manual directory (or data_dir).")


def candidates(variant: str) -> tuple[str, ...]:
  """Relative paths accepted for a variant, current name first."""
  name = filename(variant)
  old = tuple(OLD_NAMES.get(variant, {}))
  return ((name, f"mpi3d_{variant}/{name}")  # dlib's layout
          + old + tuple(f"mpi3d_{variant}/{n}" for n in old))


def old_name_note(path, variant: str) -> str | None:
  """Why a file under an old name deserves a note (None for current names)."""
  note = OLD_NAMES.get(variant, {}).get(os.path.basename(os.fspath(path)))
  if note is None:
    return None
  return (f"MPI3D-{variant}: reading {os.fspath(path)}, an old file name: "
          f"{note}. Current link: {URLS[variant]}.")


def note_old_name(path, variant: str) -> None:
  note = old_name_note(path, variant)
  if note:
    logging.warning(note)


def find(data_dir, variant: str) -> str:
  if variant not in VARIANTS:
    raise ValueError(f"unknown MPI3D variant {variant!r}; use {VARIANTS}.")
  path = _files.find_first(data_dir, candidates(variant), what=filename(variant),
                           instructions=instructions(variant), dataset="MPI3D")
  note_old_name(path, variant)
  return path


def md5(path) -> str:
  return _hashing.file_digest(path, "md5")


def verify_md5(path, variant: str) -> str:
  """Checks the file against disent's md5 of the 2019 Final_Dataset file.

  Optional (hashing reads the whole 3-12 GB file): no checksum is published
  for the current Hugging Face files, so a mismatch may also mean a later
  re-upload (real was re-published on 2025-04-17).

  Raises:
    ValueError: the md5 differs (names both digests and the source).
  """
  got, want = md5(path), FINAL_DATASET_MD5[variant]
  if got != want:
    raise ValueError(
        f"{path}: md5 {got}, but disent (nmichlo/disent, disent/dataset/data/"
        f"_groundtruth__mpi3d.py) lists {want} for the 2019 Final_Dataset "
        f"mpi3d_{variant}.npz. The file is corrupt, truncated or another "
        "release (the Hugging Face files have no published checksum; real "
        "was re-published in 2025). Download it again from "
        f"{URLS[variant]}, or build without verify_md5.")
  return got


def sizes_for(n: int, factor_sizes=None) -> tuple[int, ...]:
  """Factor sizes of a file holding n images.

  Raises:
    ValueError: n matches no known release (and no explicit sizes given).
  """
  if factor_sizes is not None:
    sizes = tuple(int(s) for s in factor_sizes)
    if len(sizes) != 7 or int(np.prod(sizes)) != n:
      raise ValueError(f"factor_sizes {sizes} (7 factors) do not multiply to "
                       f"the file's {n} images.")
    return sizes
  if n not in VERSIONS:
    raise ValueError(
        f"an MPI3D file has {n:,} images; the known releases have "
        f"{', '.join(f'{k:,} {v[:2]}' for k, v in VERSIONS.items())} "
        "(colour, shape). The file is truncated or not MPI3D; download it "
        "again.")
  return VERSIONS[n]


class NpzImages:
  """The ``images`` array of an npz, without loading it whole.

  Attributes:
    shape, dtype: of the array.
  """

  def __init__(self, path):
    self.path = os.fspath(path)
    if not os.path.exists(self.path):
      raise FileNotFoundError(f"missing {self.path}.")
    try:
      with zipfile.ZipFile(self.path) as z:
        names = _archive.safe_zip_names(self.path, z)
        if "images.npy" not in names:
          raise ValueError(f"{self.path} has no 'images' array (it holds "
                           f"{[n[:-4] for n in names]}); is it MPI3D?")
        self._info = z.getinfo("images.npy")
        with z.open(self._info) as f:
          version = np.lib.format.read_magic(f)
          read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
          self.shape, fortran, self.dtype = read(f)
          self._header = f.tell()
    except zipfile.BadZipFile as e:
      raise ValueError(f"{self.path} is not a valid npz ({e}); it is corrupt "
                       "or truncated. Download it again.") from e
    if fortran or self.dtype != np.uint8 or len(self.shape) != 4 or (
        tuple(self.shape[1:]) != IMAGE_SHAPE):
      raise ValueError(f"{self.path}: images are {self.shape} {self.dtype}; "
                       "MPI3D images are [N, 64, 64, 3] uint8 (C order).")
    self._mmap = None

  @property
  def stored(self) -> bool:
    return self._info.compress_type == zipfile.ZIP_STORED

  def _memmap(self) -> np.ndarray:
    if self._mmap is None:
      with open(self.path, "rb") as f:
        f.seek(self._info.header_offset)
        local = f.read(30)
        name_len, extra_len = struct.unpack("<HH", local[26:30])
      start = self._info.header_offset + 30 + name_len + extra_len + self._header
      self._mmap = np.memmap(self.path, np.uint8, "r", offset=start,
                             shape=tuple(self.shape))
    return self._mmap

  def iter_chunks(self, chunk: int = 4096):
    """Yields (start, images [n, 64, 64, 3]) in file order."""
    n, per = self.shape[0], int(np.prod(self.shape[1:]))
    if self.stored:
      mm = self._memmap()
      for s in range(0, n, chunk):
        yield s, np.asarray(mm[s:s + chunk])
      return
    with zipfile.ZipFile(self.path) as z, z.open(self._info) as f:
      f.read(self._header)
      for s in range(0, n, chunk):
        m = min(chunk, n - s)
        buf = f.read(m * per)
        if len(buf) != m * per:
          raise ValueError(f"{self.path} ends early: it is truncated. "
                           "Download it again.")
        yield s, np.frombuffer(buf, np.uint8).reshape((m,) + IMAGE_SHAPE)

  def array(self) -> np.ndarray:
    """Random-access array: memory-mapped if stored, else loaded in RAM."""
    if self.stored:
      return self._memmap()
    out = np.empty(tuple(self.shape), np.uint8)
    for s, imgs in self.iter_chunks():
      out[s:s + len(imgs)] = imgs
    return out

  def __getstate__(self):
    state = dict(self.__dict__)
    state["_mmap"] = None
    return state


class MPI3DSource:
  """Random-access ImageSource over an MPI3D npz (stored in factor order)."""

  def __init__(self, path, variant: str = "toy", factor_sizes=None):
    self.name = f"mpi3d_{variant}"
    self.file = NpzImages(path)
    self.space = FactorSpace(FACTOR_NAMES,
                             sizes_for(self.file.shape[0], factor_sizes))
    self.image_shape = IMAGE_SHAPE
    self._array = None

  def images(self, index, rng=None) -> np.ndarray:
    index = np.asarray(index, np.int64).reshape(-1)
    self.space.factors(index)  # range check
    if self._array is None:
      self._array = self.file.array()
    return np.asarray(self._array[index])

  def __getstate__(self):
    state = dict(self.__dict__)
    state["_array"] = None
    return state
