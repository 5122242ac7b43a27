"""Training: ``train(config, workdir)`` and ``train_and_evaluate(config, workdir)``.

The loop is deliberately small and knows no method: the method of
``config.method.name`` (dtransfer/methods) gives the state, the batches and
the jitted step; the loop runs the step from ``state['step']``, logs JSON
lines, guards against NaN, checkpoints atomically and evaluates at the end.
Batches are pure functions of ``(seed, step)`` (dtransfer.data.pairs) read
through a ``grain.MapDataset``, so a killed run resumes from its last
checkpoint with the exact same data order: resuming is a slice of the index,
with no iterator state to save.
"""

from __future__ import annotations

import os

import grain
import jax
import ml_collections
import numpy as np

from dtransfer import checkpoint as ckpt_lib
from dtransfer import config_check
from dtransfer import console
from dtransfer import evaluate
from dtransfer import event_writer
from dtransfer import methods
from dtransfer import jsonl_writer
from dtransfer import sharding
from dtransfer import workdir as workdir_lib
from dtransfer import workdir_lock
# Re-exported: the optimiser of a config (tests and benchmarks use them here).
from dtransfer.optim import learning_rate  # pylint: disable=unused-import
from dtransfer.optim import make_optimizer  # pylint: disable=unused-import


def input_pipeline(method, images, start: int, end: int, data_config):
  """Device-ready host batches ``start .. end - 1`` of ``method``, as a grain dataset.

  ``data.prefetch`` batches are read ahead by ``data.num_threads`` threads
  (grain's own prefetch); with ``prefetch=0`` they are read in the loop.
  """
  shard = (jax.process_index(), jax.process_count())
  ds = grain.MapDataset.source(method.batches(images, shard))[start:end]
  ds = ds.map(method.device_batch)
  prefetch = int(data_config.get("prefetch", 2))
  if prefetch <= 0:
    return ds.to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
  threads = int(data_config.get("num_threads", 1)) or 1
  return ds.to_iter_dataset(grain.ReadOptions(num_threads=threads,
                                              prefetch_buffer_size=prefetch))


def train(config: ml_collections.ConfigDict, workdir: str, *, images=None,
          init_from: dict | None = None, stop_after: int | None = None):
  """Trains (or resumes) the model of ``config`` in ``workdir``.

  Args:
    config: experiment config (configs/common.py); ``config.method.name``
      chooses the method (dtransfer/methods).
    workdir: output directory: config.json, checkpoints/, metrics.jsonl.
    images: the ImageSource to train on (default: built from config.data).
    init_from: a state to start from instead of a fresh init (fine-tuning).
    stop_after: stop after this many steps in this call (tests simulate a kill).

  Returns:
    (method, state) with the state on the host.
  """
  mesh = sharding.data_mesh()
  # Everything is checked before the work directory is created or touched.
  config_check.validate(config, num_devices=mesh.size)
  workdir = config_check.check_workdir(workdir)
  images = images if images is not None else workdir_lib.image_source(config)
  model = workdir_lib.build_model(config, images.image_shape)
  method = methods.get_method(config, model)
  method.check_images(images)
  with workdir_lock.WorkdirLock(workdir) as lock:
    if lock.took_over:
      console.say("train", f"took over the lock of {workdir} left by process "
                           f"{lock.took_over.get('pid')} on {lock.took_over.get('host')} "
                           "(no longer running)")
    workdir_lib.prepare_workdir(config, workdir)
    checkpointer = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"),
                                         keep=config.train.keep_checkpoints)
    try:  # close Orbax's threads on every exit, Ctrl-C included
      state = init_from if init_from is not None else method.init(config.seed)
      if checkpointer.latest_step() is not None:
        # Corrupt checkpoints newer than the one restored are moved aside.
        start, state = checkpointer.restore(state, quarantine=True)
        console.say("train", f"resumed from {checkpointer.directory} at step {start}")
      if int(state["step"]) < int(config.train.num_steps):
        state = _loop(config, workdir, images, method, state, mesh, checkpointer,
                      stop_after)
      else:
        console.say("train", f"already trained to step {int(state['step'])} in {workdir}; "
                             "training skipped")
    finally:
      checkpointer.close()
  return method, jax.device_get(state)


def _loop(config, workdir, images, method, state, mesh, checkpointer, stop_after):
  """Runs the jitted step from ``state['step']``; logs, guards NaN, checkpoints."""
  total, start = int(config.train.num_steps), int(state["step"])
  # Rows a killed run logged after the checkpoint we resume from are re-logged.
  writer = jsonl_writer.MetricWriter(workdir, resume_step=start)
  # TensorBoard scalars beside metrics.jsonl (tensorboard --logdir <runs>).
  board = event_writer.EventWriter(workdir, enabled=writer.enabled)
  console.say("train", f"{method.name} from step {start} to {total} on "
                       f"{jax.device_count()} {jax.default_backend()} device(s), "
                       f"{jax.process_count()} process(es); workdir {workdir}")
  step_fn = method.train_step()
  state = sharding.replicate(state, mesh)
  end = total if stop_after is None else min(total, start + int(stop_after))
  data = iter(input_pipeline(method, images, start, end, config.data))
  progress = console.TrainProgress(total, start)
  history = []
  try:
    for step in range(start + 1, end + 1):
      state, metrics = step_fn(state, sharding.shard_batch(next(data), mesh))
      history.append(metrics)
      log_now = step % config.train.log_every == 0 or step == end
      save_now = step % config.train.checkpoint_every == 0 or step == end
      if log_now or save_now:
        host = jax.device_get(history)
        _check_finite(host, step, checkpointer)
        if log_now:
          history = []
          mean = {k: float(np.mean([m[k] for m in host])) for k in host[0] if k != "finite"}
          mean.update(progress.update(step, mean))
          writer.write(step, **mean)
          board.scalars(step, mean, prefix="train/")
      if save_now:
        checkpointer.save(step, state)
  finally:  # stop grain's reader threads, also when the loop raises
    close = getattr(data, "close", None)
    if close is not None:
      close()
  return state


def _check_finite(host_metrics, step, checkpointer):
  """Stops at a non-finite step. The guard (methods.base.guard_state) kept the
  state of the step before it, but the steps after it in this window ran on
  batches that do not match that state, so nothing is saved: the newest
  checkpoint (verified finite) is where a rerun resumes and trains again."""
  if all(bool(m["finite"]) for m in host_metrics):
    return
  bad = next(i for i, m in enumerate(host_metrics) if not bool(m["finite"]))
  at = step - len(host_metrics) + bad + 1
  last = checkpointer.latest_step()
  kept = (f"the newest checkpoint (step {last}) is kept and a rerun resumes there"
          if last is not None else "no checkpoint was written yet")
  raise FloatingPointError(
      f"non-finite loss, gradient or updated state at step {at} "
      f"(loss={host_metrics[bad]['loss']}); the state was not saved: {kept}. Lower "
      "optim.learning_rate, keep optim.grad_clip_norm > 0, or check the data "
      "(a changed optim config needs a new --workdir).")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains the model of ``config`` in ``workdir``, then evaluates it.

  Writes ``<workdir>/eval`` (JSON, PNG, Markdown; see dtransfer.evaluate) and
  returns the evaluation results.
  """
  config_check.validate(config)
  workdir = config_check.check_workdir(workdir)
  images = workdir_lib.image_source(config)
  # Held through the evaluation too (re-entrant: train() takes it again).
  with workdir_lock.WorkdirLock(workdir):
    method, state = train(config, workdir, images=images)
    return evaluate.evaluate_model(method, state, images, config,
                                   os.path.join(workdir, "eval"))
