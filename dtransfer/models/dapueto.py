"""The authors' ``EFFICIENTVAE`` / ``EFFICIENTWEAKVAE`` (Dapueto et al. 2024).

Encoder: 3 x [Conv k4 s2 p1 -> BatchNorm -> LeakyReLU(0.02)] with nf/4, nf/2,
nf channels, flatten, LayerNorm over all features, then linear ``mean`` and
``logvar`` heads. Decoder: Linear -> LeakyReLU -> nf x H/8 x W/8 -> 3 x
[ConvT k4 s2 p1 -> LeakyReLU(0.02)] with nf/2, nf/4, C channels. The LeakyReLU
after the last layer is theirs; the decoder returns these pre-squash values
and the loss maps them with ``(tanh(.) + 1) / 2`` (``activation="tanh"``).

Init as ``Baseline.init_weights``: xavier-uniform weights and bias 0.01 for
every conv, transposed conv and linear layer of encoder and decoder; the two
heads keep PyTorch's default U(+-1/sqrt(fan_in)) for weight and bias.

Flattening and the decoder's reshape use PyTorch's (C, H, W) order, so that
a PyTorch state dict converts by transposing kernels only. With nf=128, z=10
and 64x64x3 inputs there are 601_879 parameters (0.60 M, as the reference
notes) plus 448 BatchNorm running statistics.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from dtransfer.models import layers

_SLOPE = 0.02
_XAVIER = layers.GLOROT_UNIFORM
_BIAS = nn.initializers.constant(0.01)


def _lrelu(x):
  return nn.leaky_relu(x, negative_slope=_SLOPE)


class Encoder(nn.Module):
  """Conv-BN-LReLU x3 -> flatten (C,H,W order) -> LayerNorm -> heads."""

  num_latents: int = 10
  nf: int = 128
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False):
    for features in (self.nf // 4, self.nf // 2, self.nf):
      x = layers.Conv(features, (4, 4), (2, 2), 1, kernel_init=_XAVIER,
                      bias_init=_BIAS, conv_impl=self.conv_impl)(x)
      x = layers.BatchNorm(momentum=0.9, epsilon=1e-5)(x, train=train)
      x = _lrelu(x)
    x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)
    x = nn.LayerNorm(epsilon=1e-5, use_fast_variance=False)(x)
    kinit, binit = layers.torch_linear_init(x.shape[-1])
    mean = nn.Dense(self.num_latents, kernel_init=kinit, bias_init=binit,
                    name="fc_mu")(x)
    logvar = nn.Dense(self.num_latents, kernel_init=kinit, bias_init=binit,
                      name="fc_var")(x)
    return mean, logvar


class Decoder(nn.Module):
  """Linear -> LReLU -> (nf, H/8, W/8) -> ConvT-LReLU x3; pre-squash output."""

  image_shape: tuple[int, int, int] = (64, 64, 3)
  nf: int = 128
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    h, w, c = self.image_shape
    fh, fw = h // 8, w // 8
    x = nn.Dense(self.nf * fh * fw, kernel_init=_XAVIER, bias_init=_BIAS)(z)
    x = _lrelu(x)
    x = jnp.transpose(x.reshape(z.shape[0], self.nf, fh, fw), (0, 2, 3, 1))
    for features in (self.nf // 2, self.nf // 4, c):
      x = layers.ConvTranspose(features, (4, 4), (2, 2), 1,
                               kernel_init=_XAVIER, bias_init=_BIAS,
                               conv_impl=self.conv_impl)(x)
      x = _lrelu(x)
    return x


def build(num_latents: int, image_shape: tuple[int, int, int], *,
          nf: int = 128, conv_impl: str = "auto"):
  """Encoder/decoder modules and output activation for the registry."""
  h, w, _ = image_shape
  if h % 8 or w % 8:
    raise ValueError(f"dapueto needs height and width divisible by 8 (three "
                     f"stride-2 layers); got image_shape {image_shape}.")
  if nf < 4 or nf % 4:
    raise ValueError(f"dapueto nf must be a positive multiple of 4, got {nf}.")
  layers.check_conv_impl(conv_impl)
  return (Encoder(num_latents=num_latents, nf=nf, conv_impl=conv_impl),
          Decoder(image_shape=tuple(image_shape), nf=nf, conv_impl=conv_impl),
          "tanh")
