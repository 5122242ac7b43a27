"""Training: ``train(config, workdir)`` and ``train_and_evaluate(config, workdir)``.

The loop is deliberately small: build the model and data once, jit one train
step, run it, log JSON lines, checkpoint atomically, evaluate at the end.
Batches are pure functions of ``(seed, step)`` (dtransfer.data.pairs), so a
killed run resumes from its last checkpoint with the exact same data order.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import queue

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from dtransfer import checkpoint as ckpt_lib
from dtransfer import losses
from dtransfer import metrics_log
from dtransfer import models
from dtransfer import sharding
from dtransfer import datasets
from dtransfer.data import pairs

OBJECTIVES = ("weak", "beta_vae")
# Config keys that may change between runs in one work directory.
_RESUMABLE_KEYS = ("train.num_steps", "train.log_every", "train.checkpoint_every",
                   "train.keep_checkpoints", "data.data_dir", "data.prefetch")


# ----------------------------------------------------------------------------
# Construction.

def load_source(config):
  """The ImageSource named by ``config.data``."""
  return datasets.get_dataset(config.data.name, source=config.data.source,
                              data_dir=config.data.data_dir or None,
                              **dict(config.data.get("kwargs", {})))


def build_model(config, image_shape):
  return models.get_model(config.model.name, num_latents=config.model.num_latents,
                          image_shape=tuple(image_shape),
                          **dict(config.model.get("kwargs", {})))


SCHEDULES = ("constant", "cosine")


def learning_rate(optim, num_steps: int | None = None):
  """The learning rate: a constant (the paper's), or a linear warm-up over
  ``optim.warmup_steps`` then a cosine decay to ``optim.end_lr_fraction`` of the
  peak at ``num_steps`` (what the quick preset uses to finish a short run sharp)."""
  schedule = optim.get("schedule", "constant")
  if schedule == "constant":
    return optim.learning_rate
  if schedule != "cosine":
    raise ValueError(f"unknown optim.schedule '{schedule}'; choose one of {SCHEDULES}.")
  if not num_steps:
    raise ValueError("optim.schedule='cosine' needs the run's number of steps.")
  peak = float(optim.learning_rate)
  warmup = int(optim.get("warmup_steps", 0))
  return optax.warmup_cosine_decay_schedule(
      0.0 if warmup else peak, peak, warmup, max(int(num_steps), warmup + 1),
      end_value=peak * float(optim.get("end_lr_fraction", 0.0)))


def make_optimizer(optim, num_steps: int | None = None) -> optax.GradientTransformation:
  """Adam with the reference code's order: clip the gradient norm, then L2, then Adam."""
  parts = []
  if optim.grad_clip_norm and optim.grad_clip_norm > 0:
    parts.append(optax.clip_by_global_norm(optim.grad_clip_norm))
  if optim.weight_decay:
    parts.append(optax.add_decayed_weights(optim.weight_decay))  # torch Adam's L2
  parts.append(optax.adam(learning_rate(optim, num_steps), b1=optim.b1, b2=optim.b2,
                          eps=optim.eps))
  return optax.chain(*parts)


def init_state(model, optimizer, seed: int) -> dict:
  """The training state pytree: step, params, model_state, opt_state."""
  variables = model.init(jax.random.fold_in(jax.random.PRNGKey(seed), 0))
  params = variables["params"]
  model_state = {k: v for k, v in variables.items() if k != "params"}
  return {"step": jnp.zeros((), jnp.int32), "params": params,
          "model_state": model_state, "opt_state": optimizer.init(params)}


def variables_of(state) -> dict:
  return {"params": state["params"], **state["model_state"]}


# ----------------------------------------------------------------------------
# The step.

def loss_fn(model, config, objective: str):
  """``(params, model_state, batch, key, beta) -> (loss, (aux, new_model_state))``."""
  if objective not in OBJECTIVES:
    raise ValueError(f"unknown objective '{objective}'; choose one of {OBJECTIVES}.")
  lc = config.loss

  def fn(params, model_state, batch, key, beta):
    variables = {"params": params, **model_state}
    floats = {k: (v.astype(jnp.float32) / 255.0 if k.startswith("x") else v)
              for k, v in batch.items()}
    if objective == "weak":
      return losses.paired_elbo_forward(model, variables, floats, key, beta,
                                        aggregator=lc.aggregator, averaging=lc.averaging,
                                        divergence=lc.divergence, threshold=lc.threshold)
    return losses.beta_vae_forward(model, variables, floats, key, beta)

  return fn


def make_train_step(model, optimizer, config, objective: str):
  """Builds the jitted step ``(state, batch) -> (state, metrics)``.

  A non-finite loss or gradient leaves the state unchanged (and is reported
  in ``metrics['finite']``), so the last good state can still be saved.
  """
  fn = loss_fn(model, config, objective)
  base_key = jax.random.PRNGKey(config.seed)
  beta, warmup = float(config.model.beta), int(config.model.beta_warmup_steps)

  def step(state, batch):
    key = jax.random.fold_in(jax.random.fold_in(base_key, 1), state["step"])
    b = losses.beta_schedule(state["step"], beta, warmup)
    (loss, (aux, new_model_state)), grads = jax.value_and_grad(fn, has_aux=True)(
        state["params"], state["model_state"], batch, key, b)
    updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
    params = optax.apply_updates(state["params"], updates)
    finite = jnp.isfinite(loss) & jnp.isfinite(optax.global_norm(grads))
    keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)
    new_state = {"step": state["step"] + 1,
                 "params": keep(params, state["params"]),
                 "model_state": keep(new_model_state, state["model_state"]),
                 "opt_state": keep(opt_state, state["opt_state"])}
    metrics = {"loss": loss, "beta": b, "grad_norm": optax.global_norm(grads),
               "finite": finite, **aux}
    return new_state, metrics

  return jax.jit(step, donate_argnums=(0,))


