"""Trains the tiny blob config for a few steps in a fresh process (data-parallel tests).

  python tests/distributed_worker.py WORKDIR [--devices N] [--process I --processes P --port PORT]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
  p = argparse.ArgumentParser()
  p.add_argument("workdir")
  p.add_argument("--devices", type=int, default=1)
  p.add_argument("--process", type=int, default=0)
  p.add_argument("--processes", type=int, default=1)
  p.add_argument("--port", type=int, default=0)
  p.add_argument("--steps", type=int, default=2)
  a = p.parse_args()
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update("jax_num_cpu_devices", a.devices)
  if a.processes > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{a.port}",
                               num_processes=a.processes, process_id=a.process)
  import numpy as np  # pylint: disable=g-import-not-at-top
  from tests import train_test  # pylint: disable=g-import-not-at-top
  from dtransfer import train as train_lib  # pylint: disable=g-import-not-at-top
  c = train_test.tiny_config(num_steps=a.steps)
  c.train.batch_size = 8
  _, state = train_lib.train(c, a.workdir, images=train_test.blob_source())
  leaves = [np.asarray(x) for x in jax.tree.leaves(state["params"])]
  if jax.process_index() == 0:
    np.savez(os.path.join(a.workdir, "params.npz"), *leaves)
  print("devices", jax.device_count(), "processes", jax.process_count(), "done")


if __name__ == "__main__":
  main()
