"""Many models in one program: ``train_group(configs, workdirs)``.

The paper's study trains 20 small models per cell (beta in {1, 2} x 10 seeds).
One such model leaves an accelerator mostly idle, so a group of N models is
trained as one jitted step over a leading model axis of the state, the
batches and the per-model scalars (the PRNG key of each model's seed and its
beta): ``jax.vmap`` of the method's pure step on accelerators, ``jax.lax.map``
(the models in turn, one dispatch per step) on a CPU (``GROUP_MODES``).

A group is N ordinary runs that happen to share a program:

* model i is the run of its own config (``member_configs``: ``seed + i`` and
  ``model.beta`` unless ``train.seeds`` / ``train.betas`` list them), with its
  own initialisation, pairs and noise, so it equals that run trained alone up
  to float reduction order;
* each has its own work directory (``<workdir>/model_<i>``) with the same
  config.json, checkpoints/, metrics.jsonl and eval/ as a single run, so
  resume, reports and the study's aggregation need no special case;
* the NaN guard is per model: a model whose loss, gradient or update is not
  finite is frozen at its last finite state (saved, with ``failed.json``
  saying where and why) and the others go on.

With several devices the group is split on a ``("models", "data")`` mesh
(``group_mesh``): the model axis first, the batch axis with what is left.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from dtransfer import checkpoint as ckpt_lib
from dtransfer import evaluate
from dtransfer import event_writer
from dtransfer import methods
from dtransfer import jsonl_writer
from dtransfer import train as train_lib
from dtransfer import workdir as workdir_lib
from dtransfer import workdir_lock
from dtransfer.methods import base

# The fields that may differ between the models of a group.
PER_MODEL = ("seed", "model.beta")


def num_models(config) -> int:
  return int(config.train.get("num_models", 1) or 1)


def member_configs(config: ml_collections.ConfigDict) -> list[ml_collections.ConfigDict]:
  """The single-model configs of a group config (``train.num_models`` = N).

  Model i gets ``train.seeds[i]`` (default ``seed + i``) and ``train.betas[i]``
  (default ``model.beta``); its config has ``num_models = 1`` and no lists, so
  it is exactly the config of the same run trained alone.
  """
  n = num_models(config)
  seeds = list(config.train.get("seeds", ()) or ())
  betas = list(config.train.get("betas", ()) or ())
  if n < 1:
    raise ValueError(f"train.num_models must be >= 1, got {n}.")
  for name, values in (("train.seeds", seeds), ("train.betas", betas)):
    if values and len(values) != n:
      raise ValueError(f"{name} lists {len(values)} values for train.num_models={n}; "
                       "give one per model or none.")
  out = []
  for i in range(n):
    c = copy.deepcopy(config)
    with c.unlocked():
      c.train.num_models = 1
      c.train.seeds = ()
      c.train.betas = ()
      if "group_mode" in c.train:
        c.train.group_mode = "auto"
      c.seed = int(seeds[i]) if seeds else int(config.seed) + i
      if betas:
        c.model.beta = float(betas[i])
    out.append(c)
  return out


def member_workdirs(workdir: str, n: int) -> list[str]:
  return [os.path.join(workdir, f"model_{i}") for i in range(n)]


def check_groupable(configs, also=()) -> None:
  """Raises unless the configs differ only in ``PER_MODEL`` (and ``also``) fields."""
  free = set(PER_MODEL) | set(also)
  flat = [workdir_lib.flatten(c.to_dict()) for c in configs]
  for i, f in enumerate(flat[1:], 1):
    diff = sorted(k for k in set(f) | set(flat[0])
                  if k not in free and f.get(k) != flat[0].get(k))
    if diff:
      raise ValueError(f"models 0 and {i} of a group differ in {diff}; only "
                       f"{sorted(free)} may differ between the models of a group "
                       "(run the others as separate groups).")


def group_mesh(n: int, devices=None) -> Mesh:
  """A ``("models", "data")`` mesh: as many devices on the model axis as divide
  ``n``, the rest on the batch axis."""
  devices = list(jax.devices() if devices is None else devices)
  m = math.gcd(n, len(devices))
  return Mesh(np.asarray(devices).reshape(m, len(devices) // m), ("models", "data"))


def stack(trees):
  return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


def unstack(tree, n: int) -> list:
  return [jax.tree.map(lambda x, i=i: x[i], tree) for i in range(n)]


class _StackedBatches:
  """Batch ``i`` of every model, stacked on a leading model axis (random access)."""

  def __init__(self, members, images, shard):
    self._seqs = [(m, m.batches(images, shard)) for m in members]

  def __len__(self):
    return min(len(s) for _, s in self._seqs)

  def __getitem__(self, i):
    return stack([m.device_batch(s[i]) for m, s in self._seqs])


class _Group:
  """The group as the input pipeline sees a method: batches and device batches."""

  def __init__(self, members):
    self.members = members

  def batches(self, images, shard):
    return _StackedBatches(self.members, images, shard)

  def device_batch(self, batch):
    return batch


# How the model axis is computed: "vmap" batches every model into each op
# (wider GEMMs: what fills an accelerator), "map" runs the models one after
# another inside the one program (``jax.lax.map``: a single model's kernels,
# one dispatch per step for the whole group: what a CPU prefers, since one
# model's 64-pair GEMMs already fill its cores), "auto" picks "map" on a CPU
# with the model axis on one device and "vmap" otherwise.
GROUP_MODES = ("auto", "vmap", "map")


def group_mode(config, mesh=None) -> str:
  """The model-axis mode ``config.train.group_mode`` resolves to on ``mesh``."""
  mode = str(config.train.get("group_mode", "auto"))
  if mode not in GROUP_MODES:
    raise ValueError(f"train.group_mode must be one of {', '.join(GROUP_MODES)}, "
                     f"got {mode!r}.")
  if mode != "auto":
    return mode
  sharded = mesh is not None and mesh.shape["models"] > 1
  return "map" if jax.default_backend() == "cpu" and not sharded else "vmap"


def make_group_step(method, mode: str = "vmap"):
  """The jitted ``(state, alive, batch, hparams) -> (state, alive, metrics)`` of a
  group: the method's pure step over the model axis (``mode``: "vmap" or
  "map", see ``GROUP_MODES``; both give the same numbers up to float
  reduction order). ``alive`` [N] freezes models that have gone non-finite
  (their state no longer changes)."""
  if not hasattr(method, "make_step"):
    raise ValueError(f"method '{method.name}' cannot train a group of models (it has "
                     "no pure make_step); use train.num_models=1.")
  if mode not in ("vmap", "map"):
    raise ValueError(f"group step mode must be 'vmap' or 'map', got {mode!r}.")
  step = method.make_step()

  def one(state, alive, batch, hp):
    new, metrics = step(state, batch, hp)
    ok = alive & metrics["finite"]
    return base.keep_if_finite(ok, new, state), ok, {**metrics, "finite": ok}

  if mode == "vmap":
    return jax.jit(jax.vmap(one), donate_argnums=(0,))

  def mapped(state, alive, batch, hp):
    return jax.lax.map(lambda args: one(*args), (state, alive, batch, hp))

  return jax.jit(mapped, donate_argnums=(0,))


def _resume_step(checkpointers) -> int | None:
  """The newest step every model has a checkpoint of (None: start afresh)."""
  steps = [set(c.steps()) for c in checkpointers]
  if not any(steps):
    return None
  common = set.intersection(*steps)
  if not common:
    logging.warning("the models of this group have no checkpoint step in common "
                    "(%s); starting them all from step 0.", [sorted(s) for s in steps])
    return None
  return max(common)


def train_group(configs, workdirs, *, images=None, init_from=None,
                stop_after: int | None = None, devices=None, also_per_model=()):
  """Trains (or resumes) the models of ``configs`` as one program.

  Args:
    configs: one single-model config per model (``member_configs``); they may
      differ only in ``PER_MODEL`` fields.
    workdirs: one work directory per model.
    images: the ImageSource (default: built from ``configs[0].data``).
    init_from: one state per model to start from instead of a fresh init
      (fine-tuning).
    stop_after: stop after this many steps in this call (tests simulate a kill).
    devices: the devices of the ``("models", "data")`` mesh (default: all).
    also_per_model: config fields besides ``PER_MODEL`` that may differ (e.g.
      ``transfer.source_workdir`` for fine-tunings).

  Returns:
    a list of (method, host state), one per model.
  """
  n = len(configs)
  if n != len(workdirs) or n < 1:
    raise ValueError(f"train_group needs one work directory per config, got "
                     f"{n} configs and {len(workdirs)} work directories.")
  if jax.process_count() > 1:
    raise ValueError("groups of models run in one process; on several hosts use "
                     "train.num_models=1 (data parallelism).")
  check_groupable(configs, also_per_model)
  config = configs[0]
  images = images if images is not None else workdir_lib.image_source(config)
  model = workdir_lib.build_model(config, images.image_shape)
  members = [methods.get_method(c, model) for c in configs]
  members[0].check_images(images)
  mesh = group_mesh(n, devices)
  if config.train.batch_size % mesh.shape["data"]:
    raise ValueError(f"train.batch_size {config.train.batch_size} must divide by the "
                     f"{mesh.shape['data']} devices of the batch axis.")
  failed = [os.path.exists(os.path.join(w, "failed.json")) for w in workdirs]
  if any(failed):
    bad = [w for w, f in zip(workdirs, failed) if f]
    raise ValueError(f"{bad} hold models that went non-finite (see failed.json); "
                     "delete those work directories or group the other models.")
  # One process per work directory (dtransfer.workdir_lock), held until return.
  with contextlib.ExitStack() as locks:
    for w in workdirs:
      locks.enter_context(workdir_lock.WorkdirLock(w))
    return _train_group_locked(configs, workdirs, members, images, mesh, n, config,
                               init_from, stop_after)


def _train_group_locked(configs, workdirs, members, images, mesh, n, config, init_from,
                        stop_after):
  for c, w in zip(configs, workdirs):
    workdir_lib.prepare_workdir(c, w)
  checkpointers = [ckpt_lib.Checkpointer(os.path.join(w, "checkpoints"),
                                         keep=c.train.keep_checkpoints)
                   for c, w in zip(configs, workdirs)]
  try:
    states = (list(init_from) if init_from is not None
              else [m.init(c.seed) for m, c in zip(members, configs)])
    start = _resume_step(checkpointers)
    if start is not None:
      states = [ck.restore(s, step=start)[1] for ck, s in zip(checkpointers, states)]
      logging.info("resumed a group of %d models at step %d", n, start)
    if int(states[0]["step"]) < int(config.train.num_steps):
      states = _loop(configs, workdirs, images, members, states, mesh, checkpointers,
                     stop_after)
  finally:
    for c in checkpointers:
      c.close()
  return list(zip(members, states))


def _loop(configs, workdirs, images, members, states, mesh, checkpointers, stop_after):
  n, config = len(configs), configs[0]
  total, start = int(config.train.num_steps), int(states[0]["step"])
  end = total if stop_after is None else min(total, start + int(stop_after))
  # Rows a killed run logged after the resumed checkpoint are dropped (one per step).
  writers = [jsonl_writer.MetricWriter(w, resume_step=start) for w in workdirs]
  boards = [event_writer.EventWriter(w, enabled=wr.enabled) for w, wr in zip(workdirs, writers)]
  logging.info("training a group of %d %s models from step %d to %d on mesh %s", n,
               members[0].name, start, total, dict(mesh.shape))
  mode = group_mode(config, mesh)
  step_fn = make_group_step(members[0], mode)
  logging.info("training a group of %d %s models (%s) from step %d to %d on mesh %s", n,
               members[0].name, mode, start, total, dict(mesh.shape))
  by_model = NamedSharding(mesh, P("models"))
  state = jax.device_put(stack(states), by_model)
  hparams = jax.device_put(stack([m.hparams() for m in members]), by_model)
  alive = jax.device_put(np.ones(n, bool), by_model)
  batch_sharding = NamedSharding(mesh, P("models", "data"))
  data = iter(train_lib.input_pipeline(_Group(members), images, start, end, config.data))
  progress = jsonl_writer.Progress(total, start, name=f"group of {n}")
  dead = np.zeros(n, bool)
  history = []
  try:
    for step in range(start + 1, end + 1):
      batch = jax.device_put(next(data), batch_sharding)
      state, alive, metrics = step_fn(state, alive, batch, hparams)
      history.append(metrics)
      if step % config.train.log_every == 0 or step == end:
        host = jax.device_get(history)
        history = []
        now_alive = np.asarray(jax.device_get(alive))
        with np.errstate(all="ignore"):  # the mean over time and live models, for the console
          terms = {k: float(np.nanmean([np.where(m["finite"], m[k], np.nan) for m in host]))
                   for k in host[0] if k != "finite"}
        rates = progress.update(step, terms)
        for i in np.flatnonzero(~dead):
          rows = [{k: v[i] for k, v in m.items()} for m in host]
          good = [r for r in rows if bool(r["finite"])]
          if good:
            mean = {k: float(np.mean([r[k] for r in good])) for k in good[0]
                    if k != "finite"}
            last = step if now_alive[i] else step - len(rows) + len(good)
            writers[i].write(last, **mean, **rates)
            boards[i].scalars(last, {**mean, **rates}, prefix="train/")
          if not now_alive[i]:
            dead[i] = True
            _fail(i, step - len(rows) + len(good) + 1, rows[len(good)], workdirs[i],
                  checkpointers[i], jax.device_get(state), n)
      if step % config.train.checkpoint_every == 0 or step == end:
        host_state = unstack(jax.device_get(state), n)
        for i in np.flatnonzero(~dead):
          checkpointers[i].save(step, host_state[i])
  finally:
    close = getattr(data, "close", None)
    if close is not None:
      close()
  return unstack(jax.device_get(state), n)


def _fail(i, step, row, workdir, checkpointer, host_state, n):
  """Saves model i's last finite state and writes why it stopped."""
  frozen = unstack(host_state, n)[i]
  checkpointer.save(int(frozen["step"]), frozen, force=True)
  message = (f"model {i} of the group: non-finite loss or gradient at step {step} "
             f"(loss={float(row['loss'])}); its last finite state (step "
             f"{int(frozen['step'])}) was saved and the other models went on. Lower "
             "optim.learning_rate or keep optim.grad_clip_norm > 0.")
  workdir_lib.write_json(os.path.join(workdir, "failed.json"),
                         {"step": int(step), "last_finite_step": int(frozen["step"]),
                          "message": message}, indent=1)
  logging.warning(message)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str):
  """Trains and evaluates ``config``: one run in ``workdir``, or, with
  ``train.num_models = N > 1``, a group of N runs in ``<workdir>/model_<i>``
  (evaluated one by one; returns their results as a list)."""
  n = num_models(config)
  if n == 1:
    return train_lib.train_and_evaluate(member_configs(config)[0], workdir)
  configs = member_configs(config)
  workdirs = member_workdirs(workdir, n)
  images = workdir_lib.image_source(config)
  trained = train_group(configs, workdirs, images=images)
  workdir_lib.write_json(os.path.join(workdir, "group.json"),
                         {"num_models": n, "members": [os.path.basename(w) for w in workdirs],
                          "seeds": [int(c.seed) for c in configs],
                          "betas": [float(c.model.beta) for c in configs]}, indent=1)
  results = []
  for (method, state), c, w in zip(trained, configs, workdirs):
    if os.path.exists(os.path.join(w, "failed.json")):
      results.append(None)
      continue
    results.append(evaluate.evaluate_model(method, state, images, c,
                                           os.path.join(w, "eval"),
                                           title=os.path.basename(w)))
  return results
