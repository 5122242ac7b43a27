"""Networks of domain intersection and domain difference (Benaim et al., ICCV 2019).

From two unpaired image domains A and B the method learns a common encoder
E^c, two separate encoders E^s_A and E^s_B, one decoder G over the code
``[common | A-specific | B-specific]`` and a domain discriminator d on common
codes. Layer for layer as the official ``models/models.py``:

* every convolution is k4, s2, p1 with spectral normalisation (one power
  iteration per forward pass, SNGAN's ``SpectralNorm``: the weight is viewed
  as ``[w.shape[0], -1]``, i.e. output channels x rest for a convolution and
  *input* channels x rest for a transposed one), instance norm without
  affine parameters and LeakyReLU(0.2) (ReLU in G);
* E^c: ``channels`` then ``dim - sep`` then ``dim - 2 sep``; its second layer
  has no instance norm (the official code appends that layer's norm to the
  first layer's list after the first block was built);
* E^s: ``channels`` then ``dim`` then ``sep``, instance norm + LeakyReLU on
  the last layer too (so a code is zero only when its map is constant);
* G: ConvT ``dim -> dim``, then ``reversed(channels)`` (SN, IN, ReLU), then a
  plain ConvT to RGB and tanh;
* d: Linear(common dims -> dim), LeakyReLU(0.2), Linear(dim -> 1); it returns
  the logit (the official Sigmoid moves into the loss, which is the same
  function computed stably).

The official net is ``channels=(32, 64, 128, 256), dim=512, sep=25`` at
128x128 (codes 2x2: 462*4 common and 25*4 specific dims); ``channels=(32, 64,
128)`` is the 64x64 variant. Codes are flattened channel-major (PyTorch's
``view`` of an NCHW map), so a decoder input reshaped to ``[dim, h, w]`` has
channels ``[common | A | B]`` exactly as in the official code.

Images enter in [0, 1] and are mapped to [-1, 1]; G's output is in [-1, 1].
The power-iteration vectors live in the ``spectral`` collection, the model
state a training step threads (``update_stats=True`` stores the new ones).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from dtransfer.models import layers

SPECTRAL = "spectral"     # the collection of the power-iteration vectors
PARTS = ("enc_c", "enc_a", "enc_b", "dec")  # the autoencoder player's modules
_P1 = ((1, 1), (1, 1))    # PyTorch padding=1 of a k4 s2 (transposed) convolution


def l2normalize(v: jax.Array, eps: float = 1e-12) -> jax.Array:
  """``v / (|v| + eps)``, as the official SpectralNorm."""
  return v / (jnp.linalg.norm(v) + eps)


def spectral_normalize(w2d: jax.Array, u: jax.Array, n_steps: int = 1):
  """(w / sigma, new u) for a weight viewed as ``[height, width]``.

  SNGAN's update: ``v = normalize(w^T u)``, ``u = normalize(w v)``,
  ``sigma = u . (w v)``; u and v carry no gradient.
  """
  u = jax.lax.stop_gradient(u)
  wd = jax.lax.stop_gradient(w2d)
  for _ in range(int(n_steps)):
    v = l2normalize(wd.T @ u)
    u = l2normalize(wd @ v)
  sigma = u @ (w2d @ jax.lax.stop_gradient(v))
  return w2d / sigma, u


def instance_norm(x: jax.Array, eps: float = 1e-5) -> jax.Array:
  """PyTorch ``InstanceNorm2d`` (affine=False): per example and channel over H, W."""
  mean = jnp.mean(x, axis=(1, 2), keepdims=True)
  var = jnp.var(x, axis=(1, 2), keepdims=True)
  return (x - mean) * jax.lax.rsqrt(var + eps)


class SNConv(nn.Module):
  """A k4 s2 p1 convolution (or transposed convolution), spectrally normalised.

  Kernels are HWIO (``layers.Conv`` conventions); init is PyTorch's default
  U(+-1/sqrt(fan_in)) with PyTorch's fan_in (``out*16`` for ConvTranspose2d).
  """

  features: int
  transpose: bool = False
  spectral: bool = True
  n_steps: int = 1
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, update_stats: bool = False) -> jax.Array:
    cin = x.shape[-1]
    fan_in = (self.features if self.transpose else cin) * 16
    kinit, binit = layers.torch_linear_init(fan_in)
    kernel = self.param("kernel", kinit, (4, 4, cin, self.features))
    bias = self.param("bias", binit, (self.features,))
    if self.spectral:
      # PyTorch's w.view(w.shape[0], -1): rows are output channels of a Conv2d
      # ([out, in, kh, kw]) and input channels of a ConvTranspose2d ([in, out, kh, kw]).
      rows = 2 if self.transpose else 3
      moved = jnp.moveaxis(kernel, rows, 0)
      height = moved.shape[0]
      u_var = self.variable(SPECTRAL, "u", lambda: l2normalize(
          layers.SymmetricUniform(lambda s: 1.0, "u")(self.make_rng("params"),
                                                      (height,))))
      w2d, u = spectral_normalize(moved.reshape(height, -1), u_var.value, self.n_steps)
      kernel = jnp.moveaxis(w2d.reshape(moved.shape), 0, rows)
      if update_stats and not self.is_initializing():
        u_var.value = u
    if self.transpose:
      y = layers.conv2d_transpose(x, kernel, (2, 2), _P1, self.conv_impl)
    else:
      y = layers.conv2d(x, kernel, (2, 2), _P1, self.conv_impl)
    return y + bias


def _flatten(x: jax.Array) -> jax.Array:
  """NHWC map -> [N, C*H*W] in PyTorch's (channel-major) order."""
  return jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)


