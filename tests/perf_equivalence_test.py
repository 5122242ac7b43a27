"""The fast convolution formulations equal the plain (native) ones.

conv_impl only chooses how XLA computes the same maps (dtransfer/models/
layers.py); these tests pin that values and gradients agree up to float
rounding, for single layers over awkward geometries and for the paired ELBO
of whole models, so switching the default to "auto" changes no result.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dtransfer import losses
from dtransfer import models
from dtransfer.models import layers

FAST = ("matmul", "hybrid", "auto")


@pytest.mark.parametrize("n,k,s,padding", [
    (8, 4, 2, "SAME"), (7, 3, 2, "SAME"), (6, 2, 2, "SAME"), (5, 5, 3, 1),
    (4, 1, 2, "SAME"), (8, 3, 2, "VALID"), (9, 4, 3, "SAME"),
    (6, 3, 1, "SAME")])
def test_fast_layers_equal_native_values_and_gradients(n, k, s, padding):
  rng = np.random.default_rng(n * 7 + k)
  x = jnp.asarray(rng.normal(size=(2, n, n, 3)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(k, k, 3, 4)), jnp.float32)
  pads = layers.conv_pads((n, n), (k, k), (s, s), padding)
  crops = layers.conv_transpose_crops((k, k), (s, s), padding)

  @jax.jit
  def run(x, w):
    out = {}
    for fn, arg in ((layers.conv2d, pads), (layers.conv2d_transpose, crops)):
      for impl in ("native",) + FAST:
        f = lambda x, w: jnp.sum(jnp.sin(fn(x, w, (s, s), arg, impl)))
        out[fn.__name__, impl] = jax.value_and_grad(f, (0, 1))(x, w)
    return out

  out = run(x, w)
  for (name, impl), got in out.items():
    want = out[name, "native"]
    jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-4,
                                   atol=1e-4), got, want)


def test_hybrid_forward_convolution_is_the_native_one_exactly():
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(4, 16, 16, 8)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(4, 4, 8, 16)), jnp.float32)
  pads = layers.conv_pads((16, 16), (4, 4), (2, 2), "SAME")
  f = jax.jit(lambda x, w: [layers.conv2d(x, w, (2, 2), pads, i)
                            for i in ("native", "hybrid")])
  native, hybrid = f(x, w)
  np.testing.assert_array_equal(hybrid, native)


def test_auto_is_hybrid_on_cpu_and_native_elsewhere():
  want = "hybrid" if jax.default_backend() == "cpu" else "native"
  assert layers.resolve_conv_impl("auto") == want
  assert layers.resolve_conv_impl("matmul") == "matmul"
  with pytest.raises(ValueError, match="conv_impl"):
    layers.resolve_conv_impl("fft")
  assert models.get_model("dlib_conv").encoder.conv_impl == "auto"


@pytest.mark.parametrize("name,channels", [("dlib_conv", 1), ("dapueto", 3)])
def test_fast_models_equal_native_paired_elbo_and_gradients(name, channels):
  shape = (64, 64, channels)
  native = models.get_model(name, num_latents=10, image_shape=shape,
                            conv_impl="native")
  variables = native.init(jax.random.PRNGKey(0))
  rng = np.random.default_rng(1)
  x1 = (rng.random((3,) + shape) > 0.5).astype(np.float32)
  x2 = x1.copy()
  x2[:, :24] = (rng.random((3, 24) + shape[1:]) > 0.5)
  batch = {"x1": jnp.asarray(x1), "x2": jnp.asarray(x2)}
  key = jax.random.PRNGKey(2)

  def loss(vae, params):
    v = {**variables, "params": params}
    value, (aux, _) = losses.paired_elbo_forward(
        vae, v, batch, key, 1.0, aggregator="argmax")
    return value, aux["kept_dims"]

  def grad(impl):
    vae = models.get_model(name, num_latents=10, image_shape=shape,
                           conv_impl=impl)
    return jax.value_and_grad(functools.partial(loss, vae), has_aux=True)(
        variables["params"])

  out = jax.jit(lambda: {i: grad(i) for i in ("native",) + FAST})()
  (v_n, kept_n), g_n = out["native"]
  scale = max(float(np.abs(g).max()) for g in jax.tree.leaves(g_n))
  for impl in FAST:
    (v, kept), g = out[impl]
    np.testing.assert_allclose(v, v_n, rtol=1e-5)
    assert float(kept) == float(kept_n)  # same Ada-GVAE decisions
    for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_n)):
      np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5 * scale)


# Encodes 37 images with every device of the 'data' mesh and with one device;
# prints the largest difference. argv: devices, processes, process id, port.
_ENCODE_WORKER = """
import sys
import jax
devices, processes, pid, port = map(int, sys.argv[1:])
jax.config.update("jax_num_cpu_devices", devices)
if processes > 1:
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}",
                             num_processes=processes, process_id=pid)
import numpy as np
from dtransfer import evaluate, models, sharding
model = models.get_model("dlib_conv", num_latents=10, image_shape=(64, 64, 1))
variables = model.init(jax.random.PRNGKey(0))
images = np.random.default_rng(0).integers(0, 256, (37, 64, 64, 1), np.uint8)
codes = evaluate.make_encoder(model, batch_size=16)(variables, images)
mean, _, _ = model.encode(variables, images.astype(np.float32) / 255.0)
print("mesh", sharding.data_mesh().size, "codes", codes.shape,
      "maxdiff", float(np.max(np.abs(codes - np.asarray(mean)))))
"""


def test_encoding_is_sharded_over_the_data_mesh_and_unchanged():
  import os  # pylint: disable=g-import-not-at-top
  import socket  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, PYTHONPATH=root)

  def start(*args):
    return subprocess.Popen(
        [sys.executable, "-c", _ENCODE_WORKER, *map(str, args)], env=env,
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  procs = [start(4, 1, 0, 0)] + [start(2, 2, i, port) for i in range(2)]
  for proc, mesh in zip(procs, (4, 4, 4)):
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    line = [l for l in out.splitlines() if l.startswith("mesh")][-1]
    assert line.startswith(f"mesh {mesh} codes (37, 10)"), line
    assert float(line.split("maxdiff")[1]) < 1e-4, line
