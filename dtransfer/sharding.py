"""Data parallelism with jax.sharding: one 'data' mesh axis over all devices.

State is replicated, batches are split along their first axis. The same code
runs on 1 device (a notebook's single TPU chip), N local devices, or several
hosts (each host passes only its local slice of the global batch).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def data_mesh(devices=None) -> Mesh:
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), ("data",))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P("data"))


def check_batch_size(global_batch: int, mesh: Mesh) -> None:
  if global_batch % mesh.size:
    raise ValueError(f"the global batch size {global_batch} must divide by the "
                     f"number of devices {mesh.size}; change train.batch_size.")


def shard_batch(local_batch: dict, mesh: Mesh) -> dict:
  """Builds global arrays from this process's slice of the batch."""
  sharding = batch_sharding(mesh)
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)),
      local_batch)


def replicate(tree, mesh: Mesh):
  return jax.device_put(tree, replicated(mesh))
