"""Training and encoding throughput: dtransfer side by side with PyTorch.

  pip install torch==2.13.0   # benchmark only; never a dtransfer dependency
  PYTHONPATH=. python benchmarks/train_step.py [--impls native,matmul,auto]
      [--steps 20] [--rounds 3] [--batch 64] [--channels 1] [--no_torch]
      [--pair_loading] [--no_tune_allocator]

Times, in interleaved rounds so that other load on the machine hits every
contender alike, the jitted paired step of ``dtransfer.train.make_train_step``
(Ada-GVAE argmax, 64 pairs of 64x64xC, 10 latents, Adam 1e-4, the config's
gradient clipping) for each ``conv_impl``, and the same step in PyTorch
(benchmarks/torch_reference.py, checked equal in loss and gradient on the
same parameters and noise). Prints steps/s, the ratio to PyTorch, achieved
GFLOP/s (model FLOPs: convolutions and dense layers, forward + backward)
against the matrix-product peak measured on this machine, and forward-only
encoding throughput (``dtransfer.evaluate.make_encoder``, what evaluation
runs). Machine load is printed before and after: on a shared machine,
compare only runs with similar load. XLA options go through the usual
``XLA_FLAGS`` environment variable. The host allocator is tuned first
(dtransfer/runtime.py) unless ``--no_tune_allocator``; both contenders
share the process, so both get the same allocator.
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


def _load() -> str:
  try:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())
  except OSError:
    return "n/a"


# ------------------------------------------------------------------ FLOPs ---


def model_flops(batch_images: int, channels: int = 1, num_latents: int = 10):
  """(forward, train-step) multiply-add FLOPs (x2) of dlib_conv on 64x64xC.

  A train step is the forward pass plus, per layer, the weight gradient and
  the input gradient (both the size of the forward), minus the input
  gradient of the first convolution, which nobody needs.
  """
  layers = []  # (forward flops per image, needs input grad)
  # Encoder convs: (out spatial, k, cin, cout).
  for i, (n, k, cin, cout) in enumerate(((32, 4, channels, 32),
                                         (16, 4, 32, 32), (8, 2, 32, 64),
                                         (4, 2, 64, 64))):
    layers.append((2 * n * n * k * k * cin * cout, i > 0))
  for fin, fout in ((1024, 256), (256, num_latents), (256, num_latents),
                    (num_latents, 256), (256, 1024)):
    layers.append((2 * fin * fout, True))
  # Transposed convs: each input pixel scatters k*k*cin*cout products.
  for n_in, cin, cout in ((4, 64, 64), (8, 64, 32), (16, 32, 32),
                          (32, 32, channels)):
    layers.append((2 * n_in * n_in * 16 * cin * cout, True))
  fwd = sum(f for f, _ in layers)
  train = sum(f * (3 if grad_in else 2) for f, grad_in in layers)
  return fwd * batch_images, train * batch_images


def matmul_peak(n: int = 1024, seconds: float = 1.0) -> dict:
  """GFLOP/s of an n x n float32 matrix product (JAX/XLA and torch)."""
  import jax
  import jax.numpy as jnp
  out = {}
  a = jnp.asarray(np.random.default_rng(0).random((n, n), np.float32))
  f = jax.jit(lambda x: x @ x)
  f(a).block_until_ready()
  reps, t = 0, time.perf_counter()
  while time.perf_counter() - t < seconds:
    f(a).block_until_ready()
    reps += 1
  out["xla"] = 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9
  try:
    import torch
  except ImportError:
    return out
  b = torch.from_numpy(np.array(a))
  b @ b
  reps, t = 0, time.perf_counter()
  while time.perf_counter() - t < seconds:
    b @ b
    reps += 1
  out["torch"] = 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9
  return out


# ------------------------------------------------------------- contenders ---


def _images(batch, channels, seed):
  rng = np.random.default_rng(seed)
  return (rng.random((batch, 64, 64, channels)) > .5).astype(np.uint8) * 255


def _config(grad_clip_norm):
  from configs import source as source_cfg
  c = source_cfg.get_config("dsprites,paper")
  c.loss.aggregator = "argmax"
  c.optim.grad_clip_norm = grad_clip_norm
  return c


class JaxContender:
  """dtransfer's jitted paired step and jitted encoder for one conv_impl."""

  def __init__(self, conv_impl, batch, channels, grad_clip_norm,
               encode_batch):
    import jax
    from dtransfer import evaluate
    from dtransfer import methods
    from dtransfer import models
    self.name = f"dtransfer {conv_impl}"
    c = _config(grad_clip_norm)
    model = models.get_model("dlib_conv", num_latents=10,
                             image_shape=(64, 64, channels),
                             conv_impl=conv_impl)
    method = methods.get_method(c, model, "weak_vae")
    self.state = method.init(0)
    self.step = method.train_step()
    self.batch = jax.device_put({"x1": _images(batch, channels, 1),
                                 "x2": _images(batch, channels, 2),
                                 "label": np.zeros(batch, np.int32)})
    t = time.perf_counter()
    self.run(2)
    self.compile_s = time.perf_counter() - t
    self.encoder = evaluate.make_encoder(method, encode_batch)
    self.variables_of = method.variables
    self.encode_images = _images(2 * encode_batch, channels, 3)
    self.encode(1)

  def run(self, steps):
    import jax
    for _ in range(steps):
      self.state, metrics = self.step(self.state, self.batch)
    jax.block_until_ready(metrics)

  def encode(self, reps):
    variables = self.variables_of(self.state)  # the step donates the state
    for _ in range(reps):
      codes = self.encoder(variables, self.encode_images)
    return len(self.encode_images) * reps, codes


