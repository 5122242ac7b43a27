"""CDRD's coupled networks (Liu et al., CVPR 2018) as pure Flax modules.

Weight sharing is asymmetric, as in CoGAN and the official code:

* ``CoupledGenerator``: a shared high-level trunk G_C (the code ``[z, one-hot
  l]`` up to the last feature map) and one low-level output layer per domain
  (G_S, G_T), so the two domains may even differ in channels.
* ``CoupledDiscriminator``: one low-level first conv per domain (D_S, D_T), a
  shared trunk D_C up to a linear embedding, and two shared heads on it:
  real/fake (2 logits) and the attribute classifier.
* ``CoupledEncoder`` (E-CDRD): per-domain first conv, shared trunk, (mu, logvar).

Every module is called with a *static* ``domain`` ("source" or "target"), so a
jitted function specialises per domain; one parameter tree holds the shared
and both domains' layers (``<part>_source``, ``<part>_target`` and the shared
``trunk_*`` / head names), so one optax state updates all of them.
``init_all`` runs both domains, so ``init`` creates every parameter.

Two architectures:

* ``digits`` (28x28): the official TF code's nets.py. G: 1x1x(z+K) ->
  ConvT k2 s2 (2x2x1024) -> k3 s2 (5x5x512) -> k3 s2 (12x12x256, TF's extra
  row: padding (2, 3)) -> k3 s2 (25x25x128), LeakyReLU 0.25 each, then the
  domain's ConvT k4 s1 (28x28) + tanh. D: the domain's Conv 5x5 (20) + LReLU,
  then shared maxpool, Conv 5x5 (50, no activation), maxpool, Conv 4x4 (500)
  + LReLU, Dense 500 (the embedding), heads. Init N(0, 0.02), zero bias.
* ``dcgan`` (any power-of-two side >= 16, e.g. 32 or 64 for dSprites): the
  same split with DCGAN-style stride-2 4x4 (transposed) convs: the generator
  shares Dense -> 4x4 and every upsampling but the last; the discriminator's
  first stride-2 conv is per domain and the rest is shared. The paper's 64x64
  face/scene nets are unpublished (ycliu93/CDRD ships only the digits
nets); this is our choice.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

DOMAINS = ("source", "target")
SLOPE = 0.25          # the official code's LeakyReLU slope (every layer)
INIT_STDDEV = 0.02     # the official init: N(0, 0.02) kernels, zero biases
_INIT = nn.initializers.normal(INIT_STDDEV)


def domain_of(name: str) -> str:
  """"source", "target" or "shared": which domain a top-level parameter serves."""
  for d in DOMAINS:
    if name.endswith("_" + d):
      return d
  return "shared"


def _lrelu(x):
  return nn.leaky_relu(x, SLOPE)


def _check_domain(domain: str) -> None:
  if domain not in DOMAINS:
    raise ValueError(f"unknown domain {domain!r}; use one of {DOMAINS}.")


def check_arch(arch: str, size: int) -> None:
  """Raises ValueError when ``arch`` cannot make ``size`` x ``size`` images."""
  if arch == "digits":
    if size != 28:
      raise ValueError(f"the 'digits' architecture (the official CDRD nets) is "
                       f"28x28 only, got images of side {size}; set "
                       "method.image_size=28 or use arch='dcgan'.")
  elif arch == "dcgan":
    if size < 16 or size & (size - 1):
      raise ValueError(f"the 'dcgan' architecture needs a power-of-two side >= 16, "
                       f"got {size}; set method.image_size to 16, 32 or 64.")
  else:
    raise ValueError(f"unknown CDRD architecture {arch!r}; use 'digits' or 'dcgan'.")


def _conv_t(features, kernel, strides, padding, name=None):
  del name  # setup() names submodules after their attribute
  return nn.ConvTranspose(features, (kernel, kernel), (strides, strides), padding=padding,
                          kernel_init=_INIT)


def _conv(features, kernel, strides, padding, name=None):
  del name
  return nn.Conv(features, (kernel, kernel), (strides, strides), padding=padding,
                 kernel_init=_INIT)


def _dense(features, name=None):
  del name
  return nn.Dense(features, kernel_init=_INIT)


class CoupledGenerator(nn.Module):
  """``(z [B, Z], labels one-hot [B, K], domain) -> images [B, S, S, C_domain]`` in [-1, 1]."""

  arch: str
  size: int
  channels: tuple[int, int]     # output channels of (source, target)
  width: int = 64               # dcgan: base channel count

  def setup(self):
    check_arch(self.arch, self.size)
    if self.arch == "digits":
      w = self.width       # 64: the official 1024, 512, 256, 128 channels
      self.trunk = [_conv_t(16 * w, 2, 2, "VALID", "trunk_0"),
                    _conv_t(8 * w, 3, 2, "VALID", "trunk_1"),
                    _conv_t(4 * w, 3, 2, ((2, 3), (2, 3)), "trunk_2"),
                    _conv_t(2 * w, 3, 2, "VALID", "trunk_3")]
      self.heads = {d: _conv_t(c, 4, 1, "VALID", f"out_{d}")
                    for d, c in zip(DOMAINS, self.channels)}
    else:
      ups = int(math.log2(self.size // 4))       # 4 -> size
      self.trunk_dense = _dense(4 * 4 * self.width * 2 ** (ups - 1), "trunk_dense")
      self.trunk = [_conv_t(self.width * 2 ** (ups - 2 - i), 4, 2, "SAME", f"trunk_{i}")
                    for i in range(ups - 1)]
      self.heads = {d: _conv_t(c, 4, 2, "SAME", f"out_{d}")
                    for d, c in zip(DOMAINS, self.channels)}

  def _shared(self, z, labels):
    h = jnp.concatenate([z, labels.astype(z.dtype)], axis=-1)
    if self.arch == "digits":
      h = h[:, None, None, :]
    else:
      ups = int(math.log2(self.size // 4))
      h = _lrelu(self.trunk_dense(h)).reshape(h.shape[0], 4, 4,
                                              self.width * 2 ** (ups - 1))
    for layer in self.trunk:
      h = _lrelu(layer(h))
    return h

  def __call__(self, z, labels, domain: str):
    _check_domain(domain)
    return jnp.tanh(self.heads[domain](self._shared(z, labels)))

  def both(self, z, labels):
    """Both domains' images of the same codes, the shared trunk run once."""
    h = self._shared(z, labels)
    return {d: jnp.tanh(self.heads[d](h)) for d in DOMAINS}

  init_all = both


