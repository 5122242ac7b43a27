"""Transfer studies: the paper's (source, target) pairs x betas x seeds.

  python -m launch.sweep --study=configs/study.py:quick --root=runs/quick
  python -m launch.sweep --study=configs/study.py:paper --root=runs/paper \
      --study.data_dir=/data/disentanglement --parallel=4
  python -m launch.sweep --study=configs/study.py:paper,pairs=1+5+6,seeds=0-4 ...

Argument: ``<preset>[,pairs=A+B+...][,betas=1+2][,seeds=0-9]``.
  paper  the paper's protocol (Dapueto et al. 2024): all 15 pairs plus
         Shapes3D -> Isaac3D (appendix); beta in {1, 2} x seeds 0-9 = 20
         source models per pair; each source and fine-tuning run exactly as
         configs/source.py:<source>,paper and configs/transfer.py:<target>,paper
         (the authors' network, steps, weight decay, warm-up and clipping);
         evaluation on 15,008 samples with every metric.
  quick  minutes per run on a 2-core CPU, offline datasets only: three pairs
         (dSprites -> Noisy-dSprites, Color-dSprites -> Noisy-Color-dSprites,
         Color-dSprites -> real_objects), beta 1, seed 0.
  tiny   seconds: tests.
``pairs`` also accepts ``all`` (every pair), ``paper`` (the 15 + Isaac3D) and
``offline`` (every pair that runs without downloads). Pairs whose datasets
need the original files (Coil100, RGB-D Objects, Isaac3D) read them from
``data_dir``; they run as soon as the files are there (the sweep says which
file is missing and where it looked).

Per-run configs come from ``source_config`` and ``target_config`` below, which
start from configs/source.py and configs/transfer.py.
"""

from __future__ import annotations

import ml_collections

from configs import common
from configs import cycle_vae as cycle_cfg
from configs import source as source_cfg
from configs import transfer as transfer_cfg
# The pair table lives in the library (studies and reports need it); the
# names stay importable from here.
from dtransfer.transfer_pairs import OFFLINE  # pylint: disable=unused-import
from dtransfer.transfer_pairs import PAIRS
from dtransfer.transfer_pairs import PAPER_PAIRS
from dtransfer.transfer_pairs import QUICK_PAIRS
from dtransfer.transfer_pairs import needs_originals
from dtransfer.transfer_pairs import offline_pairs
from dtransfer.transfer_pairs import pair_dirname  # pylint: disable=unused-import
from dtransfer.transfer_pairs import pair_key

# Evaluation sizes of the quick preset: a few seconds of metrics per model.
QUICK_METRIC_KWARGS = {
    "dci_n_estimators": 5,
    "downstream_n_estimators": 10,
    "downstream_num_train": 1000,
    "downstream_num_test": 500,
    "beta_vae_num_train": 500,
    "beta_vae_num_eval": 250,
    "factor_vae_num_train": 500,
    "factor_vae_num_eval": 250,
}


def _split_list(text: str) -> list[str]:
  return [p for p in text.replace(";", "+").split("+") if p]


def parse_pairs(text: str) -> list[str]:
  out = []
  for part in _split_list(text):
    group = {"all": tuple(PAIRS), "paper": PAPER_PAIRS, "offline": offline_pairs(),
             "quick": QUICK_PAIRS}.get(part)
    for key in group or (pair_key(part),):
      if key not in out:
        out.append(key)
  return out


def parse_seeds(text: str) -> list[int]:
  """"0-9" or "0+3+5" -> list of ints."""
  out = []
  for part in _split_list(text):
    if "-" in part:
      lo, hi = part.split("-", 1)
      out += list(range(int(lo), int(hi) + 1))
    else:
      out.append(int(part))
  return out


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  a = common.parse_arg(arg, preset="quick", pairs="", betas="", seeds="", method="weak_vae")
  if a.method not in SOURCE_METHODS:
    raise ValueError(f"unknown source method '{a.method}'; choose one of "
                     f"{sorted(SOURCE_METHODS)}.")
  if a.preset not in common.PRESETS:
    raise ValueError(f"unknown preset '{a.preset}'; choose one of {common.PRESETS}.")
  paper = a.preset == "paper"
  c = ml_collections.ConfigDict()
  c.name = a.preset
  c.preset = a.preset
  c.pairs = parse_pairs(a.pairs or ("paper" if paper else "quick"))
  c.betas = [float(b) for b in _split_list(a.betas or ("1+2" if paper else "1"))]
  c.seeds = parse_seeds(a.seeds or ("0-9" if paper else "0"))
  c.data_dir = ""                  # original files (Coil100, RGB-D, Isaac3D, ...)
  c.original_source = "original"   # how datasets without a renderer are read: original | tfds
  c.synthetic_source = "procedural"  # procedural | original | tfds for dSprites/Shapes3D
  c.method = a.method             # source method: weak_vae | cycle_vae (use its own --root)
  c.model = ""                     # architecture of every source; "" = the preset's
                                   # (configs/source.py: dapueto for paper)
  c.reference_overrides = False    # True: fine-tune with beta=1, seed 0 (the authors' quirk)
  # Preset sizes; 0 keeps the preset's value. Any run-level field can also be
  # changed with --study.source_steps=... etc.
  c.source_steps = 0
  c.finetune_steps = 0
  c.batch_size = 0
  c.eval_samples = 0
  c.metrics = list(_metrics(a.preset))
  c.metric_kwargs = ml_collections.ConfigDict(
      QUICK_METRIC_KWARGS if a.preset == "quick" else
      {"dci_n_estimators": 5, "downstream_n_estimators": 5} if a.preset == "tiny" else {})
  c.distance_samples = {"paper": 2000, "quick": 500, "tiny": 64}[a.preset]
  return c


