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

import contextlib
import logging
import os

import ml_collections

from dtransfer import config_check
from dtransfer import evaluate
from dtransfer import group
from dtransfer import methods
from dtransfer import report
from dtransfer import train as train_lib
from dtransfer import workdir as workdir_lib
from dtransfer import workdir_lock
# How the source's optimiser state carries over (re-exported: tests use it here).
from dtransfer.optim import _is_part  # pylint: disable=unused-import
from dtransfer.optim import _stateful_parts  # pylint: disable=unused-import
from dtransfer.optim import carry_optimizer_state  # pylint: disable=unused-import


# Model fields that define the network (taken from the source); beta is not one.
ARCHITECTURE_KEYS = ("name", "num_latents", "kwargs")
# Optimiser fields the authors' fine-tuning took from the source: it restored
# the source's torch Adam, param groups (lr, weight decay) included. Gradient
# clipping was code of the target's method, so it stays the target's.
REFERENCE_OPTIM_KEYS = ("learning_rate", "b1", "b2", "eps", "weight_decay")


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
  # The method that fine-tunes the source's method (weak_vae -> beta_vae).
  fine_tune = methods.get_class(methods.method_name(source_config)).FINE_TUNE
  config.method = ml_collections.ConfigDict({"name": fine_tune})
  # A method's own settings block (e.g. the cycle-VAE's loss weights) follows the
  # source unless the target's config sets one.
  block = methods.get_class(fine_tune).CONFIG_BLOCK
  if block and block in source_config and block not in config:
    config[block] = ml_collections.ConfigDict(source_config[block].to_dict())
  if config.transfer.get("reference_overrides", False):
    config.model.beta = 1.0
    config.seed = 0
    for key in REFERENCE_OPTIM_KEYS:
      config.optim[key] = source_config.optim[key]
    logging.info("transfer.reference_overrides: fine-tuning with beta=1, seed 0 and the "
                 "source's optimiser settings %s (as the authors' code did).",
                 {k: config.optim[k] for k in REFERENCE_OPTIM_KEYS})
  return config


def initial_state(config: ml_collections.ConfigDict, source_state: dict,
                  source_method=None, model=None) -> dict:
  """The state fine-tuning (the method of ``config``) starts from: what
  ``source_method`` exports of its state (for the VAEs: parameters, model
  state, Adam's moments; without a method, the state as it is), at step 0
  with the target's optimiser (``transfer.reset_optimizer``: fresh moments)."""
  parts = source_method.export(source_state) if source_method else source_state
  return methods.get_method(config, model).init_from(parts)


def _optimizer_line(config) -> str:
  o = config.optim
  carried = ("fresh Adam state" if config.transfer.get("reset_optimizer", False)
             else "Adam moments carried from the source")
  return (f"Adam lr {o.learning_rate:g}, weight decay {o.weight_decay:g}, "
          f"gradient clipping {o.grad_clip_norm if o.grad_clip_norm else 'off'}; {carried}"
          + ("; the authors' overrides (beta=1, seed 0, the source's optimiser settings)"
             if config.transfer.get("reference_overrides", False) else ""))


def _prepare(config: ml_collections.ConfigDict):
  """The fine-tuning config, target source, source method and state of a transfer."""
  source_dir = config.transfer.source_workdir
  if not source_dir:
    raise ValueError("config.transfer.source_workdir is empty; set it to the work "
                     "directory of a trained source model (--config.transfer.source_workdir=...).")
  source_config = workdir_lib.read_config(source_dir)
  config = fine_tune_config(config, source_config)
  target = workdir_lib.image_source(config)
  source_shape = tuple(workdir_lib.image_source(source_config).image_shape)
  if source_shape != tuple(target.image_shape):
    raise ValueError(
        f"the source model in {source_dir} was trained on {source_config.data.name} "
        f"images of shape {source_shape}, but target {config.data.name} gives "
        f"{tuple(target.image_shape)}; train the source with matching channels "
        "(e.g. --config.data.kwargs.channels=3 for dsprites).")
  model, state = workdir_lib.load_trained(source_config, source_dir,
                                          image_shape=source_shape)
  return config, source_config, target, methods.get_method(source_config, model), state


def _before(config, target, source_method, state, workdir: str) -> dict:
  """Zero-shot: the source's representation of the target's images."""
  os.makedirs(workdir, exist_ok=True)
  return evaluate.evaluate_model(source_method, state, target, config,
                                 os.path.join(workdir, "before"),
                                 title=f"before fine-tuning on {config.data.name}")


def _after(config, source_config, target, method, tuned, before, workdir: str) -> dict:
  """Evaluates the fine-tuned model and writes transfer.md / transfer.json."""
  source_dir = config.transfer.source_workdir
  after = evaluate.evaluate_model(method, tuned, target, config,
                                  os.path.join(workdir, "after", "eval"),
                                  title=f"after fine-tuning on {config.data.name}")
  table = report.comparison_table({"before": before, "after": after},
                                  target.space.names, delta_from="before")
  with open(os.path.join(workdir, "transfer.md"), "w") as f:
    f.write(f"# Transfer {source_config.data.name} -> {config.data.name}\n\n"
            f"Source: `{source_dir}`; fine-tuned {config.train.num_steps} steps "
            f"(beta={config.model.beta}, seed={config.seed}; {_optimizer_line(config)}).\n\n"
            f"{table}\n")
  workdir_lib.write_json(os.path.join(workdir, "transfer.json"),
                         {"source_workdir": source_dir, "before": before, "after": after})
  return {"before": before, "after": after}


def transfer_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Evaluates the source model on the target before and after fine-tuning."""
  config_check.validate(config)
  workdir = config_check.check_workdir(workdir)
  with workdir_lock.WorkdirLock(workdir):
    return _transfer_and_evaluate(config, workdir)


def _transfer_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  config, source_config, target, source_method, state = _prepare(config)
  before = _before(config, target, source_method, state, workdir)
  init = initial_state(config, state, source_method, source_method.model)
  method, tuned = train_lib.train(config, os.path.join(workdir, "after"), images=target,
                                  init_from=init)
  return _after(config, source_config, target, method, tuned, before, workdir)


def transfer_group(configs, workdirs) -> list[dict]:
  """``transfer_and_evaluate`` of several transfers to one target, their
  fine-tunings trained as one group (dtransfer.group). The configs may differ
  only in seed, beta and ``transfer.source_workdir``."""
  for c in configs:
    config_check.validate(c)
  workdirs = [config_check.check_workdir(w) for w in workdirs]
  with contextlib.ExitStack() as locks:
    for w in workdirs:
      locks.enter_context(workdir_lock.WorkdirLock(w))
    prepared = [_prepare(c) for c in configs]
    befores = [_before(p[0], p[2], p[3], p[4], w) for p, w in zip(prepared, workdirs)]
    inits = [initial_state(p[0], p[4], p[3], p[3].model) for p in prepared]
    tuned = group.train_group([p[0] for p in prepared],
                              [os.path.join(w, "after") for w in workdirs],
                              images=prepared[0][2], init_from=inits,
                              also_per_model=("transfer.source_workdir",))
    return [_after(p[0], p[1], p[2], m, t, b, w)
            for p, (m, t), b, w in zip(prepared, tuned, befores, workdirs)]
