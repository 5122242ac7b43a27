"""Transfer: copy a source checkpoint, evaluate it on the target, fine-tune, evaluate again.

``transfer_and_evaluate(config, workdir)`` writes
  <workdir>/before/   evaluation of the copied source model on the target (zero-shot)
  <workdir>/after/    fine-tuning run (config.json, checkpoints/, metrics.jsonl) and
  <workdir>/after/eval/  its evaluation
  <workdir>/transfer.md  the before/after table
Fine-tuning is unsupervised (beta-VAE ELBO on target images; target labels are
used only to evaluate) and starts from the source's parameters and model state
(encoder, decoder, BatchNorm statistics). Its optimiser is always built from the
target's config (clipping, weight decay, learning rate); what it carries over
from the source's optimiser is its state, the Adam moments and step count
(``carry_optimizer_state``), unless ``transfer.reset_optimizer`` starts them
afresh. Clipping and weight decay hold no state, so source and target chains
may differ in them freely.
"""

from __future__ import annotations

import json
import os

import logging

import jax
import jax.numpy as jnp
import ml_collections
import optax

from dtransfer import evaluate
from dtransfer import report
from dtransfer import train as train_lib


# Model fields that define the network (taken from the source); beta is not one.
ARCHITECTURE_KEYS = ("name", "num_latents", "kwargs")
# Optimiser fields the authors' fine-tuning took from the source: it restored
# the source's torch Adam, param groups (lr, weight decay) included. Gradient
# clipping was code of the target's method, so it stays the target's.
REFERENCE_OPTIM_KEYS = ("learning_rate", "b1", "b2", "eps", "weight_decay")


def _is_part(node) -> bool:
  """A transform's own state: a NamedTuple such as ScaleByAdamState or EmptyState."""
  return isinstance(node, tuple) and hasattr(node, "_fields")


def _carried(part) -> bool:
  """Whether a transform's state moves from source to target: Adam's moments do;
  EmptyState holds nothing and a learning-rate schedule's counter belongs to the
  run (the target's schedule starts at its own step 0)."""
  return not isinstance(part, (optax.EmptyState, optax.ScaleByScheduleState))


def _stateful_parts(opt_state) -> list:
  """The optimiser state's carried transforms (e.g. ScaleByAdamState), in chain
  order; EmptyState, schedule counters and the chain/tuple containers are skipped."""
  return [x for x in jax.tree.leaves(opt_state, is_leaf=_is_part) if _carried(x)]


def carry_optimizer_state(source_opt_state, optimizer: optax.GradientTransformation,
                          params):
  """``optimizer``'s state for ``params`` with the source's moments put in.

  The target's chain (say Adam alone) may differ from the source's (clip, L2,
  Adam) in stateless parts; the stateful parts (Adam's count, mu and nu) must
  match one to one in type and order, and are copied over.
  """
  fresh = optimizer.init(params)
  src, dst = _stateful_parts(source_opt_state), _stateful_parts(fresh)
  if [type(x).__name__ for x in src] != [type(x).__name__ for x in dst]:
    raise ValueError(
        "cannot carry the source's optimiser state into fine-tuning: the source "
        f"holds {[type(x).__name__ for x in src]}, the target's optimiser needs "
        f"{[type(x).__name__ for x in dst]}. Set --config.transfer.reset_optimizer=True "
        "to start the target's optimiser afresh.")
  shapes = lambda t: jax.tree.map(jnp.shape, t)
  for a, b in zip(src, dst):
    if jax.tree.structure(a) != jax.tree.structure(b) or shapes(a) != shapes(b):
      raise ValueError(
          f"the source's {type(a).__name__} does not fit the target's parameters; "
          "set --config.transfer.reset_optimizer=True to start afresh.")
  parts, treedef = jax.tree.flatten(fresh, is_leaf=_is_part)
  carried = iter(src)
  return jax.tree.unflatten(treedef, [next(carried) if _carried(p) else p
                                      for p in parts])