def _metrics(preset: str) -> tuple[str, ...]:
  if preset == "paper":  # the authors' list (eval_representation.py)
    return ("omes", "mig", "dci", "beta_vae", "factor_vae", "gbt", "mlp", "gbt_pruned",
            "mlp_pruned")
  if preset == "quick":
    return ("omes", "mig", "dci", "beta_vae", "factor_vae", "gbt", "gbt_pruned")
  return ("omes", "mig", "gbt", "gbt_pruned")


def _data(study, dataset: str) -> ml_collections.ConfigDict:
  """The data block of a dataset: renderer if it has one, else the original files."""
  kind = study.original_source if needs_originals(dataset) else study.synthetic_source
  data = common.data_config(dataset, **source_cfg.SOURCE_KWARGS.get(dataset, {}))
  data.origin = kind
  data.data_dir = study.data_dir if kind != "procedural" else ""
  return data


def _apply_eval(study, c) -> None:
  c.eval.metrics = list(study.metrics)
  c.eval.metric_kwargs = ml_collections.ConfigDict(study.metric_kwargs.to_dict())
  if study.preset == "quick":
    c.eval.num_samples = 2000
  if study.eval_samples:
    c.eval.num_samples = int(study.eval_samples)


# Source methods a study can train, by name: their config files.
SOURCE_METHODS = {"weak_vae": source_cfg, "cycle_vae": cycle_cfg}


def source_config(study, dataset: str, beta: float, seed: int) -> ml_collections.ConfigDict:
  """The source training of one (dataset, beta, seed): weakly supervised, or the
  cycle-consistent VAE with ``study.method = cycle_vae`` (beta is then unused)."""
  method = study.get("method", "weak_vae")
  c = SOURCE_METHODS[method].get_config(f"{dataset},{study.preset}")
  shared = c.data.get("shared", None)
  c.data = _data(study, dataset)
  if shared is not None:
    c.data.shared = shared
  if study.model:
    c.model.name = study.model
  c.model.beta = float(beta)
  c.seed = int(seed)
  if study.preset == "quick":
    c.train.num_steps = 200
    c.train.batch_size = 32
    c.train.checkpoint_every = 100
    c.train.log_every = 50
  if study.source_steps:
    c.train.num_steps = int(study.source_steps)
  if study.batch_size:
    c.train.batch_size = int(study.batch_size)
  if study.preset != "paper" and c.model.beta_warmup_steps:
    c.model.beta_warmup_steps = c.train.num_steps // 8
  c.train.checkpoint_every = min(c.train.checkpoint_every, c.train.num_steps)
  _apply_eval(study, c)
  return c


def target_config(study, pair: str, beta: float, seed: int,
                  source_workdir: str) -> ml_collections.ConfigDict:
  """Transfer + unsupervised fine-tuning of one source model on the pair's target."""
  _, target, _ = PAIRS[pair_key(pair)]
  c = transfer_cfg.get_config(f"{target},{study.preset}")
  c.data = _data(study, target)
  c.model.beta = float(beta)      # the fine-tuning's own beta and seed (a project choice;
                                  # reference_overrides gives the authors' beta=1, seed 0)
  c.seed = int(seed)
  c.transfer.source_workdir = source_workdir
  c.transfer.reference_overrides = bool(study.reference_overrides)
  if study.preset == "quick":
    c.train.num_steps = 100
    c.train.batch_size = 32
    c.train.checkpoint_every = 50
    c.train.log_every = 25
  if study.finetune_steps:
    c.train.num_steps = int(study.finetune_steps)
  if study.batch_size:
    c.train.batch_size = int(study.batch_size)
  c.train.checkpoint_every = min(c.train.checkpoint_every, c.train.num_steps)
  _apply_eval(study, c)
  return c
