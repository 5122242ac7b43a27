"""Archive members checked before anything is read or extracted (tar and zip alike).

An original archive comes from the internet, so every member is checked, not
only the ones a reader wants: a name may not be absolute, may not climb out
with ``..``, and may not be a link, a device or a FIFO. A hostile member is an
error naming the archive, the member and why, whichever format it is in.
Members with safe but unexpected names are skipped by the readers (real
archives carry extra files, e.g. COIL-100's conversion script).
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import zipfile


class UnsafeArchiveError(ValueError):
  """An archive member that must not be read or extracted."""


def _name_problem(name: str) -> str | None:
  if not name:
    return "it has an empty name"
  if "\x00" in name:
    return "its name holds a NUL byte"
  norm = name.replace("\\", "/")
  if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
    return "its path is absolute"
  if ".." in norm.split("/"):
    return "its path climbs out of the extraction folder with '..'"
  return None


def _fail(archive, name, why):
  raise UnsafeArchiveError(
      f"{os.fspath(archive)}: member {name!r} is refused: {why}. The archive is not "
      "the original (or was tampered with); delete it and download it again.")


def check_tar(archive, members) -> None:
  """Raises UnsafeArchiveError for the first unsafe member of a tarfile."""
  for m in members:
    why = _name_problem(m.name)
    if why is None and (m.issym() or m.islnk()):
      why = f"it is a {'symbolic' if m.issym() else 'hard'} link (to {m.linkname!r})"
    if why is None and not (m.isfile() or m.isdir()):
      why = "it is a device, FIFO or other special file"
    if why:
      _fail(archive, m.name, why)


def check_zip(archive, infos) -> None:
  """Raises UnsafeArchiveError for the first unsafe member of a zipfile."""
  for info in infos:
    why = _name_problem(info.filename)
    mode = info.external_attr >> 16
    if why is None and stat.S_ISLNK(mode):
      why = "it is a symbolic link"
    kind = stat.S_IFMT(mode)  # 0 when the writer stored no file type (plain files)
    if why is None and kind and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
      why = "it is a device, FIFO or other special file"
    if why:
      _fail(archive, info.filename, why)


def normalized(name: str) -> str:
  """A checked member name without a leading './'."""
  return posixpath.normpath(name.replace("\\", "/")) if name else name


def safe_tar_members(archive, t: tarfile.TarFile) -> list[tarfile.TarInfo]:
  members = t.getmembers()
  check_tar(archive, members)
  return members


def safe_zip_names(archive, z: zipfile.ZipFile) -> list[str]:
  infos = z.infolist()
  check_zip(archive, infos)
  return [i.filename for i in infos]
