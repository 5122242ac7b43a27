"""TensorBoard event files without TensorFlow: scalars and PNG images.

``tensorboard --logdir runs/`` reads what ``EventWriter`` writes beside
``metrics.jsonl``. An event file is a sequence of records (TFRecord framing:
length, masked CRC-32C of the length, the bytes, masked CRC-32C of the bytes),
each an ``Event`` protocol buffer; the few fields used here are encoded by
hand so that no TensorFlow, tensorboardX or protobuf is needed:

  Event   {1: wall_time double, 2: step int64, 3: file_version string, 5: summary}
  Summary {1: repeated Value}
  Value   {1: tag string, 2: simple_value float, 4: image}
  Image   {1: height, 2: width, 3: colorspace, 4: encoded_image_string (PNG)}

The file is opened lazily (a run with nothing to log leaves none) and each
event is appended and flushed, so a killed run keeps what it logged.
"""

from __future__ import annotations

import io
import os
import socket
import struct
import time

import numpy as np

# --------------------------------------------------------------------------- CRC-32C


def _crc32c_table():
  poly, table = 0x82F63B78, []
  for i in range(256):
    c = i
    for _ in range(8):
      c = (c >> 1) ^ poly if c & 1 else c >> 1
    table.append(c)
  return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
  """CRC-32C (Castagnoli) of ``data``; uses google_crc32c's C code when installed."""
  try:
    import google_crc32c  # pylint: disable=g-import-not-at-top
    return int(google_crc32c.value(bytes(data)))
  except ImportError:
    pass
  crc, table = 0xFFFFFFFF, _TABLE
  for b in bytes(data):
    crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
  return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
  crc = crc32c(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
  """One TFRecord: the framing TensorBoard checks before it parses an event."""
  length = struct.pack("<Q", len(data))
  return (length + struct.pack("<I", masked_crc(length)) + data
          + struct.pack("<I", masked_crc(data)))


# --------------------------------------------------------------- protobuf encoding


def _varint(n: int) -> bytes:
  n &= (1 << 64) - 1  # negative int64 as two's complement, as protobuf does
  out = bytearray()
  while True:
    b, n = n & 0x7F, n >> 7
    out.append(b | (0x80 if n else 0))
    if not n:
      return bytes(out)


def _key(field: int, wire: int) -> bytes:
  return _varint(field << 3 | wire)


def _bytes_field(field: int, data: bytes) -> bytes:
  return _key(field, 2) + _varint(len(data)) + data


def _int_field(field: int, n: int) -> bytes:
  return _key(field, 0) + _varint(int(n))


def _event(step: int, wall_time: float, summary_values: list[bytes] = (),
           file_version: str | None = None) -> bytes:
  out = _key(1, 1) + struct.pack("<d", wall_time) + _int_field(2, step)
  if file_version is not None:
    out += _bytes_field(3, file_version.encode())
  if summary_values:
    out += _bytes_field(5, b"".join(_bytes_field(1, v) for v in summary_values))
  return out


def scalar_value(tag: str, value: float) -> bytes:
  return _bytes_field(1, tag.encode()) + _key(2, 5) + struct.pack("<f", float(value))


def png_bytes(image: np.ndarray) -> bytes:
  from PIL import Image  # pylint: disable=g-import-not-at-top
  buf = io.BytesIO()
  Image.fromarray(image).save(buf, format="PNG")
  return buf.getvalue()


def image_value(tag: str, image: np.ndarray) -> bytes:
  """A Summary.Value holding ``image`` (uint8 [H, W] or [H, W, C], C in 1, 3, 4) as PNG."""
  image = np.asarray(image)
  if image.dtype != np.uint8:
    raise ValueError(f"image summary '{tag}': expected uint8 pixels, got {image.dtype}; "
                     "convert with (np.clip(x, 0, 1) * 255).astype(np.uint8).")
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)):
    raise ValueError(f"image summary '{tag}': expected [H, W] or [H, W, 3|4] pixels, "
                     f"got shape {image.shape}.")
  h, w = image.shape[:2]
  channels = 1 if image.ndim == 2 else image.shape[-1]
  img = (_int_field(1, h) + _int_field(2, w) + _int_field(3, channels)
         + _bytes_field(4, png_bytes(image)))
  return _bytes_field(1, tag.encode()) + _bytes_field(4, img)


# ------------------------------------------------------------------------ the writer


class EventWriter:
  """Appends scalar and image events to one ``events.out.tfevents.*`` file in ``logdir``."""

  def __init__(self, logdir: str, enabled: bool = True):
    self.logdir, self.enabled = logdir, enabled
    self.path = None

  def _append(self, data: bytes) -> None:
    if self.path is None:
      os.makedirs(self.logdir, exist_ok=True)
      name = (f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}"
              f".{os.getpid()}.{id(self) % 10_000}")
      self.path = os.path.join(self.logdir, name)
      with open(self.path, "ab") as f:
        f.write(record(_event(0, time.time(), file_version="brain.Event:2")))
    with open(self.path, "ab") as f:
      f.write(record(data))

  def scalars(self, step: int, values: dict, prefix: str = "") -> None:
    """One event with every finite number of ``values`` as ``<prefix><name>``."""
    if not self.enabled:
      return
    items = []
    for k, v in values.items():
      try:
        v = float(v)
      except (TypeError, ValueError):
        continue
      if np.isfinite(v) and not isinstance(values[k], bool):
        items.append(scalar_value(f"{prefix}{k}", v))
    if items:
      self._append(_event(int(step), time.time(), items))

  def images(self, step: int, images: dict) -> None:
    """One event with each ``{tag: uint8 image}``."""
    if self.enabled and images:
      self._append(_event(int(step), time.time(),
                          [image_value(t, im) for t, im in images.items()]))
