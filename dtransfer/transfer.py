"""Transfer: copy a source checkpoint, evaluate it on the target, fine-tune, evaluate again.

``transfer_and_evaluate(config, workdir)`` writes
  <workdir>/before/   evaluation of the copied source model on the target (zero-shot)
  <workdir>/after/    fine-tuning run (config.json, checkpoints/, metrics.jsonl) and
  <workdir>/after/eval/  its evaluation
  <workdir>/transfer.md  the before/after table
Fine-tuning is unsupervised (beta-VAE ELBO on target images; target labels are
used only to evaluate) and starts from everything the source saved: encoder,
decoder and, unless ``transfer.reset_optimizer``, the Adam state.
"""

from __future__ import annotations

import json
import os

import jax.numpy as jnp
import ml_collections

from dtransfer import evaluate
from dtransfer import report
from dtransfer import train as train_lib


# Model fields that define the network (taken from the source); beta is not one.
ARCHITECTURE_KEYS = ("name", "num_latents", "kwargs")


def fine_tune_config(config: ml_collections.ConfigDict,
                     source_config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The config the fine-tuning actually runs with.

  The architecture always comes from the source. With
  ``transfer.reference_overrides`` the authors' quirk is reproduced: every
  fine-tuning used beta=1 and seed 0, whatever the source's were.
  """
  config = ml_collections.ConfigDict(config.to_dict())
  for key in ARCHITECTURE_KEYS:
    config.model[key] = source_config.model[key]
  config.objective = "beta_vae"
  if config.transfer.get("reference_overrides", False):
    config.model.beta = 1.0
    config.seed = 0
  return config


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
  init = dict(state)
  init["step"] = jnp.zeros((), jnp.int32)
  if config.transfer.get("reset_optimizer", False):
    init["opt_state"] = train_lib.make_optimizer(config.optim).init(state["params"])
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
            f"(beta={config.model.beta}, seed={config.seed}).\n\n{table}\n")
  with open(os.path.join(workdir, "transfer.json"), "w") as f:
    json.dump({"source_workdir": source_dir, "before": before, "after": after}, f)
  return {"before": before, "after": after}
