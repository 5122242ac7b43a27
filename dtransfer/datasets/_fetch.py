"""Original files for a builder: the manual directory first, then the URL.

Why: several originals (MPI3D, Cars3D, SmallNORB) sit on personal or
changing hosts, so every builder accepts the file in the manual directory
(checked against the known size and sha256 when there is one) and only then
tries to download it; if both fail, the error names the URL, the download
error and the exact path where the file should be put.
"""

from __future__ import annotations

from dtransfer.datasets import _builder_utils as bu


def manual_or_download(dl_manager, filename: str, url: str | None, *,
                       size: int | None = None, sha256: str | None = None,
                       instructions: str = "", alternatives=()):
  """Path of ``filename`` (or one of ``alternatives``) from the manual
  directory, else from ``url`` through the download manager.

  Raises:
    FileNotFoundError: neither found nor downloadable (names where to put it).
    ValueError: the manual file has the wrong size or checksum.
  """
  mdir = bu.manual_dir(dl_manager)
  if mdir is not None:
    for name in (filename,) + tuple(alternatives):
      if (mdir / name).exists():
        if name == filename:
          bu.verify_file(mdir / name, size, sha256, url or "")
        return mdir / name
  if url is None:
    bu.manual_file(dl_manager, filename, instructions)  # raises
  try:
    return dl_manager.download(url)
  except Exception as e:  # offline, HTTP, checksum: the fix is the same
    try:
      bu.manual_file(dl_manager, filename, instructions)
    except FileNotFoundError as missing:
      raise FileNotFoundError(f"could not download {url} ({type(e).__name__}: "
                              f"{e}) and {missing}") from e
    raise
