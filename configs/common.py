"""Shared config pieces: the default experiment and the ``:arg`` parser.

Config files are ``get_config(arg)`` functions read by absl ``config_flags``;
``arg`` is a comma-separated list like ``dsprites,quick`` or
``source=color_dsprites,target=noisy_color_dsprites,paper`` (big_vision style).
"""

from __future__ import annotations

import difflib

import ml_collections

PRESETS = ("quick", "paper", "tiny")


def parse_arg(arg: str | None, bare_words=None, **defaults) -> ml_collections.ConfigDict:
  """Parses ``a,b=1,c=x`` into a ConfigDict.

  A bare word is a preset, or the ``dataset`` slot's value: one of
  ``bare_words`` (default: the registered dataset names; a method over pairs
  of domains passes its pair names).
  """
  out = ml_collections.ConfigDict(defaults)
  names = list(bare_words) if bare_words is not None else None
  for part in (arg or "").split(","):
    part = part.strip()
    if not part:
      continue
    if "=" in part:
      key, value = part.split("=", 1)
      if key not in out:
        raise ValueError(f"unknown config argument '{key}' in '{arg}'; known: "
                         f"{sorted(out.keys())}.")
      kind = type(out[key])
      out[key] = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
    elif part in PRESETS:
      out.preset = part
    elif "dataset" in out and part in (names if names is not None else _dataset_names()):
      out.dataset = part
    else:
      choices = (names if names is not None else _dataset_names()) if "dataset" in out else []
      close = difflib.get_close_matches(part, list(PRESETS) + choices, n=2, cutoff=0.6)
      hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
      what = "datasets" if names is None else "choices"
      datasets_txt = f", {what} are {', '.join(choices)}" if choices else ""
      raise ValueError(f"unknown config argument '{part}' in '{arg}': {hint}presets are "
                       f"{', '.join(PRESETS)}{datasets_txt}; key=value pairs may set "
                       f"{', '.join(sorted(out.keys()))}.")
  return out


def _dataset_names() -> list[str]:
  from dtransfer import datasets  # pylint: disable=g-import-not-at-top
  return datasets.names()


def data_config(name: str, **kwargs) -> ml_collections.ConfigDict:
  """Where images come from and how weak pairs are drawn."""
  return ml_collections.ConfigDict({
      "name": name,
      "origin": "procedural",   # procedural | tfds | original
      "data_dir": "",           # prepared TFDS data or original files
      "kwargs": ml_collections.ConfigDict(kwargs),  # dataset options, e.g. channels
      "k": 1,                   # factors changed per weak pair
      "pair_mode": "exact",     # exact: k factors, new values differ | dlib: 1 or k, may repeat
      "prefetch": 2,            # batches prepared ahead (grain's prefetch buffer)
      "num_threads": 1,         # grain threads preparing them
  })


def base_config() -> ml_collections.ConfigDict:
  """The paper's source training (Dapueto et al. 2024), before presets."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.data = data_config("dsprites", channels=3)
  c.model = ml_collections.ConfigDict({
      "name": "dlib_conv",      # dlib_conv | dapueto
      "num_latents": 10,
      "beta": 1.0,              # weight of the KL term
      "beta_warmup_steps": 0,   # linear warm-up of beta from 0 (the authors')
      "kwargs": ml_collections.ConfigDict(),
  })
  # The method (dtransfer/methods): weak_vae (paired ELBO) | beta_vae.
  c.method = ml_collections.ConfigDict({"name": "weak_vae"})
  c.loss = ml_collections.ConfigDict({
      "aggregator": "labels",   # labels | argmax
      "averaging": "gvae",      # gvae | mlvae
      "divergence": "dlib",     # argmax: dlib (2 KL(q1||q2)) | symmetric (the authors')
      "threshold": "example",   # argmax: example (dlib) | batch (the authors' unused code)
      # labels: the factor of each latent dim (-1: always shared); () = dim i
      # belongs to factor i (the authors'). E.g. (0, 1, 2, 3, 4, 2) with 6
      # latents gives orientation two dims.
      "dim_labels": (),
  })
  c.optim = ml_collections.ConfigDict({
      "learning_rate": 1e-4,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "weight_decay": 0.0,
      "grad_clip_norm": 1.0,    # 0 disables clipping
      "schedule": "constant",   # constant (the paper's) | cosine
      "warmup_steps": 0,        # cosine: linear learning-rate warm-up
      "end_lr_fraction": 0.0,   # cosine: final learning rate / peak
  })
  c.train = ml_collections.ConfigDict({
      "num_steps": 400_000,
      "batch_size": 64,         # pairs (weak) or images (beta_vae)
      "log_every": 100,
      "checkpoint_every": 10_000,
      "keep_checkpoints": 2,
      # A group of models trained as one program (dtransfer.group): model i
      # uses seeds[i] (default seed + i) and betas[i] (default model.beta) and
      # writes <workdir>/model_<i> like a single run.
      "num_models": 1,
      "seeds": (),
      "betas": (),
      "group_mode": "auto",     # auto | vmap | map: how the model axis is computed
  })
  c.eval = ml_collections.ConfigDict({
      "num_samples": 15_008,
      "batch_size": 512,
      "seed": 0,
      "metrics": ["omes", "gbt", "mlp", "gbt_pruned", "mlp_pruned"],
      "metric_kwargs": ml_collections.ConfigDict(),
      "traversal_steps": 9,
  })
  return c


def apply_preset(c: ml_collections.ConfigDict, preset: str) -> ml_collections.ConfigDict:
  """Scales steps and evaluation for the machine at hand."""
  if preset == "paper":
    return c
  if preset == "quick":       # a few CPU minutes
    c.train.num_steps = 1500
    c.train.batch_size = 32
    c.train.log_every = 50
    c.train.checkpoint_every = 500
    c.eval.num_samples = 6000
    c.eval.metrics = ["omes", "gbt", "gbt_pruned"]
    # GBT with 20 trees instead of sklearn's 100: the classifier dominates the
    # evaluation time on CPU (dSprites has 32- and 40-class factors).
    c.eval.metric_kwargs = ml_collections.ConfigDict({"downstream_num_train": 3000,
                                                      "downstream_num_test": 1500,
                                                      "downstream_n_estimators": 20})
    return c
  if preset == "tiny":        # seconds: tests
    c.train.num_steps = 2
    c.train.batch_size = 4
    c.train.log_every = 1
    c.train.checkpoint_every = 1
    c.eval.num_samples = 256
    c.eval.batch_size = 64
    c.eval.metrics = ["omes"]
    c.eval.traversal_steps = 3
    return c
  raise ValueError(f"unknown preset '{preset}'; choose one of {PRESETS}.")