class TorchContender:
  """benchmarks/torch_reference.py with the same batch and optimiser."""

  def __init__(self, batch, channels, grad_clip_norm, encode_batch, threads):
    import torch
    import torch_reference
    torch.set_num_threads(threads)
    self.name = f"pytorch {torch.__version__} ({threads} threads)"
    self.torch = torch
    self.step = torch_reference.TrainStep(channels=channels,
                                          grad_clip_norm=grad_clip_norm)
    nchw = lambda a: torch.from_numpy(np.ascontiguousarray(
        a.transpose(0, 3, 1, 2)))
    self.x1 = nchw(_images(batch, channels, 1))
    self.x2 = nchw(_images(batch, channels, 2))
    self.encode_images = nchw(_images(2 * encode_batch, channels, 3))
    self.encode_batch = encode_batch
    t = time.perf_counter()
    self.run(2)
    self.compile_s = time.perf_counter() - t

  def run(self, steps):
    for _ in range(steps):
      self.step(self.x1, self.x2)

  def encode(self, reps):
    for _ in range(reps):
      codes = [self.step.encode(chunk) for chunk in
               self.encode_images.split(self.encode_batch)]
    return len(self.encode_images) * reps, codes


def _rate(fn, *args):
  t = time.perf_counter()
  n = fn(*args)
  return n, time.perf_counter() - t


