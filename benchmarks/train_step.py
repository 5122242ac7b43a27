"""Training throughput: dtransfer's paired train step and pair loading.

  python benchmarks/train_step.py [--steps 20] [--batch 64] [--model dlib_conv] [--channels 1]

Prints steps/s of the jitted paired step (64 pairs of 64x64xC images, 10 latents,
Adam, the paired ELBO) on random binary images, and weak-pair batches/s read
from the offline dSprites renderer.
"""

import argparse
import time

import jax
import numpy as np

from configs import source as source_cfg
from dtransfer import datasets
from dtransfer import train as train_lib
from dtransfer.data import pairs


def time_train_step(model_name="dlib_conv", batch=64, channels=1, steps=20, warmup=3,
                    aggregator="argmax", **model_kwargs):
  c = source_cfg.get_config("dsprites,paper")
  c.model.name = model_name
  c.loss.aggregator = aggregator
  shape = (64, 64, channels)
  model = train_lib.build_model(c, shape) if not model_kwargs else \
      __import__("dtransfer.models", fromlist=["get_model"]).get_model(
          model_name, num_latents=10, image_shape=shape, **model_kwargs)
  opt = train_lib.make_optimizer(c.optim)
  state = train_lib.init_state(model, opt, 0)
  step = train_lib.make_train_step(model, opt, c, "weak")
  rng = np.random.default_rng(0)
  b = {"x1": (rng.random((batch,) + shape) > .5).astype(np.uint8) * 255,
       "x2": (rng.random((batch,) + shape) > .5).astype(np.uint8) * 255,
       "label": rng.integers(0, 5, batch)}
  b = jax.device_put(b)
  for _ in range(warmup):
    state, m = step(state, b)
  jax.block_until_ready(m)
  t = time.perf_counter()
  for _ in range(steps):
    state, m = step(state, b)
  jax.block_until_ready(m)
  return steps / (time.perf_counter() - t)


def time_pair_loading(name="dsprites", batch=64, batches=30, **kwargs):
  src = datasets.get_dataset(name, **kwargs)
  b = pairs.WeakPairBatches(src, batch, seed=0)
  b[0]
  t = time.perf_counter()
  for i in range(1, batches + 1):
    b[i]
  return batches / (time.perf_counter() - t)


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--steps", type=int, default=20)
  p.add_argument("--batch", type=int, default=64)
  p.add_argument("--model", default="dlib_conv")
  p.add_argument("--channels", type=int, default=1)
  a = p.parse_args()
  print(f"JAX {jax.__version__} on {jax.devices()}")
  sps = time_train_step(a.model, a.batch, a.channels, a.steps)
  print(f"train step  {a.model:10s} {a.batch} pairs 64x64x{a.channels}: {sps:6.2f} steps/s "
        f"({sps * a.batch:7.1f} pairs/s)")
  for name, kw in (("dsprites", {}), ("noisy_dsprites", {}), ("color_dsprites", {})):
    bps = time_pair_loading(name, a.batch, **kw)
    print(f"pair loading {name:15s}: {bps:7.1f} batches/s ({bps * a.batch:9.0f} pairs/s)")


if __name__ == "__main__":
  main()
