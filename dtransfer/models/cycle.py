"""The cycle-consistent VAE's networks (Jha et al., ECCV 2018).

The latent code is split in two: a Gaussian part z (the *unspecified*
factors, reparameterised, with a KL) and a deterministic part s (the
*specified* factor a pair shares; no variance, no KL). To fit the registry's
``VAE`` (``encode -> (mean, logvar)``, ``decode(code)``), the code is the
concatenation ``[z, s]`` of width ``num_latents = z_dim + s_dim``:

* the encoder returns ``mean = [mu_z, s]`` and ``logvar = [logvar_z, 0]``;
  the zeros are placeholders (s has no variance), which the cycle methods
  never read;
* the decoder splits its input into z and s and embeds each with its own
  dense layer, as the authors' decoder does, and returns *logits*: the
  authors' sigmoid output is ``sigmoid(logits)`` (the loss applies it).

Two architectures:

* ``cycle_mnist``: the authors' MNIST network layer for layer
  (``networks.py`` of ananyahjha93/cycle-consistent-vae): 28x28 inputs,
  convs 16-32-64 (5x5, stride 2, padding 1) with instance norm (no affine)
  and ReLU; decoder dense 256 + 256 (LeakyReLU 0.2) -> 2x2x128 ->
  transposed convs 32-16-C (4x4, stride 2; padding 0, 0, 1) with instance
  norm and LeakyReLU. Conv and Linear weights N(0, 0.05), zero biases;
  transposed convs keep PyTorch's default init (the authors' init function
  skipped them), U(+-1/sqrt(fan_in)) with PyTorch's fan_in of a transposed
  weight (out_channels * k * k).
* ``cycle_conv``: the same heads and (z, s) decoder on disentanglement_lib's
  conv stack (``dlib_conv``) for 64x64 (any multiple of 16) inputs: convs
  32-32-64-64 + dense 256 with ReLU, glorot init; decoder dense 256 per
  part (ReLU), dense to 4x4x64, transposed convs 64-32-32-C.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.scipy import special

from dtransfer.models import layers

_EPS = 1e-5   # PyTorch InstanceNorm2d's eps


def instance_norm(x: jax.Array, eps: float = _EPS) -> jax.Array:
  """PyTorch ``InstanceNorm2d(affine=False)`` in train mode: per image and
  channel over H, W, biased variance (no state: the authors never switched to
  eval mode, so their running estimates were never used)."""
  mean = jnp.mean(x, axis=(1, 2), keepdims=True)
  var = jnp.mean(jnp.square(x - mean), axis=(1, 2), keepdims=True)
  return (x - mean) * jax.lax.rsqrt(var + eps)


class _PoolNormal(layers.SymmetricUniform):
  """N(0, std^2) drawn from the init's shared uniform buffer (inverse CDF), so
  the authors' normal init keeps ``VAE.init``'s single PRNG call."""

  def __init__(self, std: float):
    super().__init__(lambda s: 1.0, f"normal(std={std})")
    self.std = float(std)

  def __call__(self, key, shape, dtype=jnp.float32):
    u = super().__call__(key, shape, jnp.float32)          # U[-1, 1)
    p = jnp.clip((u + 1.0) * 0.5, 1e-7, 1.0 - 1e-7)
    return (special.ndtri(p) * self.std).astype(dtype)


_NORMAL = _PoolNormal(0.05)
_ZEROS = nn.initializers.zeros_init()


def _lrelu(x):
  return nn.leaky_relu(x, 0.2)


def _heads(h, z_dim, s_dim, kernel_init):
  dense = lambda n, name: nn.Dense(n, kernel_init=kernel_init, bias_init=_ZEROS,
                                   name=name)(h)
  mu, logvar, s = dense(z_dim, "z_mean"), dense(z_dim, "z_logvar"), dense(s_dim, "s")
  return jnp.concatenate([mu, s], -1), jnp.concatenate([logvar, jnp.zeros_like(s)], -1)


def _embed(code, z_dim, kernel_init, act):
  """The decoder's two input branches: dense 256 on z and on s, concatenated."""
  z, s = code[:, :z_dim], code[:, z_dim:]
  dense = lambda x, name: act(nn.Dense(256, kernel_init=kernel_init, bias_init=_ZEROS,
                                       name=name)(x))
  return jnp.concatenate([dense(z, "z_embed"), dense(s, "s_embed")], -1)


class MnistEncoder(nn.Module):
  """The authors' encoder: 3 x (conv 5x5/2 -> IN -> ReLU) -> 256 -> heads."""

  z_dim: int = 16
  s_dim: int = 16
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False):
    del train  # instance norm has no state
    for features in (16, 32, 64):
      x = layers.Conv(features, (5, 5), (2, 2), 1, kernel_init=_NORMAL,
                      conv_impl=self.conv_impl)(x)
      x = nn.relu(instance_norm(x))
    return _heads(x.reshape(x.shape[0], -1), self.z_dim, self.s_dim, _NORMAL)


