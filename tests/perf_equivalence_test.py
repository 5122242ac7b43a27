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
from dtransfer.models import s2d_conv

FAST = ("matmul", "s2d", "auto")


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


def test_s2d_takes_its_path_only_where_it_applies():
  # k % s == 0 with non-negative pads: space-to-depth GEMMs; else im2col.
  assert s2d_conv.supported((4, 4), (2, 2), ((1, 1), (1, 1)))
  assert s2d_conv.supported((6, 2), (3, 2), ((0, 2), (1, 0)))
  assert not s2d_conv.supported((3, 3), (2, 2), ((1, 1), (1, 1)))
  assert not s2d_conv.supported((2, 2), (2, 2), ((-1, 0), (0, 0)))


def test_s2d_forward_only_and_differentiated_paths_agree():
  # Called plainly (evaluation's encoder) s2d_conv.conv2d is XLA's own strided
  # convolution; under autodiff its space-to-depth forward rule runs instead.
  rng = np.random.default_rng(3)
  x = jnp.asarray(rng.normal(size=(3, 12, 10, 5)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(4, 4, 5, 7)), jnp.float32)
  pads = layers.conv_pads((12, 10), (4, 4), (2, 2), "SAME")
  plain = jax.jit(lambda x, w: s2d_conv.conv2d(x, w, (2, 2), pads))(x, w)
  traced, _ = jax.vjp(lambda x, w: s2d_conv.conv2d(x, w, (2, 2), pads), x, w)
  native = layers.conv2d(x, w, (2, 2), pads, "native")
  np.testing.assert_allclose(plain, native, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(traced, native, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("hw,k,cin,cout,padding", [
    ((16, 12), 4, 3, 5, "SAME"),   # non-square; output-shift S (c4 > cout)
    ((15, 17), 4, 8, 40, "SAME"),  # odd sizes, asymmetric pads; input shift
    ((17, 9), 4, 3, 5, "VALID"),   # last row never read
    ((12, 12), 6, 2, 3, "SAME"),   # 3x3 taps after space-to-depth
    ((9, 9), 2, 2, 3, "SAME"),     # one tap: a single GEMM
])
def test_s2d_equals_native_on_awkward_geometries(hw, k, cin, cout, padding):
  rng = np.random.default_rng(k * 31 + cout)
  x = jnp.asarray(rng.normal(size=(2, *hw, cin)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(k, k, cin, cout)), jnp.float32)
  pads = layers.conv_pads(hw, (k, k), (2, 2), padding)
  crops = layers.conv_transpose_crops((k, k), (2, 2), padding)
  xt = jnp.asarray(rng.normal(size=(2, hw[0] // 2, hw[1] // 2 + 1, cin)),
                   jnp.float32)

  def grads(fn, arg, impl, x):
    f = lambda x, w: jnp.sum(jnp.sin(fn(x, w, (2, 2), arg, impl)))
    return jax.value_and_grad(f, (0, 1))(x, w)

  for fn, arg, inp in ((layers.conv2d, pads, x),
                       (layers.conv2d_transpose, crops, xt)):
    jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=2e-4,
                                   atol=2e-4),
                 grads(fn, arg, "s2d", inp), grads(fn, arg, "native", inp))


def test_auto_is_s2d_on_cpu_and_native_elsewhere():
  want = "s2d" if jax.default_backend() == "cpu" else "native"
  assert layers.resolve_conv_impl("auto") == want
  assert layers.resolve_conv_impl("matmul") == "matmul"
  with pytest.raises(ValueError, match="conv_impl"):
    layers.resolve_conv_impl("hybrid")
  assert models.get_model("dlib_conv").encoder.conv_impl == "auto"


@pytest.mark.slow
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
from configs import source as source_cfg
from dtransfer import evaluate, methods, models, sharding
model = models.get_model("dlib_conv", num_latents=10, image_shape=(64, 64, 1))
variables = model.init(jax.random.PRNGKey(0))
images = np.random.default_rng(0).integers(0, 256, (37, 64, 64, 1), np.uint8)
method = methods.get_method(source_cfg.get_config("dsprites,tiny"), model)
codes = evaluate.make_encoder(method, batch_size=16)(variables, images)
mean, _, _ = model.encode(variables, images.astype(np.float32) / 255.0)
print("mesh", sharding.data_mesh().size, "codes", codes.shape,
      "maxdiff", float(np.max(np.abs(codes - np.asarray(mean)))))
"""


@pytest.mark.slow
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
