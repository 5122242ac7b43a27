"""What the user sees: one line per event on stdout, libraries' chatter kept out.

Every progress line of dtransfer goes through ``say`` (process 0 only), so a
line is printed once, whether the run is an absl command line (which also
shows INFO logs), a notebook or a script; the same line goes to the Python
log at DEBUG level, so ``--verbosity=1`` keeps it in log files too.

``quiet_libraries`` sets Orbax's, JAX's and grain's logs (and absl's INFO
lines, which Orbax writes about 200 of per checkpoint) to WARNING; the launch
scripts call it unless ``--verbosity`` is given.

Training lines (``TrainProgress``) carry the loss terms, steps/s and the ETA.
Where stdout is a terminal they become a bar that is redrawn in place.
"""

from __future__ import annotations

import logging
import sys
import time

import jax

# Libraries whose INFO lines are internals, not progress.
NOISY_LOGGERS = ("absl", "orbax", "jax", "jaxlib", "grain", "tensorstore", "etils",
                 "tensorflow_datasets", "matplotlib", "PIL", "h5py")

_log = logging.getLogger("dtransfer")
_open_bar = [False]   # a terminal bar is on the current line


def _is_lead() -> bool:
  try:
    return jax.process_index() == 0
  except RuntimeError:  # no backend yet
    return True


def say(stage: str, message: str, stream=None) -> None:
  """Prints ``[stage] message`` once (process 0) and logs it at DEBUG level."""
  _log.debug("[%s] %s", stage, message)
  if not _is_lead():
    return
  stream = stream or sys.stdout
  if _open_bar[0]:
    stream.write("\n")
    _open_bar[0] = False
  stream.write(f"[{stage}] {message}\n")
  stream.flush()


def quiet_libraries(level: int = logging.WARNING) -> None:
  """Shows only ``level`` and above from absl and the libraries' loggers.

  absl routes every library that logs with ``absl.logging`` (Orbax, parts of
  JAX) through one logger, so its verbosity is set too.
  """
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  absl_logging.set_verbosity(absl_logging.WARNING if level >= logging.WARNING
                             else absl_logging.INFO)
  for name in NOISY_LOGGERS:
    logging.getLogger(name).setLevel(level)


# Order of the loss terms in a progress line; other scalars follow by name.
_FIRST = ("loss", "recon", "kl", "elbo", "beta", "grad_norm")
_HIDDEN = ("finite", "steps_per_sec", "eta_sec")
_SHORT = {"grad_norm": "|g|"}


def _num(v: float) -> str:
  a = abs(v)
  if a != 0 and (a >= 1e5 or a < 1e-3):
    return f"{v:.3g}"
  return f"{v:.4g}" if a < 100 else f"{v:.1f}"


def format_terms(values: dict) -> str:
  """``loss 12.3  recon 11.1  kl 1.2 ...``: the scalars of a train step, in a fixed order."""
  keys = [k for k in _FIRST if k in values]
  keys += sorted(k for k in values if k not in keys and k not in _HIDDEN)
  parts = []
  for k in keys:
    try:
      parts.append(f"{_SHORT.get(k, k)} {_num(float(values[k]))}")
    except (TypeError, ValueError):
      continue
  return "  ".join(parts)


def hms(seconds: float) -> str:
  seconds = int(max(seconds, 0))
  return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _bar(done: int, total: int, width: int = 20) -> str:
  filled = int(width * done / max(total, 1))
  return "[" + "#" * filled + "." * (width - filled) + "]"


class TrainProgress:
  """Steps/s, ETA and the loss terms: one line per log step.

  ``update(step, values)`` returns ``{"steps_per_sec", "eta_sec"}`` for the
  metrics file and prints the line (a bar redrawn in place on a terminal).
  """

  def __init__(self, total: int, start: int = 0, name: str = "train", stream=None,
               terminal: bool | None = None):
    self.total, self.name = int(total), name
    self.stream = stream or sys.stdout
    if terminal is None:
      isatty = getattr(self.stream, "isatty", None)
      terminal = bool(isatty and isatty())
    self.terminal = terminal
    self.t0, self.s0 = time.perf_counter(), int(start)
    self.last_t, self.last_s = self.t0, int(start)

  def update(self, step: int, values: dict | None = None) -> dict:
    now = time.perf_counter()
    rate = (step - self.last_s) / max(now - self.last_t, 1e-9)
    overall = (step - self.s0) / max(now - self.t0, 1e-9)
    eta = (self.total - step) / max(overall, 1e-9)
    self.last_t, self.last_s = now, step
    terms = format_terms(values or {})
    width = len(str(self.total))
    head = f"step {step:>{width}d}/{self.total}"
    tail = f"{rate:.2f} steps/s  ETA {hms(eta)}"
    line = "  ".join(p for p in (head, terms, tail) if p)
    _log.debug("[%s] %s", self.name, line)
    if _is_lead():
      if self.terminal:
        self.stream.write(f"\r\033[K[{self.name}] {_bar(step, self.total)} {line}")
        _open_bar[0] = step < self.total
        if step >= self.total:
          self.stream.write("\n")
      else:
        self.stream.write(f"[{self.name}] {line}\n")
      self.stream.flush()
    return {"steps_per_sec": rate, "eta_sec": eta}


def print_warnings(stage: str, results: dict) -> None:
  """Prints each metric's warnings (``results[metric]['warnings']``), one line each."""
  for metric, r in results.items():
    for w in (r.get("warnings") or []) if isinstance(r, dict) else []:
      say(stage, f"warning: {metric}: {w}")