class MnistDecoder(nn.Module):
  """The authors' decoder: (z, s) -> 2x2x128 -> 3 transposed convs -> logits."""

  z_dim: int = 16
  channels: int = 1
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, code: jax.Array) -> jax.Array:
    x = _embed(code, self.z_dim, _NORMAL, _lrelu).reshape(code.shape[0], 2, 2, 128)
    for features, padding, last in ((32, "VALID", False), (16, "VALID", False),
                                    (self.channels, 1, True)):
      init, bias = layers.torch_linear_init(features * 16)
      x = layers.ConvTranspose(features, (4, 4), (2, 2), padding, kernel_init=init,
                               bias_init=bias, conv_impl=self.conv_impl)(x)
      if not last:
        x = _lrelu(instance_norm(x))
    return x


class ConvEncoder(nn.Module):
  """dlib's conv stack (32-32-64-64, dense 256) with the cycle-VAE heads."""

  z_dim: int = 16
  s_dim: int = 16
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False):
    del train
    for features, k in ((32, 4), (32, 4), (64, 2), (64, 2)):
      x = nn.relu(layers.Conv(features, (k, k), (2, 2), "SAME",
                              conv_impl=self.conv_impl)(x))
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(256, kernel_init=layers.GLOROT_UNIFORM, bias_init=_ZEROS)(x))
    return _heads(x, self.z_dim, self.s_dim, layers.GLOROT_UNIFORM)


class ConvDecoder(nn.Module):
  """dlib's deconv stack fed by the (z, s) branches; returns logits."""

  z_dim: int = 16
  image_shape: tuple[int, int, int] = (64, 64, 1)
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, code: jax.Array) -> jax.Array:
    h, w, c = self.image_shape
    x = _embed(code, self.z_dim, layers.GLOROT_UNIFORM, nn.relu)
    x = nn.relu(nn.Dense((h // 16) * (w // 16) * 64, kernel_init=layers.GLOROT_UNIFORM,
                         bias_init=_ZEROS)(x))
    x = x.reshape(x.shape[0], h // 16, w // 16, 64)
    for features in (64, 32, 32):
      x = nn.relu(layers.ConvTranspose(features, (4, 4), (2, 2), "SAME",
                                       conv_impl=self.conv_impl)(x))
    return layers.ConvTranspose(c, (4, 4), (2, 2), "SAME", conv_impl=self.conv_impl)(x)


def _split_dims(num_latents: int, s_dim: int, name: str) -> int:
  z_dim = int(num_latents) - int(s_dim)
  if s_dim < 1 or z_dim < 1:
    raise ValueError(f"{name}: num_latents is z_dim + s_dim and both parts need at "
                     f"least one dim; got num_latents={num_latents}, s_dim={s_dim} "
                     "(set model.num_latents and model.kwargs.s_dim).")
  return z_dim


def build_mnist(num_latents: int, image_shape: tuple[int, int, int], *, s_dim: int = 16,
                conv_impl: str = "auto"):
  """The authors' MNIST network (28x28xC) for the registry."""
  z_dim = _split_dims(num_latents, s_dim, "cycle_mnist")
  if tuple(image_shape[:2]) != (28, 28):
    raise ValueError(f"cycle_mnist is the authors' 28x28 network; got image_shape "
                     f"{tuple(image_shape)}: use size=28 (digits) or model cycle_conv "
                     "for 64x64 datasets.")
  layers.check_conv_impl(conv_impl)
  return (MnistEncoder(z_dim=z_dim, s_dim=int(s_dim), conv_impl=conv_impl),
          MnistDecoder(z_dim=z_dim, channels=int(image_shape[2]), conv_impl=conv_impl),
          "logits")


def build_conv(num_latents: int, image_shape: tuple[int, int, int], *, s_dim: int = 16,
               conv_impl: str = "auto"):
  """The dlib conv stack with the cycle-VAE heads (H, W multiples of 16)."""
  z_dim = _split_dims(num_latents, s_dim, "cycle_conv")
  h, w, _ = image_shape
  if h % 16 or w % 16:
    raise ValueError(f"cycle_conv needs height and width divisible by 16 (four "
                     f"stride-2 layers); got image_shape {tuple(image_shape)}.")
  layers.check_conv_impl(conv_impl)
  return (ConvEncoder(z_dim=z_dim, s_dim=int(s_dim), conv_impl=conv_impl),
          ConvDecoder(z_dim=z_dim, image_shape=tuple(image_shape), conv_impl=conv_impl),
          "logits")


def s_dim_of(model) -> int:
  """The s width of a registry VAE built by this module (ValueError otherwise)."""
  s_dim = getattr(model.encoder, "s_dim", None)
  if s_dim is None:
    raise ValueError(f"model '{model.name}' has no specified part s: the cycle-"
                     "consistent VAE needs model.name cycle_mnist or cycle_conv.")
  return int(s_dim)