def _unflatten(z: jax.Array, channels: int, size: int) -> jax.Array:
  return jnp.transpose(z.reshape(z.shape[0], channels, size, size), (0, 2, 3, 1))


class Encoder(nn.Module):
  """Strided SN convolutions to a ``size x size`` map, flattened channel-major.

  ``norm[i]`` says whether layer i has instance norm (E^c's layer 2 has none);
  instance norm on a 1x1 map would output zeros, so it is dropped there.
  """

  widths: Sequence[int]
  norm: Sequence[bool]
  spectral: bool = True
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, update_stats: bool = False) -> jax.Array:
    x = 2.0 * x - 1.0
    for i, (w, use_norm) in enumerate(zip(self.widths, self.norm)):
      x = SNConv(w, spectral=self.spectral, conv_impl=self.conv_impl,
                 name=f"conv{i}")(x, update_stats)
      if use_norm and x.shape[1] * x.shape[2] > 1:
        x = instance_norm(x)
      x = nn.leaky_relu(x, 0.2)
    return _flatten(x)


class Decoder(nn.Module):
  """G: the code ``[common | A | B]`` as a ``[dim, size, size]`` map, then ConvT up to RGB."""

  widths: Sequence[int]        # ConvT outputs before the RGB layer
  dim: int
  size: int
  out_channels: int = 3
  spectral: bool = True
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, z: jax.Array, update_stats: bool = False) -> jax.Array:
    x = _unflatten(z, self.dim, self.size)
    for i, w in enumerate(self.widths):
      x = SNConv(w, transpose=True, spectral=self.spectral, conv_impl=self.conv_impl,
                 name=f"convT{i}")(x, update_stats)
      x = nn.relu(instance_norm(x))
    x = SNConv(self.out_channels, transpose=True, spectral=False,
               conv_impl=self.conv_impl, name="to_rgb")(x)
    return jnp.tanh(x)


class Discriminator(nn.Module):
  """d: Linear(common -> dim), LeakyReLU(0.2), Linear(dim -> 1): the domain logit
  (the official Sigmoid is in the loss). PyTorch's default Linear init."""

  dim: int

  @nn.compact
  def __call__(self, c: jax.Array) -> jax.Array:
    k1, b1 = layers.torch_linear_init(c.shape[-1])
    h = nn.leaky_relu(nn.Dense(self.dim, kernel_init=k1, bias_init=b1)(c), 0.2)
    k2, b2 = layers.torch_linear_init(self.dim)
    return nn.Dense(1, kernel_init=k2, bias_init=b2)(h)[:, 0]


