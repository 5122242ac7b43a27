"""Every config field checked before any work, with the field's name in the error.

``validate(config)`` runs before a training run creates or touches its work
directory, so a bad value (``train.batch_size=-4``, ``eval.batch_size=0``, an
unknown metric) fails in a second with a one-line message naming the field and
leaves nothing behind, instead of deep in numpy or after hours of training.
``check_workdir(path)`` does the same for ``--workdir``. Only the sections the
train loop and evaluation own are checked for unknown keys (``train``,
``eval``): methods and datasets add fields of their own to ``model``,
``loss``, ``optim``, ``data`` or sections of their own.
"""

from __future__ import annotations

import difflib
import math
import numbers
import os


class ConfigError(ValueError):
  """A config value that cannot run; the message names the field and the fix."""


def _suggest(word: str, choices) -> str:
  close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=3, cutoff=0.6)
  return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _get(config, dotted: str):
  node = config
  for part in dotted.split("."):
    if not hasattr(node, "keys") or part not in node:
      return _MISSING
    node = node[part]
  return node


_MISSING = object()


def _is_int(v) -> bool:
  return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
  return isinstance(v, numbers.Real) and not isinstance(v, bool)


# Known keys of the sections the train loop and evaluation own (an unknown one
# is a typo). ``optim`` and ``data`` are not checked for unknown keys: methods
# and datasets add their own (``optim.step_decay``, ``data.shared``).
KNOWN_KEYS = {
    "train": ("num_steps", "batch_size", "log_every", "checkpoint_every", "keep_checkpoints",
              "num_models", "seeds", "betas", "group_mode"),
    "eval": ("num_samples", "batch_size", "seed", "metrics", "metric_kwargs",
             "traversal_steps"),
}

# Numeric fields by kind and range (lower bound, inclusive?, upper bound, inclusive?).
_POSITIVE = (0, False, None, None)
_NON_NEGATIVE = (0, True, None, None)
_RANGES = (
    ("int", _POSITIVE, ("train.num_steps", "train.batch_size", "train.log_every",
                        "train.checkpoint_every", "train.keep_checkpoints",
                        "train.num_models", "model.num_latents", "data.k",
                        "eval.num_samples", "eval.batch_size")),
    ("int", _NON_NEGATIVE, ("seed", "optim.warmup_steps", "model.beta_warmup_steps",
                            "data.prefetch", "data.num_threads", "eval.seed")),
    ("int", (1, False, None, None), ("eval.traversal_steps",)),
    ("real", _POSITIVE, ("optim.learning_rate",)),
    ("real", _NON_NEGATIVE, ("optim.eps", "optim.weight_decay", "optim.grad_clip_norm",
                             "model.beta")),
    ("real", (0, True, 1, False), ("optim.b1", "optim.b2")),
    ("real", (0, True, 1, True), ("optim.end_lr_fraction",)),
)
# (field, kind, lower bound, inclusive?, upper bound, inclusive?)
_NUMBERS = tuple((field, kind, *bounds) for kind, bounds, fields in _RANGES
                 for field in fields)

_CHOICES = (
    ("data.origin", ("procedural", "tfds", "original")),
    ("data.pair_mode", ("exact", "dlib")),
    ("loss.aggregator", ("labels", "argmax")),
    ("loss.averaging", ("gvae", "mlvae")),
    ("loss.divergence", ("dlib", "symmetric")),
    ("loss.threshold", ("example", "batch")),
    ("train.group_mode", ("auto", "vmap", "map")),
)


def _range_text(lo, lo_inc, hi, hi_inc) -> str:
  parts = []
  if lo is not None:
    parts.append(f"{'>=' if lo_inc else '>'} {lo}")
  if hi is not None:
    parts.append(f"{'<=' if hi_inc else '<'} {hi}")
  return " and ".join(parts)


def check_number(field: str, value, kind: str, lo=None, lo_inc=True, hi=None, hi_inc=True):
  """Raises ConfigError unless ``value`` is an ``kind`` ('int'|'real') in range."""
  want = _range_text(lo, lo_inc, hi, hi_inc)
  ok_type = _is_int(value) if kind == "int" else _is_real(value)
  if not ok_type:
    raise ConfigError(f"config field {field} must be {'an integer' if kind == 'int' else 'a number'}"
                      f"{' ' + want if want else ''}, got {value!r} "
                      f"({type(value).__name__}); set --config.{field}=...")
  if kind == "real" and not math.isfinite(value):
    raise ConfigError(f"config field {field} must be finite, got {value!r}.")
  bad = ((lo is not None and (value < lo if lo_inc else value <= lo))
         or (hi is not None and (value > hi if hi_inc else value >= hi)))
  if bad:
    raise ConfigError(f"config field {field} must be {want}, got {value!r}; "
                      f"set --config.{field}=...")