# ----------------------------------------------------------------------------
# Work directory.

def _flatten(d, prefix=""):
  out = {}
  for k, v in d.items():
    key = f"{prefix}{k}"
    if isinstance(v, dict):
      out.update(_flatten(v, key + "."))
    else:
      out[key] = v
  return out


def prepare_workdir(config, workdir: str, ignore=()) -> None:
  """Writes ``config.json``, or checks that the workdir holds the same experiment."""
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, "config.json")
  cfg = json.loads(config.to_json_best_effort())
  if os.path.exists(path):
    with open(path) as f:
      old = json.load(f)
    skip = set(_RESUMABLE_KEYS) | set(ignore)
    a = {k: v for k, v in _flatten(old).items() if k not in skip}
    b = {k: v for k, v in _flatten(cfg).items() if k not in skip}
    diff = sorted(k for k in set(a) | set(b)
                  if a.get(k) != b.get(k) and not k.startswith("eval."))
    if diff:
      shown = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in diff[:5])
      raise ValueError(
          f"work directory {workdir} holds a different experiment ({shown}). "
          "Use a new --workdir, or delete this one to start over.")
  if jax.process_index() == 0:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
      json.dump(cfg, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def _prefetch(it, size: int):
  """Runs an iterator in a background thread, ``size`` items ahead."""
  if size <= 0:
    yield from it
    return
  q: queue.Queue = queue.Queue(maxsize=size)
  done = object()

  def work():
    try:
      for item in it:
        q.put(item)
      q.put(done)
    except BaseException as e:  # pylint: disable=broad-except
      q.put(e)

  threading.Thread(target=work, daemon=True).start()
  while True:
    item = q.get()
    if item is done:
      return
    if isinstance(item, BaseException):
      raise item
    yield item


def batches_for(config, source, objective: str):
  shard = (jax.process_index(), jax.process_count())
  if objective == "weak":
    return pairs.WeakPairBatches(source, config.train.batch_size, seed=config.seed,
                                 k=config.data.k, mode=config.data.pair_mode,
                                 shard=shard)
  return pairs.ImageBatches(source, config.train.batch_size, seed=config.seed,
                            shard=shard)


# ----------------------------------------------------------------------------
# The loop.

def train(config: ml_collections.ConfigDict, workdir: str, *, source=None,
          init_from: dict | None = None, objective: str | None = None,
          stop_after: int | None = None):
  """Trains (or resumes) the model of ``config`` in ``workdir``.

  Args:
    config: experiment config (configs/common.py).
    workdir: output directory: config.json, checkpoints/, metrics.jsonl.
    source: an ImageSource to train on (default: built from config.data).
    init_from: a state to start from instead of a fresh init (fine-tuning).
    objective: overrides ``config.objective``.
    stop_after: stop after this many steps in this call (tests simulate a kill).

  Returns:
    (model, state) with the state on the host.
  """
  objective = objective or config.objective
  source = source if source is not None else load_source(config)
  model = build_model(config, source.image_shape)
  if objective == "weak" and config.loss.aggregator == "labels":
    if source.space.num_factors > model.num_latents:
      raise ValueError(
          f"the labels aggregator ties latent dim i to factor i, but {config.data.name} "
          f"has {source.space.num_factors} factors and the model only "
          f"{model.num_latents} latents; raise model.num_latents or use "
          "loss.aggregator=argmax.")
  optimizer = make_optimizer(config.optim, config.train.num_steps)
  mesh = sharding.data_mesh()
  sharding.check_batch_size(config.train.batch_size, mesh)
  prepare_workdir(config, workdir)
  checkpointer = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"),
                                       keep=config.train.keep_checkpoints)
  try:  # close Orbax's threads on every exit, Ctrl-C included
    state = init_from if init_from is not None else init_state(model, optimizer, config.seed)
    if checkpointer.latest_step() is not None:
      start, state = checkpointer.restore(state)
      logging.info("resumed from %s at step %d", checkpointer.directory, start)
    if int(state["step"]) < int(config.train.num_steps):
      state = _loop(config, workdir, source, model, optimizer, objective, state, mesh,
                    checkpointer, stop_after)
  finally:
    checkpointer.close()
  return model, jax.device_get(state)


