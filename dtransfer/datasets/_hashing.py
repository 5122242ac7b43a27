"""File digests for checking original downloads (no TFDS import: readers use it too)."""

from __future__ import annotations

import hashlib


def file_digest(path, algorithm: str) -> str:
  """Hex digest of a file's bytes, read in chunks (files reach several GB)."""
  with open(path, "rb") as f:
    return hashlib.file_digest(f, algorithm).hexdigest()