def time_pair_loading(name="dsprites", batch=64, batches=30):
  from dtransfer import datasets
  from dtransfer.data import pairs
  b = pairs.WeakPairBatches(datasets.get_dataset(name), batch, seed=0)
  b[0]  # pylint: disable=pointless-statement
  t = time.perf_counter()
  for i in range(1, batches + 1):
    b[i]  # pylint: disable=pointless-statement
  return batches / (time.perf_counter() - t)


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--impls", default="native,matmul,auto",
                 help="comma-separated dtransfer conv_impl values to time")
  p.add_argument("--steps", type=int, default=20, help="steps per round")
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--batch", type=int, default=64, help="pairs per step")
  p.add_argument("--channels", type=int, default=1)
  p.add_argument("--grad_clip_norm", type=float, default=None,
                 help="default: the config's (applied on both sides)")
  p.add_argument("--encode_batch", type=int, default=512)
  p.add_argument("--torch_threads", type=int, default=2)
  p.add_argument("--no_torch", action="store_true")
  p.add_argument("--pair_loading", action="store_true",
                 help="also time weak-pair batches from the dSprites renderer")
  p.add_argument("--no_tune_allocator", action="store_true",
                 help="leave glibc's malloc as it is (dtransfer/runtime.py); "
                      "affects both contenders, which share the process")
  a = p.parse_args()
  from dtransfer import runtime
  tuned = False if a.no_tune_allocator else runtime.tune_host_allocator()

  import jax
  clip = a.grad_clip_norm
  if clip is None:
    from configs import common
    clip = float(common.base_config().optim.grad_clip_norm)
  print(f"JAX {jax.__version__} on {jax.devices()}; XLA_FLAGS="
        f"{os.environ.get('XLA_FLAGS', '')!r}; cpus={os.cpu_count()}")
  print(f"load average before: {_load()}; host allocator tuned: {tuned}")
  print(f"setting: Ada-GVAE (argmax), {a.batch} pairs of 64x64x{a.channels}, "
        f"10 latents, Adam 1e-4, grad clip {clip}")

  contenders = [JaxContender(impl, a.batch, a.channels, clip,
                             a.encode_batch) for impl in a.impls.split(",")]
  if not a.no_torch:
    try:
      import torch_reference
      from dtransfer import models
      m = models.get_model("dlib_conv", num_latents=10,
                           image_shape=(64, 64, a.channels))
      rel = torch_reference.check_against_jax(
          m, m.init(jax.random.PRNGKey(0))["params"],
          _images(8, a.channels, 1), _images(8, a.channels, 2))
      print(f"torch reference vs dtransfer on equal params and noise: "
            f"rel. loss diff {rel[0]:.1e}, rel. grad diff {rel[1]:.1e}")
      contenders.append(TorchContender(a.batch, a.channels, clip,
                                       a.encode_batch, a.torch_threads))
    except ImportError:
      print("torch not installed: pip install torch==2.13.0 for the reference")
  for c in contenders:
    print(f"  warm-up/compile {c.name}: {c.compile_s:.1f} s")

  train_rates = {c.name: [] for c in contenders}
  enc_rates = {c.name: [] for c in contenders}
  for _ in range(a.rounds):
    for c in contenders:
      _, dt = _rate(c.run, a.steps)
      train_rates[c.name].append(a.steps / dt)
      (n, _), dt = _rate(c.encode, 2)
      enc_rates[c.name].append(n / dt)

  peak = matmul_peak()
  peak_best = max(peak.values())
  _, train_flops = model_flops(2 * a.batch, a.channels)
  torch_name = contenders[-1].name if not a.no_torch and isinstance(
      contenders[-1], TorchContender) else None
  med = {k: statistics.median(v) for k, v in train_rates.items()}
  print(f"matrix-product peak (1024^2 float32): "
        + ", ".join(f"{k} {v:.1f}" for k, v in peak.items()) + " GFLOP/s")
  print(f"model FLOPs per train step: {train_flops / 1e9:.2f} GFLOP")
  print()
  print(f"| {'contender':36s} | steps/s (median; rounds) | vs torch | GFLOP/s "
        f"| % peak | encode img/s |")
  print("|" + "---|" * 6)
  for c in contenders:
    r = med[c.name]
    ratio = f"{r / med[torch_name]:.2f}x" if torch_name else "-"
    rounds = ", ".join(f"{v:.2f}" for v in train_rates[c.name])
    gf = r * train_flops / 1e9
    print(f"| {c.name:36s} | {r:5.2f} ({rounds}) | {ratio} | {gf:6.1f} | "
          f"{100 * gf / peak_best:4.0f}% | "
          f"{statistics.median(enc_rates[c.name]):8.0f} |")
  print()
  print(f"load average after: {_load()}")
  if a.pair_loading:
    for name in ("dsprites", "noisy_dsprites", "color_dsprites"):
      bps = time_pair_loading(name, a.batch)
      print(f"pair loading {name:15s}: {bps:7.1f} batches/s "
            f"({bps * a.batch:9.0f} pairs/s)")


if __name__ == "__main__":
  main()
