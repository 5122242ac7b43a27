"""The one place that talks to Orbax.

Checkpoints are written by Orbax's CheckpointManager, which writes into a
temporary directory and renames it when complete, so a killed run never leaves
a half-written "latest" checkpoint. Training state is a plain pytree of arrays
(``{"step", "params", "model_state", "opt_state"}``); the data order needs no
state of its own because batch ``i`` is a pure function of ``(seed, i)``.
"""

from __future__ import annotations

import logging
import os

import jax
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
  """A checkpoint that is missing or cannot be read."""


class Checkpointer:
  """Saves and restores the training state under ``<workdir>/checkpoints``."""

  def __init__(self, directory: str, keep: int = 2):
    self.directory = os.path.abspath(directory)
    options = ocp.CheckpointManagerOptions(max_to_keep=max(int(keep), 1), create=True,
                                           enable_async_checkpointing=False)
    self._manager = ocp.CheckpointManager(self.directory, options=options)

  def steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def latest_step(self) -> int | None:
    steps = self.steps()
    return steps[-1] if steps else None

  def save(self, step: int, state, *, force: bool = False) -> None:
    self._manager.save(int(step), args=ocp.args.StandardSave(state), force=force)
    self._manager.wait_until_finished()

  def restore(self, target, step: int | None = None):
    """Restores ``step`` (default: the newest readable one) shaped like ``target``.

    If the newest checkpoint is unreadable the previous one is tried, with a
    warning, so a run killed mid-write (or a corrupted file) loses at most one
    checkpoint interval.
    """
    steps = self.steps() if step is None else [int(step)]
    if not steps:
      raise CheckpointError(
          f"no checkpoint in {self.directory}; train a model there first "
          "(python -m launch.train --workdir=...) or point to the right directory.")
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
    errors = []
    for s in reversed(steps):
      try:
        return s, self._manager.restore(s, args=ocp.args.StandardRestore(abstract))
      except Exception as e:  # pylint: disable=broad-except
        errors.append(f"step {s}: {type(e).__name__}: {e}")
        logging.warning("checkpoint at step %d in %s is unreadable (%s); trying an "
                        "older one.", s, self.directory, e)
    raise CheckpointError(
        f"no readable checkpoint in {self.directory} (it may be corrupt or from a "
        "different model config; delete it or use a new --workdir). Errors:\n  "
        + "\n  ".join(errors))

  def close(self):
    self._manager.close()
