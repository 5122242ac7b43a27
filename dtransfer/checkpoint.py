"""The one place that talks to Orbax: checkpoints that verify themselves.

Checkpoints are written by Orbax's CheckpointManager, which writes into a
temporary directory and renames it when complete, so a killed run never leaves
a half-written "latest" checkpoint. Training state is an opaque pytree of
arrays (whatever the method's ``init`` returns, with an int ``step``); the
data order needs no state of its own because batch ``i`` is a pure function
of ``(seed, i)``.

A checkpoint cannot be trusted just because Orbax reads it: a flipped bit in a
data file restores as a changed value, silently. So each step directory holds

  <step>/state/          the pytree (Orbax StandardSave)
  <step>/digest/         SHA-256 of every array's bytes (with dtype and shape),
                         saved in the same atomic Orbax step as the arrays
  <step>/files.sha256    SHA-256 of every file of the step, written just after

and a checkpoint counts as *intact* only when every file matches its digest,
every restored array matches its digest and every float is finite. A save is
read back and verified before any older checkpoint is deleted, so a good
checkpoint always survives; a restore takes the newest intact checkpoint and,
when resuming, moves newer corrupt ones aside (``checkpoints_corrupt/``) so
they cannot block the next save of that step.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time

import jax
import numpy as np
import orbax.checkpoint as ocp

FILES_MANIFEST = "files.sha256"
_ITEMS = ("state", "digest")


class CheckpointError(RuntimeError):
  """A checkpoint that is missing or cannot be read."""


class CorruptCheckpointError(CheckpointError):
  """A checkpoint whose files or arrays differ from their digests (or are not finite)."""


def _keyed_leaves(tree) -> list[tuple[str, object]]:
  flat, _ = jax.tree_util.tree_flatten_with_path(tree)
  return [(jax.tree_util.keystr(path), leaf) for path, leaf in flat]


def _host(leaf) -> np.ndarray:
  return np.ascontiguousarray(np.asarray(jax.device_get(leaf)))


def array_digest(tree) -> dict[str, str]:
  """``{key path: sha256(dtype, shape, bytes)}`` of every leaf of ``tree``."""
  out = {}
  for key, leaf in _keyed_leaves(tree):
    a = _host(leaf)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    out[key] = h.hexdigest()
  return out


def non_finite_leaves(tree) -> list[str]:
  """Key paths of the float leaves of ``tree`` holding a NaN or an inf, with counts."""
  bad = []
  for key, leaf in _keyed_leaves(tree):
    a = _host(leaf)
    if a.dtype.kind in "fc":
      n = int(a.size - np.count_nonzero(np.isfinite(a)))
      if n:
        bad.append(f"{key} ({n} non-finite)")
  return bad


def _file_sha256(path: str) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def _files(step_dir: str) -> list[str]:
  out = []
  for root, _, names in os.walk(step_dir):
    for name in names:
      rel = os.path.relpath(os.path.join(root, name), step_dir)
      if rel != FILES_MANIFEST:
        out.append(rel)
  return sorted(out)


def _sync(name: str) -> None:
  """All processes wait here (multi-host), e.g. until process 0 moved files."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    multihost_utils.sync_global_devices(f"dtransfer_checkpoint_{name}")


