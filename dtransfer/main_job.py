"""The main job: source training, an untrained baseline, transfer, fine-tuning, report.

``run_main_job(config, workdir)`` (config: configs/main_job.py) writes
  <workdir>/source/            weak source training and its evaluation (eval/)
  <workdir>/source_untrained/  the same network at initialisation, evaluated alike
  <workdir>/transfer/          before/after evaluation on the target (dtransfer.transfer)
  <workdir>/report.md          tables and figures of all of the above
Every stage skips work already done, so a killed job re-run finishes the rest.
"""

from __future__ import annotations

import json
import os
import time

import ml_collections

from dtransfer import config_check
from dtransfer import curves
from dtransfer import evaluate
from dtransfer import methods
from dtransfer import report
from dtransfer import results as results_lib
from dtransfer import train as train_lib
from dtransfer import transfer as transfer_lib
from dtransfer import workdir as workdir_lib
from dtransfer import workdir_lock


class StageTimer:
  """Wall time of each main-job stage, kept in ``<workdir>/timings.json``.

  A stage found finished is announced as skipped and keeps the time it took
  when it ran.
  """

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, "timings.json")
    self.seconds = {}
    if os.path.exists(self.path):
      with open(self.path) as f:
        self.seconds = json.load(f)

  def run(self, stage: str, path: str, compute):
    if os.path.exists(path):
      print(f"[main] {stage}: already done ({path}), skipped", flush=True)
      return workdir_lib.cached_json(path, compute)
    print(f"[main] {stage}: started", flush=True)
    start = time.perf_counter()
    result = workdir_lib.cached_json(path, compute)
    self.seconds[stage] = round(time.perf_counter() - start, 1)
    print(f"[main] {stage}: done in {self.seconds[stage]:.1f} s", flush=True)
    workdir_lib.write_json(self.path, self.seconds, indent=1)
    return result

  def table(self, workdir: str) -> str:
    """Stages, then the evaluations inside them (from each one's timing.json)."""
    rows = "".join(f"| {k} | {v:.1f} |\n" for k, v in self.seconds.items())
    total = sum(self.seconds.values())
    for name, sub in EVALUATIONS.items():
      path = os.path.join(workdir, sub, "timing.json")
      if os.path.exists(path):
        with open(path) as f:
          rows += f"| &nbsp;&nbsp;of which evaluation: {name} | {json.load(f)['seconds']:.1f} |\n"
    return f"| stage | wall time (s) |\n|---|---|\n{rows}| total | {total:.1f} |\n"


# The main job's evaluations and where they write.
EVALUATIONS = {"source": "source/eval", "untrained": "source_untrained",
               "before": "transfer/before", "after": "transfer/after/eval"}


