"""One process per work directory: an exclusive lock file naming its holder.

Two runs in one work directory delete each other's checkpoints and duplicate
each other's metrics, so a run holds ``<workdir>/.lock`` (an ``flock`` on an
open file holding the holder's PID and host) for as long as it works there; a
second run is refused at once with the holder's PID and host. The kernel
drops an ``flock`` when its process dies, however it dies (SIGKILL included),
so a stale lock of a dead process is simply taken over; the file it left
behind only tells whose it was. Only process 0 of a multi-host run locks.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time

LOCK_NAME = ".lock"
_HELD: dict[str, "WorkdirLock"] = {}


class WorkdirLockedError(RuntimeError):
  """Another live process works in this directory."""


def _holder(path: str) -> dict:
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return {}


class WorkdirLock:
  """``with WorkdirLock(workdir):`` holds the work directory for this process.

  Re-entrant within one process (the main job's stages lock sub-directories
  and may lock the same one twice).
  """

  def __init__(self, workdir: str):
    self.workdir = os.path.abspath(workdir)
    self.path = os.path.join(self.workdir, LOCK_NAME)
    self._fd = None
    self._depth = 0
    self.took_over: dict | None = None

  def acquire(self) -> "WorkdirLock":
    jax = sys.modules.get("jax")  # not imported: a single process (a helper script)
    if jax is not None and jax.process_index() != 0:
      return self
    held = _HELD.get(self.path)
    if held is not None and held is not self:
      held._depth += 1  # pylint: disable=protected-access
      self._fd, self._depth = None, -1  # marks "borrowed"
      return self
    if self._fd is not None:
      self._depth += 1
      return self
    os.makedirs(self.workdir, exist_ok=True)
    while True:
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        os.close(fd)
        h = _holder(self.path)
        raise WorkdirLockedError(
            f"work directory {self.workdir} is in use by process {h.get('pid', '?')} on "
            f"host {h.get('host', '?')} (since {h.get('started', '?')}); wait for it to "
            "finish or stop it, or use another --workdir.") from None
      # The file may have been unlinked by a releasing holder between our open
      # and our flock: then we hold a lock on a dead inode; try again.
      try:
        same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
      except FileNotFoundError:
        same = False
      if same:
        break
      os.close(fd)
    previous = _holder(self.path)
    if previous.get("pid"):
      self.took_over = previous
    record = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode() + b"\n", 0)
    self._fd, self._depth = fd, 1
    _HELD[self.path] = self
    return self

  def release(self) -> None:
    if self._depth == -1:  # borrowed from a lock this process already holds
      held = _HELD.get(self.path)
      if held is not None:
        held.release()
      self._depth = 0
      return
    if self._fd is None:
      return
    self._depth -= 1
    if self._depth > 0:
      return
    _HELD.pop(self.path, None)
    try:
      os.unlink(self.path)  # while still holding it: the next one makes a new file
    except FileNotFoundError:
      pass
    fcntl.flock(self._fd, fcntl.LOCK_UN)
    os.close(self._fd)
    self._fd = None

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *exc):
    self.release()
