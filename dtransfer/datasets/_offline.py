"""Option checks shared by the datasets rendered or shipped offline (digits, rendered_digits)."""

from __future__ import annotations


def check_options(name: str, origin: str, size, channels, *, origin_fix: str,
                  min_size_note: str = "") -> tuple[int, int]:
  """(size, channels) as ints, or a ValueError naming the option and the fix."""
  if origin not in ("procedural", "original"):
    raise ValueError(f"unknown origin {origin!r} for {name}: {origin_fix}")
  if int(channels) not in (1, 3):
    raise ValueError(f"{name}: channels must be 1 or 3, got {channels}.")
  if int(size) < 8:
    raise ValueError(f"{name}: size must be at least 8{min_size_note}, got {size}.")
  return int(size), int(channels)
