"""Paired train-step speed at two dSprites image sizes, in one process.

  PYTHONPATH=. taskset -c 0 python benchmarks/image_size_step.py [--batch 16]
      [--sizes 64,32] [--steps 50] [--rounds 3] [--latents 5]

Times the quick preset's jitted weak-VAE step (dlib_conv, labels aggregator,
3 channels) on random pairs of size x size images, in interleaved rounds, so
that other load on the machine hits every size alike; prints steps/s per size
and their ratio with the load average. Used to choose the quick preset's
image size (benchmarks/quick_preset.md).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np


def contender(size, batch, latents):
  import jax
  from configs import source as source_cfg
  from dtransfer import methods
  from dtransfer import models
  c = source_cfg.get_config("dsprites,quick")
  c.model.num_latents = latents
  model = models.get_model("dlib_conv", num_latents=latents, image_shape=(size, size, 3))
  method = methods.get_method(c, model, "weak_vae")
  state = method.init(0)
  step = method.train_step()
  rng = np.random.default_rng(0)
  img = lambda: (rng.random((batch, size, size, 3)) > .5).astype(np.uint8) * 255
  data = jax.device_put({"x1": img(), "x2": img(),
                         "label": rng.integers(0, latents, batch).astype(np.int32)})
  box = {"state": state}

  def run(n):
    for _ in range(n):
      box["state"], metrics = step(box["state"], data)
    jax.block_until_ready(metrics)
  run(2)
  return run


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--sizes", default="64,32")
  p.add_argument("--batch", type=int, default=16)
  p.add_argument("--steps", type=int, default=50)
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--latents", type=int, default=5)
  a = p.parse_args()
  sizes = [int(s) for s in a.sizes.split(",")]
  print(f"load before: {os.getloadavg()}")
  runs = {s: contender(s, a.batch, a.latents) for s in sizes}
  best = {s: 0.0 for s in sizes}
  for _ in range(a.rounds):
    for s in sizes:
      t = time.perf_counter()
      runs[s](a.steps)
      best[s] = max(best[s], a.steps / (time.perf_counter() - t))
  print(f"load after: {os.getloadavg()}")
  for s in sizes:
    print(f"{s}x{s}: {best[s]:.1f} steps/s (best of {a.rounds} rounds of {a.steps}, "
          f"batch {a.batch} pairs); ratio to {sizes[0]}: {best[s] / best[sizes[0]]:.2f}")


if __name__ == "__main__":
  main()
