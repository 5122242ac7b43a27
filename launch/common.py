"""Flags shared by the launch scripts: the work directory and multi-host set-up."""

from absl import flags
from absl import logging
import jax

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
  """Starts jax.distributed when asked, then logs the devices."""
  if COORDINATOR.value or DISTRIBUTED.value:
    jax.distributed.initialize(coordinator_address=COORDINATOR.value,
                               num_processes=NUM_PROCESSES.value,
                               process_id=PROCESS_ID.value)
  logging.info("JAX backend %s, process %d/%d, %d local / %d global devices",
               jax.default_backend(), jax.process_index(), jax.process_count(),
               jax.local_device_count(), jax.device_count())