def run_main_job(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Runs the whole study of one (source, target) pair and writes report.md."""
  config_check.validate(config)  # both experiments, before anything is written
  workdir = config_check.check_workdir(workdir)
  with workdir_lock.WorkdirLock(workdir):
    return _run_main_job(config, workdir)


def _run_main_job(config: ml_collections.ConfigDict, workdir: str) -> dict:
  src_cfg, tgt_cfg = config.source, ml_collections.ConfigDict(config.target.to_dict())
  src_dir = os.path.join(workdir, "source")
  source = workdir_lib.image_source(src_cfg)
  timer = StageTimer(workdir)

  def train_source():
    return train_lib.train_and_evaluate(src_cfg, src_dir)

  trained = timer.run("source training + evaluation",
                      os.path.join(workdir, "source_eval.json"), train_source)

  def untrained():
    method = methods.get_method(src_cfg, workdir_lib.build_model(src_cfg, source.image_shape))
    return evaluate.evaluate_model(method, method.init(src_cfg.seed), source, src_cfg,
                                   os.path.join(workdir, "source_untrained"),
                                   title="untrained network")

  baseline = timer.run("untrained baseline evaluation",
                       os.path.join(workdir, "untrained_eval.json"), untrained)
  tgt_cfg.transfer.source_workdir = src_dir
  moved = timer.run(
      "transfer: before, fine-tuning, after", os.path.join(workdir, "transfer_eval.json"),
      lambda: transfer_lib.transfer_and_evaluate(tgt_cfg, os.path.join(workdir, "transfer")))
  write_report(workdir, src_cfg, tgt_cfg, source.space.names,
               workdir_lib.image_source(tgt_cfg).space.names, trained, baseline, moved,
               timings=timer.table(workdir))
  return {"source": trained, "untrained": baseline, **moved}


def _warnings(named: dict) -> str:
  """The metrics' own warnings (inactive dims, factors without pairs), one bullet each."""
  return "\n".join(f"- {name}, {w}" for name, results in named.items()
                   for w in results_lib.warnings(results))


def _as_run(run_dir: str, fallback):
  """The config a run directory was trained with (config.json), else ``fallback``."""
  try:
    return workdir_lib.read_config(run_dir)
  except (FileNotFoundError, OSError, ValueError):
    return fallback


def write_report(workdir, src_cfg, tgt_cfg, src_names, tgt_names, trained, baseline, moved,
                 timings: str = ""):
  """report.md: the source against its untrained twin, the target before and after."""
  src, tgt = src_cfg.data.name, tgt_cfg.data.name
  steps = src_cfg.train.num_steps
  title, trained_how = "Weakly supervised source", (
      f"the paired ELBO ({src_cfg.loss.aggregator} aggregator, {src_cfg.loss.averaging}\n"
      f"averaging, beta={src_cfg.model.beta}, k={src_cfg.data.k})")
  source_figures = f"""Latent traversals (row zN varies latent dim N, from -2 to 2 around one image's code) and
reconstructions (top: input, bottom: reconstruction):

| | traversals | reconstructions |
|---|---|---|
| trained | ![](source/eval/traversals.png) | ![](source/eval/reconstructions.png) |
| untrained | ![](source_untrained/traversals.png) | ![](source_untrained/reconstructions.png) |"""
  tuned_how = f"the unsupervised beta-VAE ELBO\n(beta={tgt_cfg.model.beta})"
  target_figures = f"""Traversals and reconstructions on {tgt}:

| | traversals | reconstructions |
|---|---|---|
| before | ![](transfer/before/traversals.png) | ![](transfer/before/reconstructions.png) |
| after | ![](transfer/after/eval/traversals.png) | ![](transfer/after/eval/reconstructions.png) |"""
  if methods.method_name(src_cfg) == "cycle_vae":
    cyc = src_cfg.cycle
    title = "Cycle-consistent VAE source"
    trained_how = (f"the forward and reverse cycles (w_rec={cyc.w_rec}, w_kl={cyc.w_kl},\n"
                   f"w_rev={cyc.w_rev}; pairs share {src_cfg.data.shared})")
    source_figures = ("Swap grids of the trained source (top row gives s, left column "
                      "gives z):\n\n![](source/eval/swap.png) ![](source/eval/swap_factor.png)")
    tuned_how = "the cycle-VAE objective without labels\n(forward cycle on single images, reverse cycle)"
    target_figures = (f"After fine-tuning: swap grids on {tgt}:\n\n"
                      "![](transfer/after/eval/swap.png)")
  text = f"""# dtransfer main job: {src} -> {tgt}

## 1. {title} on {src}

{steps} steps of {trained_how}, {src_cfg.train.batch_size} pairs per step,
model `{src_cfg.model.name}` with {src_cfg.model.num_latents} latents, seed {src_cfg.seed}.
Evaluated on {src_cfg.eval.num_samples} samples (posterior means) of {src}.

{report.comparison_table({"untrained": baseline, "trained": trained}, src_names, delta_from="untrained")}

{{curves}}| trained: association matrix S | untrained: association matrix S |
|---|---|
| ![](source/eval/association.png) | ![](source_untrained/association.png) |

Hatched rows are inactive dims and hatched columns excluded factors: OMES does not score
them, whatever their S.

{source_figures}

## 2. Transfer to {tgt}: before and after fine-tuning

The source checkpoint is copied and evaluated on {tgt} without training ("before"), then
fine-tuned for {tgt_cfg.train.num_steps} steps with {tuned_how} on {tgt} images and evaluated again ("after").
Numbers in brackets are after - before.

{report.comparison_table({"before": moved["before"], "after": moved["after"]}, tgt_names, delta_from="before")}

| before: association matrix S | after: association matrix S |
|---|---|
| ![](transfer/before/association.png) | ![](transfer/after/eval/association.png) |

{target_figures}

Raw numbers: `source/eval/results.json`, `source_untrained/results.json`,
`transfer/before/results.json`, `transfer/after/eval/results.json`; training curves in
`source/metrics.jsonl` and `transfer/after/metrics.jsonl`, and as TensorBoard event files
beside them (`tensorboard --logdir {workdir}`: training scalars, evaluation images).
"""
  plotted = curves.save_loss_curves(
      {f"source training on {src}": os.path.join(workdir, "source", "metrics.jsonl"),
       f"fine-tuning on {tgt}": os.path.join(workdir, "transfer", "after", "metrics.jsonl")},
      os.path.join(workdir, "loss_curves.png"))
  text = text.replace("{curves}", "Training curves (loss terms per logged step; left: the source, "
                      "right: fine-tuning on the target):\n\n![](loss_curves.png)\n\n"
                      if plotted else "")
  notes = _warnings({"untrained source": baseline, "trained source": trained,
                     "before": moved["before"], "after": moved["after"]})
  if notes:
    text += "\n## Notes from the metrics\n\n" + notes + "\n"
  if timings:
    text += "\n## Wall time of each stage\n\n" + timings
  text += "\n## Configs\n\n" + report.config_section({
      "source training, its evaluation and the untrained baseline": src_cfg,
      "transfer: before, fine-tuning and after (as run, from transfer/after/config.json)":
          _as_run(os.path.join(workdir, "transfer", "after"), tgt_cfg)})
  path = os.path.join(workdir, "report.md")
  with open(path, "w") as f:
    f.write(text)
  return path
