"""Where the time of one weakly supervised train step goes, on this machine.

  PYTHONPATH=. python benchmarks/profile_step.py [--batch 64] [--channels 1] [--rounds 5]
      [--torch] [--trace]

Times, as medians of interleaved rounds, each piece of the step that
benchmarks/train_step.py measures as a whole (dlib_conv, 64 pairs of 64x64xC,
10 latents, Ada-GVAE, Adam with clipping, ``conv_impl=auto``):

- every layer alone, forward and forward+backward (its VJP), at the shapes the
  step gives it (both images of every pair: 2 x batch rows);
- the encoder, the decoder and the whole loss, forward and forward+backward;
- the whole jitted step (adds the optimiser update and the NaN guard);
- the optimiser alone (global-norm clipping + Adam on the step's gradients);
- host-side batch preparation (``WeakPairBatches[i]`` on dSprites);
- with ``--torch``: the same layers in PyTorch (benchmarks/torch_reference.py's
  modules, NCHW), forward (no_grad) and forward+backward, in the same rounds;
- with ``--trace``: the whole step under ``jax.profiler``, its XLA operations
  grouped into matrix products (YNNPACK/Eigen), copies (transposes, pads,
  slices, concatenations: the space-to-depth layout work), elementwise loops
  and the rest, as thread-milliseconds per step.

Besides wall milliseconds it prints process CPU milliseconds per call: on a
shared machine the CPU time moves less with other load than the wall time.

The per-layer figures add up to more than the step: XLA fuses the layers'
activations and biases with their neighbours inside the whole step.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np

import train_step  # the benchmark whose step this breaks down: same batch, same config


def _time(fn, min_s=0.3):
  """(wall, process CPU) seconds per call of ``fn`` (called for ``min_s``)."""
  import jax
  jax.block_until_ready(fn())
  n, t, c = 0, time.perf_counter(), time.process_time()
  while time.perf_counter() - t < min_s:
    jax.block_until_ready(fn())
    n += 1
  return (time.perf_counter() - t) / n, (time.process_time() - c) / n


def _layer_cases(rows, channels, impl="auto"):
  """(name, module, input shape) of every layer of dlib_conv, in step order."""
  import flax.linen as nn
  from dtransfer.models import layers
  enc = [(channels, 32, 4, 64), (32, 32, 4, 32), (32, 64, 2, 16), (64, 64, 2, 8)]
  cases = []
  for i, (cin, cout, k, n) in enumerate(enc):
    cases.append((f"enc conv{i + 1} {n}x{n}x{cin} -> {cout} (k{k})",
                  layers.Conv(cout, (k, k), (2, 2), "SAME", conv_impl=impl), (rows, n, n, cin)))
  cases.append(("enc dense 1024 -> 256", nn.Dense(256), (rows, 1024)))
  cases.append(("dec dense 10 -> 256 -> 1024", nn.Sequential([nn.Dense(256), nn.Dense(1024)]),
                (rows, 10)))
  dec = [(64, 64, 4), (64, 32, 8), (32, 32, 16), (32, channels, 32)]
  for i, (cin, cout, n) in enumerate(dec):
    cases.append((f"dec convT{i + 1} {n}x{n}x{cin} -> {cout}",
                  layers.ConvTranspose(cout, (4, 4), (2, 2), "SAME", conv_impl=impl), (rows, n, n, cin)))
  return cases


def _torch_layer_timers(rows, channels):
  """name -> (forward, forward+backward) zero-argument callables in PyTorch."""
  import torch
  enc = [(channels, 32, 4, 64, 1), (32, 32, 4, 32, 1), (32, 64, 2, 16, 0),
         (64, 64, 2, 8, 0)]
  dec = [(64, 64, 4), (64, 32, 8), (32, 32, 16), (32, channels, 32)]
  mods = [(torch.nn.Conv2d(ci, co, k, 2, p), (rows, ci, n, n))
          for ci, co, k, n, p in enc]
  mods += [(torch.nn.ConvTranspose2d(ci, co, 4, 2, 1), (rows, ci, n, n))
           for ci, co, n in dec]
  names = [n for n, _, _ in _layer_cases(rows, channels) if "dense" not in n]
  out = {}
  for name, (m, shape) in zip(names, mods):
    x = torch.randn(*shape)
    xg = x.clone().requires_grad_(True)

    def fwd(m=m, x=x):
      with torch.no_grad():
        return m(x)

    def fwd_bwd(m=m, x=xg):
      m.zero_grad(set_to_none=True)
      (m(x) ** 2).sum().backward()
    out[name] = (fwd, fwd_bwd)
  return out


_GEMM = ("ynn_fusion", "dot", "custom-call", "onednn", "xnn")
_COPY = ("copy", "transpose", "concatenate", "pad", "slice", "bitcast",
         "reverse", "dynamic-update")


def trace_breakdown(run, steps=5, logdir="/tmp/dtransfer_profile_step"):
  """Thread-ms per step of the XLA operations of ``run()``, by kind."""
  import collections
  import glob
  import jax
  from jax._src.lib import _profile_data  # pylint: disable=g-import-not-at-top
  jax.block_until_ready(run())
  jax.profiler.start_trace(logdir)
  for _ in range(steps):
    out = run()
  jax.block_until_ready(out)
  jax.profiler.stop_trace()
  path = sorted(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True),
                key=os.path.getmtime)[-1]
  ops = collections.Counter()
  for plane in _profile_data.ProfileData.from_file(path).planes:
    for line in plane.lines:
      if "XLAEigen" not in line.name:
        continue
      for ev in line.events:
        if "ThunkExecutor" in ev.name or "Await" in ev.name:
          continue
        ops[ev.name] += ev.duration_ns / steps / 1e6
  kinds = collections.Counter()
  for name, ms in ops.items():
    if name.startswith(_GEMM) and "reduce" not in name:
      kinds["YNNPACK/Eigen fusions (matrix products; a few reductions)"] += ms
    elif any(k in name for k in _COPY):
      kinds["copies (transpose/pad/slice/concat)"] += ms
    elif "fusion" in name:
      kinds["elementwise and reduction loops"] += ms
    else:
      kinds["other (while loops, small ops)"] += ms
  return kinds, ops


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--batch", type=int, default=64, help="pairs per step")
  p.add_argument("--channels", type=int, default=1)
  p.add_argument("--rounds", type=int, default=5)
  p.add_argument("--torch", action="store_true",
                 help="also time every layer in PyTorch (2 threads)")
  p.add_argument("--trace", action="store_true",
                 help="break the whole step down by XLA operation kind")
  args = p.parse_args()

  from dtransfer import runtime
  runtime.tune_host_allocator()
  import jax
  import jax.numpy as jnp
  from dtransfer import datasets
  from dtransfer import methods
  from dtransfer import models
  from dtransfer.data import pairs

  rows = 2 * args.batch
  rng = np.random.default_rng(0)
  timers = {}  # name -> zero-argument function to time

  for name, module, shape in _layer_cases(rows, args.channels):
    x = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    v = module.init(jax.random.PRNGKey(0), x)
    fwd = jax.jit(module.apply)
    vjp = jax.jit(jax.grad(lambda v, x, m=module: jnp.sum(m.apply(v, x) ** 2), (0, 1)))
    timers[f"{name}: forward"] = lambda f=fwd, v=v, x=x: f(v, x)
    timers[f"{name}: forward+backward"] = lambda f=vjp, v=v, x=x: f(v, x)

  c = train_step._config(1.0)
  model = models.get_model("dlib_conv", num_latents=10,
                           image_shape=(64, 64, args.channels))
  method = methods.get_method(c, model, "weak_vae")
  state = method.init(0)
  variables = method.variables(state)
  batch = {"x1": jnp.asarray(train_step._images(args.batch, args.channels, 1)),
           "x2": jnp.asarray(train_step._images(args.batch, args.channels, 2)),
           "label": jnp.zeros(args.batch, jnp.int32)}
  x = jnp.concatenate([batch["x1"], batch["x2"]]).astype(jnp.float32) / 255.0
  z = jnp.asarray(rng.standard_normal((rows, 10)), jnp.float32)
  enc = jax.jit(lambda v, x: model.encode(v, x, train=False)[0])
  enc_g = jax.jit(jax.grad(lambda p, x: jnp.sum(model.encode({"params": p}, x, train=False)[0] ** 2)))
  dec = jax.jit(lambda v, z: model.decode(v, z))
  dec_g = jax.jit(jax.grad(lambda p, z: jnp.sum(model.decode({"params": p}, z) ** 2)))
  fn = method.loss_fn()
  key = jax.random.PRNGKey(1)
  loss = jax.jit(lambda p: fn(p, state["model_state"], batch, key, 1.0)[0])
  loss_g = jax.jit(jax.grad(lambda p: fn(p, state["model_state"], batch, key, 1.0)[0]))
  timers["encoder (whole): forward"] = lambda: enc(variables, x)
  timers["encoder (whole): forward+backward"] = lambda: enc_g(state["params"], x)
  timers["decoder (whole): forward"] = lambda: dec(variables, z)
  timers["decoder (whole): forward+backward"] = lambda: dec_g(state["params"], z)
  timers["paired loss: forward"] = lambda: loss(state["params"])
  timers["paired loss: forward+backward"] = lambda: loss_g(state["params"])
  import optax
  optimizer = method.optimizer()
  grads = loss_g(state["params"])
  update = jax.jit(lambda g, o, p: optax.apply_updates(p, optimizer.update(g, o, p)[0]))
  timers["optimiser alone: clip_by_global_norm + Adam"] = lambda: update(
      grads, state["opt_state"], state["params"])
  step = method.train_step()
  holder = {"state": method.init(0)}

  def run_step():
    holder["state"], m = step(holder["state"], batch)
    return m
  timers["whole step (loss, grad, clip, Adam, NaN guard)"] = run_step
  source = pairs.WeakPairBatches(datasets.get_dataset("dsprites", channels=args.channels),
                                 args.batch, seed=0)
  counter = iter(range(10**9))
  timers["host: WeakPairBatches[i] (dSprites render + pairs)"] = lambda: source[next(counter)]

  if args.torch:
    import torch
    torch.set_num_threads(2)

    class _Done:  # torch runs synchronously; block_until_ready is a no-op
      def block_until_ready(self):
        return self
    for name, (tf, tb) in _torch_layer_timers(rows, args.channels).items():
      timers[f"torch {name}: forward"] = lambda f=tf: (f(), _Done())[1]
      timers[f"torch {name}: forward+backward"] = lambda f=tb: (f(), _Done())[1]

  print(f"JAX {jax.__version__}, {jax.devices()}; batch {args.batch} pairs ({rows} images) "
        f"of 64x64x{args.channels}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
  results = {k: [] for k in timers}
  cpu = {k: [] for k in timers}
  for _ in range(args.rounds):
    for k, f in timers.items():
      wall, proc = _time(f)
      results[k].append(wall)
      cpu[k].append(proc)
  whole = "whole step (loss, grad, clip, Adam, NaN guard)"
  step_ms = statistics.median(results[whole]) * 1e3
  print(f"\n| piece | wall ms (median of {args.rounds}) | CPU ms | % of the whole step (wall) |"
        "\n|---|---|---|---|")
  for k, v in results.items():
    ms = statistics.median(v) * 1e3
    print(f"| {k} | {ms:.2f} | {statistics.median(cpu[k]) * 1e3:.2f} | {100 * ms / step_ms:.0f}% |")
  if args.trace:
    kinds, ops = trace_breakdown(run_step)
    total = sum(kinds.values())
    print(f"\nXLA operations of the whole step (thread-ms per step, both threads; "
          f"load {' '.join(f'{v:.2f}' for v in os.getloadavg())}):\n"
          "| kind | thread-ms | share |\n|---|---|---|")
    for k, ms in kinds.most_common():
      print(f"| {k} | {ms:.1f} | {100 * ms / total:.0f}% |")
    print("largest operations: " + ", ".join(
        f"{n} {ms:.1f}" for n, ms in ops.most_common(12)))
  print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
  main()