class CoupledDiscriminator(nn.Module):
  """``(images [B, S, S, C_domain] in [-1, 1], domain) -> dict`` of
  ``rf`` (real/fake logits [B, 2], index 1 = real), ``cls`` (attribute logits
  [B, K]) and ``embedding`` ([B, E], the shared representation)."""

  arch: str
  size: int
  num_classes: int
  width: int = 64
  embedding: int = 500

  def setup(self):
    check_arch(self.arch, self.size)
    if self.arch == "digits":
      w = self.width / 64    # 64: the official 20, 50, 500 channels
      self.stems = {d: _conv(max(round(20 * w), 1), 5, 1, "VALID", f"stem_{d}")
                    for d in DOMAINS}
      self.trunk_conv1 = _conv(max(round(50 * w), 1), 5, 1, "VALID", "trunk_conv1")
      self.trunk_conv2 = _conv(max(round(500 * w), 1), 4, 1, "VALID", "trunk_conv2")
    else:
      downs = int(math.log2(self.size // 4))      # size -> 4
      self.stems = {d: _conv(self.width, 4, 2, "SAME", f"stem_{d}") for d in DOMAINS}
      self.trunk = [_conv(self.width * 2 ** (i + 1), 4, 2, "SAME", f"trunk_{i}")
                    for i in range(downs - 1)]
    self.trunk_embed = _dense(self.embedding, "trunk_embed")
    self.rf_head = _dense(2, "rf_head")
    self.cls_head = _dense(self.num_classes, "cls_head")

  def __call__(self, x, domain: str):
    _check_domain(domain)
    h = _lrelu(self.stems[domain](x))
    if self.arch == "digits":
      h = nn.max_pool(h, (2, 2), (2, 2))
      h = self.trunk_conv1(h)                    # no activation (official)
      h = nn.max_pool(h, (2, 2), (2, 2))
      h = _lrelu(self.trunk_conv2(h))
    else:
      for layer in self.trunk:
        h = _lrelu(layer(h))
    e = self.trunk_embed(h.reshape(h.shape[0], -1))
    return {"rf": self.rf_head(e), "cls": self.cls_head(e), "embedding": e}

  def init_all(self, xs):
    return {d: self(x, d) for d, x in zip(DOMAINS, xs)}


class CoupledEncoder(nn.Module):
  """E-CDRD's encoder: ``(images, domain) -> (mu, logvar)`` of q(z | x); the
  first conv is per domain, the rest shared (mirroring the discriminator)."""

  arch: str
  size: int
  num_latents: int
  width: int = 64

  def setup(self):
    check_arch(self.arch, self.size)
    if self.arch == "digits":
      self.stems = {d: _conv(20, 5, 1, "VALID", f"stem_{d}") for d in DOMAINS}
      self.trunk = [_conv(50, 5, 2, "VALID", "trunk_0"),      # 24 -> 10
                    _conv(128, 4, 2, "VALID", "trunk_1")]     # 10 -> 4
    else:
      downs = int(math.log2(self.size // 4))
      self.stems = {d: _conv(self.width, 4, 2, "SAME", f"stem_{d}") for d in DOMAINS}
      self.trunk = [_conv(self.width * 2 ** (i + 1), 4, 2, "SAME", f"trunk_{i}")
                    for i in range(downs - 1)]
    self.trunk_mean = _dense(self.num_latents, "trunk_mean")
    self.trunk_logvar = _dense(self.num_latents, "trunk_logvar")

  def __call__(self, x, domain: str):
    _check_domain(domain)
    h = _lrelu(self.stems[domain](x))
    for layer in self.trunk:
      h = _lrelu(layer(h))
    h = h.reshape(h.shape[0], -1)
    return self.trunk_mean(h), self.trunk_logvar(h)

  def init_all(self, xs):
    return {d: self(x, d) for d, x in zip(DOMAINS, xs)}


def to_model_input(x_uint8_or_unit, size: int, unit: bool = False):
  """uint8 images (or floats in [0, 1] with ``unit``) -> [-1, 1], resized to ``size``."""
  x = x_uint8_or_unit.astype(jnp.float32)
  x = x * 2.0 - 1.0 if unit else x / 127.5 - 1.0
  if x.shape[1] != size or x.shape[2] != size:
    x = jax.image.resize(x, (x.shape[0], size, size, x.shape[3]), "linear")
  return x


def to_channels(x, channels: int):
  """Images with ``channels`` channels: grey <-> RGB (mean / repeat)."""
  c = x.shape[-1]
  if c == channels:
    return x
  if channels == 1:
    return jnp.mean(x, axis=-1, keepdims=True)
  if c == 1:
    return jnp.repeat(x, channels, axis=-1)
  raise ValueError(f"cannot map {c}-channel images to {channels} channels.")