def fine_tune_config(config: ml_collections.ConfigDict,
                     source_config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The config the fine-tuning actually runs with.

  The architecture always comes from the source. With
  ``transfer.reference_overrides`` the authors' behaviour is reproduced: every
  fine-tuning used beta=1 and seed 0, whatever the source's were, and the
  source's optimiser settings (learning rate, Adam betas, weight decay: their
  fine-tuning restored the source's torch optimiser, param groups included).
  """
  config = ml_collections.ConfigDict(config.to_dict())
  for key in ARCHITECTURE_KEYS:
    config.model[key] = source_config.model[key]
  config.objective = "beta_vae"
  if config.transfer.get("reference_overrides", False):
    config.model.beta = 1.0
    config.seed = 0
    for key in REFERENCE_OPTIM_KEYS:
      config.optim[key] = source_config.optim[key]
    logging.info("transfer.reference_overrides: fine-tuning with beta=1, seed 0 and the "
                 "source's optimiser settings %s (as the authors' code did).",
                 {k: config.optim[k] for k in REFERENCE_OPTIM_KEYS})
  return config


def initial_state(config: ml_collections.ConfigDict, source_state: dict) -> dict:
  """The state fine-tuning starts from: the source's parameters and model state,
  step 0, and the target's optimiser with the source's moments (or fresh ones
  with ``transfer.reset_optimizer``)."""
  optimizer = train_lib.make_optimizer(config.optim, config.train.num_steps)
  if config.transfer.get("reset_optimizer", False):
    opt_state = optimizer.init(source_state["params"])
  else:
    opt_state = carry_optimizer_state(source_state["opt_state"], optimizer,
                                      source_state["params"])
  return {"step": jnp.zeros((), jnp.int32), "params": source_state["params"],
          "model_state": source_state["model_state"], "opt_state": opt_state}


def _optimizer_line(config) -> str:
  o = config.optim
  carried = ("fresh Adam state" if config.transfer.get("reset_optimizer", False)
             else "Adam moments carried from the source")
  return (f"Adam lr {o.learning_rate:g}, weight decay {o.weight_decay:g}, "
          f"gradient clipping {o.grad_clip_norm if o.grad_clip_norm else 'off'}; {carried}"
          + ("; the authors' overrides (beta=1, seed 0, the source's optimiser settings)"
             if config.transfer.get("reference_overrides", False) else ""))


def transfer_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Evaluates the source model on the target before and after fine-tuning."""
  source_dir = config.transfer.source_workdir
  if not source_dir:
    raise ValueError("config.transfer.source_workdir is empty; set it to the work "
                     "directory of a trained source model (--config.transfer.source_workdir=...).")
  source_config = train_lib.read_config(source_dir)
  config = fine_tune_config(config, source_config)
  target = train_lib.load_source(config)
  source_shape = tuple(train_lib.load_source(source_config).image_shape)
  if source_shape != tuple(target.image_shape):
    raise ValueError(
        f"the source model in {source_dir} was trained on {source_config.data.name} "
        f"images of shape {source_shape}, but target {config.data.name} gives "
        f"{tuple(target.image_shape)}; train the source with matching channels "
        "(e.g. --config.data.kwargs.channels=3 for dsprites).")
  model, state = train_lib.load_trained(source_config, source_dir, image_shape=source_shape)
  os.makedirs(workdir, exist_ok=True)
  before = evaluate.evaluate_model(model, train_lib.variables_of(state), target, config,
                                   os.path.join(workdir, "before"),
                                   title=f"before fine-tuning on {config.data.name}")
  init = initial_state(config, state)
  after_dir = os.path.join(workdir, "after")
  model, tuned = train_lib.train(config, after_dir, source=target, init_from=init,
                                 objective="beta_vae")
  after = evaluate.evaluate_model(model, train_lib.variables_of(tuned), target, config,
                                  os.path.join(after_dir, "eval"),
                                  title=f"after fine-tuning on {config.data.name}")
  table = report.comparison_table({"before": before, "after": after},
                                  target.space.names, delta_from="before")
  with open(os.path.join(workdir, "transfer.md"), "w") as f:
    f.write(f"# Transfer {source_config.data.name} -> {config.data.name}\n\n"
            f"Source: `{source_dir}`; fine-tuned {config.train.num_steps} steps "
            f"(beta={config.model.beta}, seed={config.seed}; {_optimizer_line(config)}).\n\n"
            f"{table}\n")
  with open(os.path.join(workdir, "transfer.json"), "w") as f:
    json.dump({"source_workdir": source_dir, "before": before, "after": after}, f)
  return {"before": before, "after": after}