def validate(config, *, num_devices: int | None = None, prefix: str = "") -> None:
  """Checks types, ranges, choices, names and divisibility; raises ConfigError.

  A main-job config (``source`` and ``target`` experiments) is checked part by
  part, and its errors name ``source.train.batch_size`` and so on.
  """
  parts = [k for k in ("source", "target") if k in config and hasattr(config[k], "keys")
           and "train" in config[k]]
  if parts:
    for k in parts:
      validate(config[k], num_devices=num_devices, prefix=f"{prefix}{k}.")
    return
  try:
    _validate(config, num_devices)
  except ConfigError as e:
    if not prefix:
      raise
    text = str(e).replace("config field ", f"config field {prefix}").replace(
        "--config.", f"--config.{prefix}")
    raise ConfigError(text.replace("unknown config field ", f"unknown config field {prefix}")) from None


def _validate(config, num_devices):
  # Local imports keep the registries (and JAX) out of import time.
  from dtransfer import datasets  # pylint: disable=g-import-not-at-top
  from dtransfer import methods  # pylint: disable=g-import-not-at-top
  from dtransfer import metrics  # pylint: disable=g-import-not-at-top
  from dtransfer import models  # pylint: disable=g-import-not-at-top

  try:
    cls = methods.get_class(methods.method_name(config))
    extra, unchecked = cls.EXTRA_CONFIG_KEYS, set(cls.UNCHECKED_CONFIG_FIELDS)
  except ValueError:
    extra, unchecked = {}, set()
  for section, known in KNOWN_KEYS.items():
    known = tuple(known) + tuple(extra.get(section, ()))
    node = _get(config, section)
    if node is _MISSING or not hasattr(node, "keys"):
      continue
    for key in node.keys():
      if key not in known:
        raise ConfigError(f"unknown config field {section}.{key}.{_suggest(key, known)} "
                          f"Fields of {section}: {', '.join(known)}.")
  for field, kind, lo, lo_inc, hi, hi_inc in _NUMBERS:
    if field in unchecked:
      continue
    value = _get(config, field)
    if value is not _MISSING:
      check_number(field, value, kind, lo, lo_inc, hi, hi_inc)
  from dtransfer import optim  # pylint: disable=g-import-not-at-top
  for field, choices in _CHOICES + (("optim.schedule", optim.SCHEDULES),):
    value = _get(config, field)
    if value is not _MISSING and value not in choices:
      raise ConfigError(f"config field {field} must be one of {', '.join(choices)}, got "
                        f"{value!r}.{_suggest(value, choices)}")
  named = (("model.name", models.names()), ("data.name", datasets.names()),
           ("method.name", sorted(set(methods.METHODS) | set(methods.ALIASES))))
  for field, choices in named:
    value = _get(config, field)
    if field in unchecked:
      continue
    if value is not _MISSING and value not in choices:
      raise ConfigError(f"config field {field}: unknown {field.split('.')[0]} {value!r}."
                        f"{_suggest(value, choices)} Known: {', '.join(choices)}.")
  names = _get(config, "eval.metrics")
  if names is not _MISSING:
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
      raise ConfigError(f"config field eval.metrics must be a list of metric names, got "
                        f"{names!r} (from the command line: --config.eval.metrics=omes,mig "
                        "is not a list; use a preset or set it in a config file).")
    for n in names:
      if n not in metrics.METRICS:
        raise ConfigError(f"config field eval.metrics: unknown metric {n!r}."
                          f"{_suggest(n, metrics.METRICS)} Known: {', '.join(sorted(metrics.METRICS))}.")
  if num_devices is not None:
    bs = _get(config, "train.batch_size")
    if bs is not _MISSING and bs % num_devices:
      raise ConfigError(f"config field train.batch_size={bs} must divide by the number of "
                        f"devices ({num_devices}); set --config.train.batch_size to a multiple.")
  log_every, num_steps = _get(config, "train.log_every"), _get(config, "train.num_steps")
  del log_every, num_steps  # any positive values work: the loop also logs the last step


def check_workdir(path) -> str:
  """The absolute work directory, or a one-line ValueError saying what is wrong."""
  if path is None or not str(path).strip():
    raise ConfigError("the work directory is empty; pass --workdir=DIR (a new or an "
                      "existing dtransfer work directory).")
  path = os.path.abspath(os.path.expanduser(str(path)))
  if os.path.exists(path) and not os.path.isdir(path):
    raise ConfigError(f"--workdir {path} is a file, not a directory; pass a directory "
                      "path (it is created if missing).")
  parent = path
  while not os.path.exists(parent):
    parent = os.path.dirname(parent)
  if not os.path.isdir(parent):
    raise ConfigError(f"--workdir {path} cannot be created: {parent} is a file.")
  if not os.access(parent, os.W_OK | os.X_OK):
    raise ConfigError(f"--workdir {path} is not writable ({parent} denies writing); "
                      "choose a directory you can write to.")
  return path