@dataclasses.dataclass(frozen=True)
class DIDDNet:
  """The five networks of DIDD as pure functions of explicit variables.

  Variables are ``{"params": {"ae": {enc_c, enc_a, enc_b, dec}, "disc": ...},
  "spectral": {enc_c, enc_a, enc_b, dec}}``: the two players' parameters and
  the power-iteration vectors.
  """

  image_shape: tuple[int, int, int]
  channels: tuple[int, ...]
  dim: int
  sep: int
  spectral: bool = True
  conv_impl: str = "auto"
  name: str = "didd"

  def __post_init__(self):
    h, w, c = self.image_shape
    n = len(self.channels) + 2
    if h != w or h % (2 ** n):
      raise ValueError(
          f"DIDD's {n} stride-2 stages need square images with a side divisible by "
          f"{2 ** n}, got image_shape {self.image_shape}; change model.kwargs.channels "
          "(one entry fewer halves the required side) or the image size.")
    if not 0 < 2 * self.sep < self.dim:
      raise ValueError(f"DIDD needs 0 < 2*sep < dim, got sep={self.sep}, dim={self.dim}.")

  # Shapes -------------------------------------------------------------------
  @property
  def code_size(self) -> int:
    """Side of the code map (2 for the official 128x128 net)."""
    return self.image_shape[0] // 2 ** (len(self.channels) + 2)

  @property
  def common_dims(self) -> int:
    return (self.dim - 2 * self.sep) * self.code_size ** 2

  @property
  def specific_dims(self) -> int:
    return self.sep * self.code_size ** 2

  @property
  def num_latents(self) -> int:
    """The representation the metrics score: the common code."""
    return self.common_dims

  # Modules ------------------------------------------------------------------
  @functools.cached_property
  def modules(self) -> dict[str, nn.Module]:
    ch = tuple(int(c) for c in self.channels)
    n = len(ch) + 2
    common = Encoder(ch + (self.dim - self.sep, self.dim - 2 * self.sep),
                     norm=tuple(i != 1 for i in range(n)), spectral=self.spectral,
                     conv_impl=self.conv_impl)
    separate = Encoder(ch + (self.dim, self.sep), norm=(True,) * n,
                       spectral=self.spectral, conv_impl=self.conv_impl)
    dec = Decoder((self.dim,) + ch[::-1], dim=self.dim, size=self.code_size,
                  out_channels=self.image_shape[2], spectral=self.spectral,
                  conv_impl=self.conv_impl)
    return {"enc_c": common, "enc_a": separate, "enc_b": separate, "dec": dec,
            "disc": Discriminator(self.dim)}

  def init(self, rng: jax.Array) -> dict:
    """Fresh variables (jitted; every random leaf from one uniform draw)."""
    return _init(self, rng)

  # Pure functions -------------------------------------------------------------
  def apply(self, part: str, variables: dict, x: jax.Array, update_stats: bool = False):
    """``(output, new spectral vectors of part)`` of one network."""
    module = self.modules[part]
    if part == "disc":
      return module.apply({"params": variables["params"]["disc"]}, x), {}
    v = {"params": variables["params"]["ae"][part],
         SPECTRAL: variables[SPECTRAL][part]}
    if update_stats:
      y, new = module.apply(v, x, True, mutable=[SPECTRAL])
      return y, new[SPECTRAL]
    return module.apply(v, x, False), variables[SPECTRAL][part]

  def encode(self, variables, x, update_stats: bool = False):
    """``(common, A-specific, B-specific codes, new spectral state of the encoders)``."""
    c, sc = self.apply("enc_c", variables, x, update_stats)
    a, sa = self.apply("enc_a", variables, x, update_stats)
    b, sb = self.apply("enc_b", variables, x, update_stats)
    return c, a, b, {"enc_c": sc, "enc_a": sa, "enc_b": sb}

  def decode(self, variables, c, a, b, update_stats: bool = False):
    """``(images in [-1, 1], new spectral state of G)`` of the code ``[c | a | b]``."""
    z = self.join(c, a, b)
    return self.apply("dec", variables, z, update_stats)

  def join(self, c, a, b) -> jax.Array:
    """Concatenates flat codes into G's input with channels ``[common | A | B]``."""
    s = self.code_size
    maps = [x.reshape(x.shape[0], -1, s * s) for x in (c, a, b)]
    return jnp.concatenate(maps, axis=1).reshape(c.shape[0], -1)

  def discriminate(self, variables, c) -> jax.Array:
    return self.apply("disc", variables, c)[0]


def _flax_init(net: DIDDNet, rng: jax.Array) -> dict:
  x = jnp.zeros((1,) + tuple(net.image_shape), jnp.float32)
  keys = jax.random.split(rng, 5)
  params, spectral = {}, {}
  for key, part in zip(keys, PARTS):
    inp = (jnp.zeros((1, net.dim * net.code_size ** 2), jnp.float32)
           if part == "dec" else x)
    v = net.modules[part].init(key, inp, False)
    params[part] = v["params"]
    spectral[part] = v.get(SPECTRAL, {})
  d = net.modules["disc"].init(keys[4], jnp.zeros((1, net.common_dims), jnp.float32))
  return {"params": {"ae": params, "disc": d["params"]}, SPECTRAL: spectral}


@functools.partial(jax.jit, static_argnums=(0,))
def _init(net: DIDDNet, rng: jax.Array) -> dict:
  """Flax init drawing every random leaf from ONE uniform buffer (``layers.uniform_pool``):
  XLA CPU compiles each PRNG call separately, so this keeps init to about a second."""
  with layers.uniform_pool() as counter:
    jax.eval_shape(functools.partial(_flax_init, net), rng)
  buffer = jax.random.uniform(rng, (max(counter.used, 1),), jnp.float32, -1.0, 1.0)
  with layers.uniform_pool(buffer):
    return _flax_init(net, rng)


def build(image_shape, *, channels: Sequence[int] = (32, 64, 128, 256), dim: int = 512,
          sep: int = 25, spectral: bool = True, conv_impl: str = "auto") -> DIDDNet:
  """A DIDDNet for ``image_shape`` (defaults: the official 128x128 network)."""
  layers.check_conv_impl(conv_impl)
  return DIDDNet(image_shape=tuple(int(s) for s in image_shape),
                 channels=tuple(int(c) for c in channels), dim=int(dim), sep=int(sep),
                 spectral=bool(spectral), conv_impl=conv_impl)


def count(tree: Any) -> int:
  return int(sum(math.prod(x.shape) for x in jax.tree.leaves(tree)))
