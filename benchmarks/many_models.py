"""Many models in one program: models*steps/s of a group against single models.

  PYTHONPATH=. python benchmarks/many_models.py [--models 1,2,4,8,20] [--modes map,vmap]
      [--steps 10] [--rounds 3] [--batch 64] [--channels 1]
      [--study_source_steps 400000] [--study_finetune_steps 50000]

For each N, times the jitted step of ``dtransfer.group`` (the weak-VAE step
over N models, ``vmap``-ed or ``lax.map``-ped: ``group.GROUP_MODES``; Ada-GVAE
labels, 64 pairs of 64x64xC per model) and,
for comparison, the single-model step (``method.train_step()``) run N times,
which is what N sequential runs do. Rounds interleave the contenders so that
other load on the machine hits both alike; medians are printed with the load
average. The host allocator is tuned first, as launch/ does
(dtransfer/runtime.py). Batches are made once (the input pipeline is measured in
benchmarks/input_pipeline.py), so this measures compute only.

Finally projects the wall time of the paper's study (100 source trainings of
400k steps, 300 fine-tunings of 50k steps, all 64 pairs / images of 64x64x3)
from the best measured per-model rate of each approach on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
from dtransfer import runtime

runtime.tune_host_allocator()   # before JAX starts, as launch/ does
import jax
import numpy as np

from configs import source as source_configs
from dtransfer import group
from dtransfer import methods
from dtransfer import workdir as workdir_lib


def _load() -> str:
  return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _setup(n, batch, channels):
  c = source_configs.get_config("dsprites,paper")
  c.train.batch_size = batch
  c.data.kwargs.channels = channels
  c.train.num_models = n
  configs = group.member_configs(c)
  src = workdir_lib.image_source(configs[0])
  model = workdir_lib.build_model(configs[0], src.image_shape)
  members = [methods.get_method(x, model) for x in configs]
  batches = group._StackedBatches(members, src, (0, 1))  # pylint: disable=protected-access
  return members, configs, batches


def time_group(n, batch, channels, steps, mode):
  members, configs, batches = _setup(n, batch, channels)
  step = group.make_group_step(members[0], mode)
  state = jax.device_put(group.stack([m.init(c.seed) for m, c in zip(members, configs)]))
  hp = jax.device_put(group.stack([m.hparams() for m in members]))
  alive = jax.device_put(np.ones(n, bool))
  data = [jax.device_put(batches[i]) for i in range(2)]
  state, alive, m = step(state, alive, data[0], hp)   # compile
  jax.block_until_ready(m)

  def run():
    nonlocal state, alive
    t = time.perf_counter()
    for i in range(steps):
      state, alive, m = step(state, alive, data[i % 2], hp)
    jax.block_until_ready(m)
    return n * steps / (time.perf_counter() - t)
  return run


def time_single(n, batch, channels, steps):
  members, configs, batches = _setup(1, batch, channels)
  step = members[0].train_step()
  state = jax.device_put(members[0].init(configs[0].seed))
  data = [jax.device_put({k: v[0] for k, v in batches[i].items()}) for i in range(2)]
  state, m = step(state, data[0])
  jax.block_until_ready(m)

  def run():
    nonlocal state
    t = time.perf_counter()
    for _ in range(n):       # N sequential runs of `steps` steps each
      for i in range(steps):
        state, m = step(state, data[i % 2])
    jax.block_until_ready(m)
    return n * steps / (time.perf_counter() - t)
  return run


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--models", default="1,2,4,8,20")
  p.add_argument("--modes", default="map,vmap", help="group.GROUP_MODES to time")
  p.add_argument("--steps", type=int, default=10)
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--batch", type=int, default=64)
  p.add_argument("--channels", type=int, default=1)
  p.add_argument("--study_source_steps", type=int, default=400_000)
  p.add_argument("--study_finetune_steps", type=int, default=50_000)
  a = p.parse_args()
  print(f"devices: {jax.devices()}; batch {a.batch} pairs of 64x64x{a.channels}; "
        f"{a.steps} steps x {a.rounds} rounds; load before: {_load()}")
  modes = [m for m in a.modes.split(",") if m]
  single = time_single(1, a.batch, a.channels, a.steps)
  rows, best = [], {**{f"group ({m})": 0.0 for m in modes}, "single": 0.0}
  for n in [int(x) for x in a.models.split(",")]:
    grouped = {m: time_group(n, a.batch, a.channels, a.steps, m) for m in modes}
    g, s = {m: [] for m in modes}, []
    for _ in range(a.rounds):
      for m in modes:
        g[m].append(grouped[m]())
      s.append(single())
    g, s = {m: statistics.median(v) for m, v in g.items()}, statistics.median(s)
    for m in modes:
      best[f"group ({m})"] = max(best[f"group ({m})"], g[m])
    best["single"] = max(best["single"], s)
    rows.append((n, g, s))
    text = "   ".join(f"{m} {g[m]:7.2f} ({g[m] / s:4.2f}x)" for m in modes)
    print(f"N={n:3d}  model-steps/s: {text}   sequential {s:7.2f}   (load {_load()})",
          flush=True)
  head = " | ".join(f"grouped ({m}) | ratio" for m in modes)
  print(f"\n| N | {head} | sequential |\n|---|" + "---|---|" * len(modes) + "---|")
  for n, g, s in rows:
    cells = " | ".join(f"{g[m]:.2f} | {g[m] / s:.2f}×" for m in modes)
    print(f"| {n} | {cells} | {s:.2f} |")
  # The paper's study: every step of every model, at the best per-model rate.
  total = 100 * a.study_source_steps + 300 * a.study_finetune_steps
  for name, rate in best.items():
    days = total / rate / 86400
    print(f"paper study ({total:.3g} model-steps) at {rate:.2f} model-steps/s "
          f"({name}): {days:.1f} days on this machine")
  print(f"load after: {_load()}")


if __name__ == "__main__":
  main()