class Checkpointer:
  """Saves, verifies and restores the training state under ``<workdir>/checkpoints``."""

  def __init__(self, directory: str, keep: int = 2):
    self.directory = os.path.abspath(directory)
    self.keep = max(int(keep), 1)
    self._manager = self._new_manager()

  def _new_manager(self):
    # No max_to_keep: pruning is ours, and waits for the newer step to verify.
    options = ocp.CheckpointManagerOptions(max_to_keep=None, create=True,
                                           enable_async_checkpointing=False)
    return ocp.CheckpointManager(self.directory, options=options, item_names=_ITEMS)

  def _reload(self):
    self._manager.close()
    self._manager = self._new_manager()

  def step_dir(self, step: int) -> str:
    return os.path.join(self.directory, str(int(step)))

  def steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def latest_step(self) -> int | None:
    steps = self.steps()
    return steps[-1] if steps else None

  # Saving -----------------------------------------------------------------
  def save(self, step: int, state, *, force: bool = False) -> None:
    """Writes ``state`` at ``step``, reads it back and verifies it, then prunes.

    Refuses a state with non-finite values (it would become the checkpoint a
    rerun resumes from). Older checkpoints beyond ``keep`` are deleted only
    after this one has been verified intact.
    """
    del force  # kept for callers of the old signature; every save is explicit
    step = int(step)
    host = jax.tree.map(_host, state)  # one copy for the checks and the read-back
    bad = non_finite_leaves(host)
    if bad:
      raise FloatingPointError(
          f"refusing to checkpoint step {step}: non-finite values in "
          f"{', '.join(bad[:5])}; the previous checkpoints are kept.")
    if step in self.steps():
      return  # this step is already on disk (e.g. resumed exactly at it)
    digest = {"step": step, "arrays": array_digest(host)}
    self._manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), digest=ocp.args.JsonSave(digest)))
    self._manager.wait_until_finished()
    if jax.process_index() == 0:
      self._write_files_manifest(step)
    _sync(f"manifest_{step}")
    self._check(step, host)
    self._prune(step)

  def _write_files_manifest(self, step: int) -> None:
    d = self.step_dir(step)
    manifest = {rel: _file_sha256(os.path.join(d, rel)) for rel in _files(d)}
    tmp = os.path.join(d, f".{FILES_MANIFEST}.tmp{os.getpid()}")
    with open(tmp, "w") as f:
      json.dump(manifest, f, indent=0, sort_keys=True)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, os.path.join(d, FILES_MANIFEST))

  def _prune(self, newest_verified: int) -> None:
    """Deletes all but the ``keep`` newest steps up to ``newest_verified``."""
    older = [s for s in self.steps() if s <= newest_verified]
    for s in older[:-self.keep]:
      self._manager.delete(s)

  # Verifying --------------------------------------------------------------
  def _check(self, step: int, target):
    """Restores ``step`` shaped like ``target`` and verifies it; returns the state.

    Raises CorruptCheckpointError naming the step and the file or array that
    differs.
    """
    d = self.step_dir(step)
    where = f"checkpoint step {step} ({d})"
    if not os.path.isdir(d):
      raise CorruptCheckpointError(f"{where}: the step directory is missing")
    manifest_path = os.path.join(d, FILES_MANIFEST)
    if os.path.exists(manifest_path):
      try:
        with open(manifest_path) as f:
          manifest = json.load(f)
      except (OSError, ValueError) as e:
        raise CorruptCheckpointError(f"{where}: {FILES_MANIFEST} is unreadable ({e})") from e
      on_disk = set(_files(d))
      missing = sorted(set(manifest) - on_disk)
      if missing:
        raise CorruptCheckpointError(f"{where}: file {missing[0]} is missing"
                                     + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
      for rel in sorted(manifest):
        if _file_sha256(os.path.join(d, rel)) != manifest[rel]:
          raise CorruptCheckpointError(f"{where}: file {rel} changed (SHA-256 differs "
                                       "from the one written with the checkpoint)")
    legacy = (not os.path.isdir(os.path.join(d, "state"))
              and os.path.isdir(os.path.join(d, "default")))
    if legacy:  # written before checkpoints carried digests: finiteness only
      logging.warning("%s has no digest (written by an older dtransfer); it is checked "
                      "for finiteness only.", where)
      state, digest = self._restore_item(d, "default", target), None
    else:
      for item in _ITEMS:
        if not os.path.isdir(os.path.join(d, item)):
          raise CorruptCheckpointError(f"{where}: item directory {item}/ is missing")
      try:
        digest = ocp.Checkpointer(ocp.JsonCheckpointHandler()).restore(
            os.path.join(d, "digest"))
      except Exception as e:  # pylint: disable=broad-except
        raise CorruptCheckpointError(f"{where}: its digest is unreadable "
                                     f"({type(e).__name__}: {e})") from e
      state = self._restore_item(d, "state", target)
    if digest is not None:
      expected = digest.get("arrays", {}) if isinstance(digest, dict) else {}
      actual = array_digest(state)
      if set(expected) != set(actual):
        raise CorruptCheckpointError(
            f"{where}: holds arrays {sorted(set(expected) ^ set(actual))[:3]} that the "
            "state does not (a different model or method?)")
      changed = [k for k in actual if actual[k] != expected[k]]
      if changed:
        raise CorruptCheckpointError(
            f"{where}: array {changed[0]} differs from its digest"
            + (f" (and {len(changed) - 1} more)" if len(changed) > 1 else "")
            + "; a data file under state/ was changed")
    bad = non_finite_leaves(state)
    if bad:
      raise CorruptCheckpointError(f"{where}: non-finite values in {', '.join(bad[:3])}")
    if "step" in state and int(np.asarray(jax.device_get(state["step"]))) != step:
      raise CorruptCheckpointError(
          f"{where}: holds state['step']={int(np.asarray(jax.device_get(state['step'])))}")
    return state

  def _restore_item(self, step_dir: str, item: str, target):
    if isinstance(jax.tree.leaves(target)[0], np.ndarray):
      abstract = target
    else:
      abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
    try:
      # A fresh Orbax checkpointer per attempt: a failed read must not leave
      # state behind that breaks the next attempt on an older step.
      with ocp.StandardCheckpointer() as reader:
        return reader.restore(os.path.join(step_dir, item), abstract)
    except Exception as e:  # pylint: disable=broad-except
      raise CorruptCheckpointError(
          f"checkpoint step {os.path.basename(step_dir)} ({step_dir}): {item}/ is "
          f"unreadable ({type(e).__name__}: {str(e).splitlines()[0][:300]})") from e

  def verify(self, step: int, target) -> None:
    """Raises CorruptCheckpointError unless ``step`` is intact (target: the state's shape)."""
    self._check(int(step), target)

  # Restoring --------------------------------------------------------------
  def restore(self, target, step: int | None = None, *, quarantine: bool = False):
    """``(step, state)`` of ``step`` (default: the newest intact one), shaped like ``target``.

    A corrupt checkpoint is skipped with a warning naming what is wrong, so a
    damaged file loses at most one checkpoint interval. With ``quarantine``
    (training, which will write new checkpoints) the corrupt ones newer than
    the restored step are moved to ``<directory>_corrupt/``.
    """
    steps = self.steps() if step is None else [int(step)]
    if not steps:
      raise CheckpointError(
          f"no checkpoint in {self.directory}; train a model there first "
          "(python -m launch.train --workdir=...) or point to the right directory.")
    errors, corrupt = [], []
    for s in reversed(steps):
      try:
        state = self._check(s, target)
      except CheckpointError as e:
        errors.append(str(e))
        corrupt.append(s)
        logging.warning("%s; trying an older checkpoint.", e)
        print(f"WARNING: {e}; trying an older checkpoint.", flush=True)
        continue
      if quarantine and corrupt:
        self._move_aside(corrupt)
      return s, state
    if quarantine and corrupt and step is None:
      self._move_aside(corrupt)
    raise CheckpointError(
        f"no readable checkpoint in {self.directory}: every one is corrupt or from a "
        "different model config (delete the directory or use a new --workdir). "
        "Errors:\n  " + "\n  ".join(errors))

  def _move_aside(self, steps) -> None:
    if jax.process_index() == 0:
      dest_root = self.directory.rstrip("/") + "_corrupt"
      os.makedirs(dest_root, exist_ok=True)
      stamp = time.strftime("%Y%m%d-%H%M%S")
      for s in steps:
        src = self.step_dir(s)
        if os.path.exists(src):
          dest = os.path.join(dest_root, f"{s}-{stamp}-{os.getpid()}")
          shutil.move(src, dest)
          logging.warning("moved corrupt checkpoint step %d to %s", s, dest)
          print(f"WARNING: moved corrupt checkpoint step {s} to {dest}", flush=True)
    _sync("move_aside")
    self._reload()

  def close(self):
    self._manager.close()
