"""The work directory: what a run writes there and how it is read back.

Training, evaluation and transfer all keep their bookkeeping here (config.json,
checkpoints, cached JSON results), so none of them imports another for it:

  read_config(workdir)            the config a directory was trained with
  prepare_workdir(config, wd)     writes config.json, or refuses another experiment
  image_source(config)            the ImageSource named by ``config.data``
  build_model(config, shape)      the network of ``config.model``
  load_trained(config, wd)        (model, state) of the newest checkpoint
  write_json / cached_json        atomic JSON, and "compute once, then read"
"""

from __future__ import annotations

import json
import os

import jax
import ml_collections

from dtransfer import checkpoint as ckpt_lib
from dtransfer import datasets
from dtransfer import methods

# Group settings (dtransfer.group): a member's config always has 1, (), (), and
# work directories from before they existed lack them.
GROUP_KEYS = ("train.num_models", "train.seeds", "train.betas", "train.group_mode")
# Config keys that may change between runs in one work directory.
RESUMABLE_KEYS = ("train.num_steps", "train.log_every", "train.checkpoint_every",
                  "train.keep_checkpoints", "data.data_dir", "data.prefetch",
                  "data.num_threads")


def write_json(path: str, obj, indent=None, sort_keys: bool = False) -> None:
  """Writes JSON atomically (temporary file + rename): a killed job never leaves
  a half-written file that would pass for a finished stage."""
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "w") as f:
    json.dump(obj, f, indent=indent, sort_keys=sort_keys)
  os.replace(tmp, path)


def read_json(path: str):
  with open(path) as f:
    return json.load(f)


def cached_json(path: str, compute):
  """Returns the JSON at ``path``, or computes and stores it (atomically)."""
  if os.path.exists(path):
    return read_json(path)
  result = compute()
  write_json(path, result)
  return result


def image_source(config):
  """The ImageSource named by ``config.data``."""
  return datasets.get_dataset(config.data.name, origin=config.data.origin,
                              data_dir=config.data.data_dir or None,
                              **dict(config.data.get("kwargs", {})))


def build_model(config, image_shape):
  """The network of ``config``'s method (``Method.build_model``; VAEs by default)."""
  return methods.get_class(methods.method_name(config)).build_model(config, image_shape)


def flatten(d, prefix="") -> dict:
  """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
  out = {}
  for k, v in d.items():
    key = f"{prefix}{k}"
    if isinstance(v, dict):
      out.update(flatten(v, key + "."))
    else:
      out[key] = v
  return out


def _comparable(cfg: dict, skip) -> dict:
  flat = {k: v for k, v in flatten(cfg).items() if k not in skip}
  if "objective" in flat:  # work directories from before config.method
    flat.setdefault("method.name", methods.ALIASES.get(flat["objective"],
                                                       flat["objective"]))
    del flat["objective"]
  return flat


def _has_checkpoints(workdir: str) -> bool:
  d = os.path.join(workdir, "checkpoints")
  return os.path.isdir(d) and any(name.isdigit() for name in os.listdir(d))


def prepare_workdir(config, workdir: str, ignore=()) -> None:
  """Writes ``config.json``, or checks that the workdir holds the same experiment."""
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, "config.json")
  cfg = json.loads(config.to_json_best_effort())
  if os.path.exists(path):
    skip = set(RESUMABLE_KEYS) | set(GROUP_KEYS) | set(ignore)
    a, b = _comparable(_migrate(read_json(path)), skip), _comparable(cfg, skip)
    diff = sorted(k for k in set(a) | set(b)
                  if a.get(k) != b.get(k) and not k.startswith("eval."))
    if diff and not _has_checkpoints(workdir):
      # Nothing was trained here yet (e.g. a run that stopped on a bad value):
      # the directory holds no experiment to protect, so the new config wins.
      diff = []
    if diff:
      shown = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in diff[:5])
      raise ValueError(
          f"work directory {workdir} holds a different experiment ({shown}). "
          "Use a new --workdir, or delete this one to start over.")
  if jax.process_index() == 0:
    write_json(path, cfg, indent=2, sort_keys=True)


def read_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a work directory was trained with."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"no config.json in {workdir}: not a dtransfer work "
                            "directory (did the source training run there?).")
  return ml_collections.ConfigDict(_migrate(read_json(path)))


def _migrate(config: dict) -> dict:
  """Reads work directories written before a field was renamed
  (``data.source`` is ``data.origin`` since the image source and the source
  domain stopped sharing a word)."""
  data = config.get("data")
  if isinstance(data, dict) and "source" in data and "origin" not in data:
    data["origin"] = data.pop("source")
  return config


def load_trained(config, workdir: str, image_shape=None):
  """(model, state) of the newest checkpoint in ``workdir`` (for evaluation/transfer)."""
  if not os.path.exists(os.path.join(workdir, "config.json")):
    raise FileNotFoundError(
        f"{workdir} holds no config.json, so it is not a dtransfer work directory; "
        "train there first with python -m launch.train --workdir=...")
  if image_shape is None:
    image_shape = image_source(config).image_shape
  model = build_model(config, image_shape)
  target = methods.get_method(config, model).init(config.seed)
  checkpointer = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
  try:
    _, state = checkpointer.restore(target)
  finally:
    checkpointer.close()
  return model, state
