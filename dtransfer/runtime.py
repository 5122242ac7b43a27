"""Process settings that make XLA's CPU backend fast: the host allocator.

XLA allocates each executable's temporary buffers with ``malloc``. glibc
serves large blocks with ``mmap`` and unmaps them on ``free``, and its
per-thread arenas unmap their heaps, so every train step of the dlib VAE
(64 pairs of 64x64x1) touched ~200 MB of fresh pages: 51,000 page faults per
step, about a third of its time on a 2-core CPU. ``tune_host_allocator``
keeps freed memory for reuse (``mallopt``: one arena, no ``mmap`` blocks, a
high trim threshold): no page faults after the first step, and the same
step ran 2.2 -> 3.0 steps/s (benchmarks/train_step.py). PyTorch in the same
process gains as well, so the benchmark compares like with like.

It must run before JAX starts its CPU client, since the client's threads
pick their arenas on their first allocation: ``launch/`` calls it first
thing, and so do the benchmarks and the tests. From the shell, the same
settings for any Python process (a notebook kernel, a script)::

  MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647

The cost: the process keeps its peak heap until it exits. Results do not
change (only where memory comes from). ``DTRANSFER_TUNE_ALLOCATOR=0`` turns
it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

# glibc <malloc.h> parameter numbers.
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8
_TUNED = False


def _backend_started() -> bool:
  try:
    from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
    return bool(xla_bridge.backends_are_initialized())
  except (ImportError, AttributeError):
    return False


def tune_host_allocator(*, force: bool = False) -> bool:
  """Keeps freed heap memory for reuse (glibc only). Returns whether applied.

  Idempotent. Skipped when ``DTRANSFER_TUNE_ALLOCATOR=0``, off glibc, and
  (unless ``force``) with a warning when JAX's backend is already running,
  since its threads' arenas are then fixed and the gain mostly lost.
  """
  global _TUNED
  if _TUNED:
    return True
  if os.environ.get("DTRANSFER_TUNE_ALLOCATOR", "1") == "0":
    return False
  if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
    return False
  if _backend_started() and not force:
    logging.warning(
        "tune_host_allocator: JAX's backend is already running, so its "
        "threads keep their malloc arenas; call it before the first JAX "
        "computation (launch/ does), or export MALLOC_ARENA_MAX=1 "
        "MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647 beforehand.")
    return False
  libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
  ok = all(libc.mallopt(param, value) == 1 for param, value in (
      (_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1)))
  _TUNED = ok
  return ok