def _loop(config, workdir, source, model, optimizer, objective, state, mesh, checkpointer,
          stop_after):
  """Runs the jitted step from ``state['step']``; logs, guards NaN, checkpoints."""
  total, start = int(config.train.num_steps), int(state["step"])
  writer = metrics_log.MetricWriter(workdir)
  logging.info("devices: %s (%d processes); training %s from step %d to %d",
               jax.devices(), jax.process_count(), objective, start, total)
  step_fn = make_train_step(model, optimizer, config, objective)
  state = sharding.replicate(state, mesh)
  batches = batches_for(config, source, objective)
  end = total if stop_after is None else min(total, start + int(stop_after))
  data = _prefetch((batches[i] for i in range(start, end)), config.data.prefetch)
  progress = metrics_log.Progress(total, start)
  history = []
  for step in range(start + 1, end + 1):
    batch = next(data)
    batch = sharding.shard_batch({k: v for k, v in batch.items()
                                  if k in ("x1", "x2", "label", "x")}, mesh)
    state, metrics = step_fn(state, batch)
    history.append(metrics)
    if step % config.train.log_every == 0 or step == end:
      host = jax.device_get(history)
      history = []
      if not all(bool(m["finite"]) for m in host):
        bad = next(i for i, m in enumerate(host) if not bool(m["finite"]))
        checkpointer.save(int(jax.device_get(state["step"])), state, force=True)
        raise FloatingPointError(
            f"non-finite loss or gradient at step {step - len(host) + bad + 1} "
            f"(loss={host[bad]['loss']}); the last finite state was saved. Lower "
            "optim.learning_rate, keep optim.grad_clip_norm > 0, or check the data.")
      mean = {k: float(np.mean([m[k] for m in host])) for k in host[0] if k != "finite"}
      mean.update(progress.update(step))
      writer.write(step, **mean)
    if step % config.train.checkpoint_every == 0 or step == end:
      checkpointer.save(step, state)
  return state


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains the model of ``config`` in ``workdir``, then evaluates it.

  Writes ``<workdir>/eval`` (JSON, PNG, Markdown; see dtransfer.evaluate) and
  returns the evaluation results.
  """
  from dtransfer import evaluate  # pylint: disable=g-import-not-at-top
  source = load_source(config)
  model, state = train(config, workdir, source=source)
  return evaluate.evaluate_model(model, variables_of(state), source, config,
                                 os.path.join(workdir, "eval"))


def load_trained(config, workdir: str, image_shape=None):
  """(model, state) of the newest checkpoint in ``workdir`` (for evaluation/transfer)."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"{workdir} holds no config.json, so it is not a dtransfer work directory; "
        "train there first with python -m launch.train --workdir=...")
  if image_shape is None:
    image_shape = load_source(config).image_shape
  model = build_model(config, image_shape)
  optimizer = make_optimizer(config.optim, config.train.num_steps)
  target = init_state(model, optimizer, config.seed)
  checkpointer = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
  try:
    _, state = checkpointer.restore(target)
  finally:
    checkpointer.close()
  return model, state


def read_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a work directory was trained with."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"no config.json in {workdir}: not a dtransfer work "
                            "directory (did the source training run there?).")
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))
