"""Flags shared by the launch scripts: the work directory and multi-host set-up.

One process per host (TPU VM, GPU node or Slurm task). ``--distributed``
lets ``jax.distributed.initialize()`` find the coordinator, process count and
index itself on Cloud TPU pod slices, Slurm (srun), Open MPI and Kubernetes
JobSets; anywhere else pass ``--coordinator_address``, ``--num_processes``
and ``--process_id`` explicitly. Every process then runs the same program:
each reads only its own rows of each batch (dtransfer.data.pairs shards by
``jax.process_index()``), the state is replicated over the global 'data'
mesh, and only process 0 writes config.json and metrics (checkpoints are
written collectively by Orbax).
"""

import ast
import re
import sys

from absl import flags
from absl import logging
import jax

from dtransfer import config_check
from dtransfer import console
from dtransfer import runtime
from dtransfer import workdir_lock

WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and results.")
COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None,
    "host:port of process 0 for multi-host runs (jax.distributed); on TPU pods and "
    "Slurm leave it unset and pass --distributed to auto-detect.")
NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (hosts).")
PROCESS_ID = flags.DEFINE_integer("process_id", None, "Index of this process.")
DISTRIBUTED = flags.DEFINE_bool("distributed", False,
                                "Call jax.distributed.initialize() (auto-detects TPU/Slurm).")


def setup() -> None:
  """Tunes the host allocator, starts jax.distributed when asked, logs devices.

  Runs before anything starts JAX's backend (see dtransfer/runtime.py).
  Libraries' logs (Orbax writes about 200 INFO lines per checkpoint) are kept
  at WARNING unless ``--verbosity`` is given; dtransfer's own progress lines
  are printed regardless (dtransfer.console).
  """
  runtime.tune_host_allocator()
  if not flags.FLAGS["verbosity"].present:
    console.quiet_libraries()
  explicit = (COORDINATOR.value, NUM_PROCESSES.value, PROCESS_ID.value)
  if any(v is not None for v in explicit) and any(v is None for v in explicit):
    raise flags.ValidationError(
        "--coordinator_address, --num_processes and --process_id go together; "
        "on a TPU pod slice or under Slurm pass only --distributed.")
  if COORDINATOR.value or DISTRIBUTED.value:
    # CPU-only processes need a collectives backend to talk to each other
    # (tests and loopback runs); GPU and TPU ignore this option.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=COORDINATOR.value,
                               num_processes=NUM_PROCESSES.value,
                               process_id=PROCESS_ID.value)
  logging.info("JAX backend %s, process %d/%d, %d local / %d global devices",
               jax.default_backend(), jax.process_index(), jax.process_count(),
               jax.local_device_count(), jax.device_count())


def _message(e: BaseException) -> str:
  """The readable text of ``e`` (ml_collections wraps a KeyError in an
  AttributeError whose text is the repr of a message with newlines)."""
  while e.args and isinstance(e.args[0], BaseException):
    e = e.args[0]
  text = str(e.args[0]) if len(e.args) == 1 else str(e)
  if isinstance(e, (KeyError, AttributeError)) and text[:1] in "'\"" and text[-1:] == text[:1]:
    try:
      text = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      pass
  text = " ".join(text.split())
  if "Traceback (most recent call last)" in text:  # config_flags quotes the traceback
    found = re.match(r".*\b\w+(?:Error|Exception): (.*)$", text)
    if found:
      text = found.group(1)
  if isinstance(e, (KeyError, AttributeError)) and "Did you mean" in text:
    text = f"no config field {text}"
  return text


def fail(message: str, code: int = 2):
  """Prints ``error: message`` on one line to stderr and exits."""
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(code)


def parse_flags(argv):
  """absl's flag parsing with one-line errors for bad ``--config`` arguments.

  A config file's ``:arg`` (a preset typo) and a ``--config.x.y=`` override of
  an unknown field fail while the flags are parsed; absl would print a long
  traceback with escaped newlines for them.
  """
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    fail(f"{_message(e)} (see --helpfull)")
  except (AttributeError, KeyError, ValueError, TypeError) as e:
    fail(f"bad --config argument: {_message(e)}")
  return None


# Errors of bad input that the user fixes from the command line: one line.
USER_ERRORS = (config_check.ConfigError, workdir_lock.WorkdirLockedError)


def config_main(config_flag, run):
  """An absl ``main`` that checks the config and work directory, sets up JAX and
  calls ``run(config, workdir)``; bad input ends in one ``error:`` line."""
  from absl import app  # pylint: disable=g-import-not-at-top

  def main(argv):
    if len(argv) > 1:
      raise app.UsageError(f"unexpected arguments {argv[1:]}; use --flag=value.")
    try:
      workdir = config_check.check_workdir(WORKDIR.value)
      config_check.validate(config_flag.value)
      setup()
      run(config_flag.value, workdir)
    except USER_ERRORS as e:
      fail(str(e))

  return main
