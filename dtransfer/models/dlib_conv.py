"""disentanglement_lib's ``conv_encoder`` / ``deconv_decoder`` (study default).

Layer for layer as in ``methods/shared/architectures.py`` (TF1 ``tf.layers``):
glorot-uniform kernels, zero biases, no normalisation, TF 'SAME' padding.
Note the 2x2 kernels of the last two encoder convs (disent's port uses 4x4
and flattens 1600 features; this is the 1024-feature original).

With a 64x64xC input and ``num_latents`` z the parameter count is
``690_517`` for C=1, z=10 (``692_567`` for C=3); tests/models_test.py derives
it layer by layer.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from dtransfer.models import layers

# TF1 tf.layers defaults (flax's nn.Dense would use lecun_normal).
_GLOROT = layers.GLOROT_UNIFORM


def _dense(features, name=None):
  return nn.Dense(features, kernel_init=_GLOROT,
                  bias_init=nn.initializers.zeros_init(), name=name)


class Encoder(nn.Module):
  """Conv 32-32-64-64 (4,4,2,2; stride 2) -> Dense 256 -> (mean, logvar)."""

  num_latents: int = 10
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False):
    del train  # No normalisation: dlib's is_training is unused as well.
    for features, k in ((32, 4), (32, 4), (64, 2), (64, 2)):
      x = layers.Conv(features, (k, k), (2, 2), "SAME",
                      conv_impl=self.conv_impl)(x)
      x = nn.relu(x)
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(_dense(256)(x))
    mean = _dense(self.num_latents, "mean")(x)
    logvar = _dense(self.num_latents, "logvar")(x)
    return mean, logvar


class Decoder(nn.Module):
  """Dense 256-1024 -> 4x4x64 -> ConvT 64-32-32-C (4x4, stride 2) -> logits."""

  image_shape: tuple[int, int, int] = (64, 64, 1)
  conv_impl: str = "auto"

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    h, w, c = self.image_shape
    x = nn.relu(_dense(256)(z))
    x = nn.relu(_dense((h // 16) * (w // 16) * 64)(x))
    x = x.reshape(x.shape[0], h // 16, w // 16, 64)
    for features in (64, 32, 32):
      x = layers.ConvTranspose(features, (4, 4), (2, 2), "SAME",
                               conv_impl=self.conv_impl)(x)
      x = nn.relu(x)
    return layers.ConvTranspose(c, (4, 4), (2, 2), "SAME",
                                conv_impl=self.conv_impl)(x)


def build(num_latents: int, image_shape: tuple[int, int, int], *,
          conv_impl: str = "auto"):
  """Encoder/decoder modules and output activation for the registry."""
  h, w, _ = image_shape
  if h % 16 or w % 16:
    raise ValueError(f"dlib_conv needs height and width divisible by 16 "
                     f"(four stride-2 layers); got image_shape {image_shape}.")
  layers.check_conv_impl(conv_impl)
  return (Encoder(num_latents=num_latents, conv_impl=conv_impl),
          Decoder(image_shape=tuple(image_shape), conv_impl=conv_impl),
          "logits")

