"""PyTorch reference of dtransfer's paired (Ada-GVAE) train step, for timing only.

dlib's ``conv_encoder`` / ``deconv_decoder`` written the way a PyTorch user
would (NCHW, ``nn.Conv2d`` / ``nn.ConvTranspose2d``), with the loss and
optimiser of ``dtransfer.train.make_train_step`` under the benchmark config:

- encoder: Conv 32 4x4 s2 p1, Conv 32 4x4 s2 p1, Conv 64 2x2 s2, Conv 64 2x2
  s2 (TF 'SAME' pads 1 on each side for 4x4/s2 and nothing for 2x2/s2),
  Dense 256, then linear mean and logvar heads;
- decoder: Dense 256, Dense 1024, 4x4x64, ConvT 64/32/32/C 4x4 s2 padding 1
  (TF 'SAME' for a transposed 4x4/s2), Bernoulli logits;
- loss: the two images of each pair encoded as one batch, Ada-GVAE argmax
  aggregation per example on ``2 KL(q1 || q2)``, GVAE averaging, one sample per
  image, ``mean_B(r1/2 + r2/2) + beta * mean_B(KL1/2 + KL2/2)``;
- optimiser: optional global-norm clipping, then Adam.

``check_against_jax`` loads dtransfer's parameters into this network and
compares the loss and gradients for the same noise, so the timing compares
the same computation. torch is a benchmark-only dependency
(``pip install torch==2.13.0``); the library never imports this file.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


class Encoder(nn.Module):
  """dlib conv_encoder: 4 strided convs, Dense 256, (mean, logvar)."""

  def __init__(self, channels: int = 1, num_latents: int = 10):
    super().__init__()
    self.convs = nn.ModuleList([
        nn.Conv2d(channels, 32, 4, 2, 1),
        nn.Conv2d(32, 32, 4, 2, 1),
        nn.Conv2d(32, 64, 2, 2, 0),
        nn.Conv2d(64, 64, 2, 2, 0),
    ])
    self.dense = nn.Linear(1024, 256)
    self.mean = nn.Linear(256, num_latents)
    self.logvar = nn.Linear(256, num_latents)

  def forward(self, x):
    for conv in self.convs:
      x = F.relu(conv(x))
    x = F.relu(self.dense(x.flatten(1)))
    return self.mean(x), self.logvar(x)


class Decoder(nn.Module):
  """dlib deconv_decoder: Dense 256-1024, 4x4x64, 4 ConvT 4x4 s2 p1 -> logits."""

  def __init__(self, channels: int = 1, num_latents: int = 10):
    super().__init__()
    self.dense1 = nn.Linear(num_latents, 256)
    self.dense2 = nn.Linear(256, 1024)
    self.deconvs = nn.ModuleList([
        nn.ConvTranspose2d(64, 64, 4, 2, 1),
        nn.ConvTranspose2d(64, 32, 4, 2, 1),
        nn.ConvTranspose2d(32, 32, 4, 2, 1),
        nn.ConvTranspose2d(32, channels, 4, 2, 1),
    ])

  def forward(self, z):
    x = F.relu(self.dense2(F.relu(self.dense1(z))))
    x = x.view(-1, 64, 4, 4)
    for i, deconv in enumerate(self.deconvs):
      x = deconv(x)
      if i < len(self.deconvs) - 1:
        x = F.relu(x)
    return x


def paired_loss(encoder, decoder, x1, x2, beta: float = 1.0, eps=None):
  """Ada-GVAE paired negative ELBO; ``x1``, ``x2`` float NCHW in [0, 1]."""
  b = x1.shape[0]
  mean, logvar = encoder(torch.cat([x1, x2]))
  m1, m2, lv1, lv2 = mean[:b], mean[b:], logvar[:b], logvar[b:]
  with torch.no_grad():  # dlib: 2 KL(q1 || q2) per dim, midpoint threshold.
    delta = (torch.exp(lv1 - lv2) + (m2 - m1) ** 2 * torch.exp(-lv2) - 1.0
             + lv2 - lv1)
    hi = delta.max(dim=1, keepdim=True).values
    lo = delta.min(dim=1, keepdim=True).values
    keep = (delta >= 0.5 * (hi + lo)) & (hi > lo)
  ma = 0.5 * (m1 + m2)
  lva = torch.logaddexp(lv1, lv2) - math.log(2.0)
  m1t, lv1t = torch.where(keep, m1, ma), torch.where(keep, lv1, lva)
  m2t, lv2t = torch.where(keep, m2, ma), torch.where(keep, lv2, lva)
  mt, lvt = torch.cat([m1t, m2t]), torch.cat([lv1t, lv2t])
  if eps is None:
    eps = torch.randn_like(mt)
  out = decoder(mt + torch.exp(0.5 * lvt) * eps)
  x = torch.cat([x1, x2])
  rec = F.binary_cross_entropy_with_logits(out, x, reduction="none")
  rec = rec.flatten(1).sum(1)
  kl = 0.5 * (mt ** 2 + torch.exp(lvt) - lvt - 1.0).sum(1)
  recon = 0.5 * (rec[:b] + rec[b:]).mean()
  kl = 0.5 * (kl[:b] + kl[b:]).mean()
  return recon + beta * kl


class TrainStep:
  """Adam (optionally after global-norm clipping) on the paired loss."""

  def __init__(self, channels=1, num_latents=10, lr=1e-4, grad_clip_norm=0.0,
               beta=1.0, seed=0):
    torch.manual_seed(seed)
    self.encoder = Encoder(channels, num_latents)
    self.decoder = Decoder(channels, num_latents)
    self.params = (list(self.encoder.parameters())
                   + list(self.decoder.parameters()))
    self.opt = torch.optim.Adam(self.params, lr=lr, betas=(0.9, 0.999),
                                eps=1e-8)
    self.grad_clip_norm, self.beta = grad_clip_norm, beta

  def __call__(self, x1_u8, x2_u8):
    """One step on uint8 NCHW images (converted here, as dtransfer does)."""
    x1 = x1_u8.float() / 255.0
    x2 = x2_u8.float() / 255.0
    self.opt.zero_grad(set_to_none=True)
    loss = paired_loss(self.encoder, self.decoder, x1, x2, self.beta)
    loss.backward()
    if self.grad_clip_norm > 0:
      torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip_norm)
    self.opt.step()
    return loss.detach()

  @torch.no_grad()
  def encode(self, x_u8):
    """Posterior means of uint8 NCHW images (evaluation's forward pass)."""
    return self.encoder(x_u8.float() / 255.0)[0]


def load_dtransfer_params(step: TrainStep, params) -> None:
  """Copies dtransfer dlib_conv params (HWIO / [in, out] kernels) into ``step``."""
  enc, dec = params["encoder"], params["decoder"]
  t = lambda a: torch.from_numpy(np.array(a, np.float32))
  with torch.no_grad():
    for i, conv in enumerate(step.encoder.convs):
      conv.weight.copy_(t(np.asarray(enc[f"Conv_{i}"]["kernel"]).transpose(
          3, 2, 0, 1)))
      conv.bias.copy_(t(enc[f"Conv_{i}"]["bias"]))
    # dtransfer flattens 4x4x64 in HWC order, torch in CHW order.
    k = np.asarray(enc["Dense_0"]["kernel"]).reshape(4, 4, 64, 256)
    step.encoder.dense.weight.copy_(t(k.transpose(2, 0, 1, 3).reshape(
        1024, 256).T))
    step.encoder.dense.bias.copy_(t(enc["Dense_0"]["bias"]))
    for name in ("mean", "logvar"):
      getattr(step.encoder, name).weight.copy_(t(np.asarray(
          enc[name]["kernel"]).T))
      getattr(step.encoder, name).bias.copy_(t(enc[name]["bias"]))
    step.decoder.dense1.weight.copy_(t(np.asarray(
        dec["Dense_0"]["kernel"]).T))
    step.decoder.dense1.bias.copy_(t(dec["Dense_0"]["bias"]))
    k = np.asarray(dec["Dense_1"]["kernel"]).reshape(256, 4, 4, 64)
    step.decoder.dense2.weight.copy_(t(k.transpose(0, 3, 1, 2).reshape(
        256, 1024).T))
    b = np.asarray(dec["Dense_1"]["bias"]).reshape(4, 4, 64)
    step.decoder.dense2.bias.copy_(t(b.transpose(2, 0, 1).reshape(-1)))
    for i, deconv in enumerate(step.decoder.deconvs):
      # Scatter-semantics [kh, kw, in, out] -> torch [in, out, kh, kw].
      deconv.weight.copy_(t(np.asarray(
          dec[f"ConvTranspose_{i}"]["kernel"]).transpose(2, 3, 0, 1)))
      deconv.bias.copy_(t(dec[f"ConvTranspose_{i}"]["bias"]))


def check_against_jax(model, params, x1_u8, x2_u8, beta=1.0, seed=0):
  """Relative differences (loss, encoder-conv-0 kernel gradient) vs dtransfer.

  Runs ``dtransfer.losses.paired_elbo_forward`` (Ada-GVAE argmax, GVAE) with a
  fixed key, recovers its noise, and evaluates this network on the same
  parameters and noise. ``x*_u8`` are NHWC uint8 arrays.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from dtransfer import losses  # pylint: disable=g-import-not-at-top

  key = jax.random.PRNGKey(seed)
  b = x1_u8.shape[0]
  batch = {"x1": jnp.asarray(x1_u8, jnp.float32) / 255.0,
           "x2": jnp.asarray(x2_u8, jnp.float32) / 255.0}

  def fn(p):
    loss, _ = losses.paired_elbo_forward(model, {"params": p}, batch, key,
                                         beta, aggregator="argmax")
    return loss

  loss_j, grads_j = jax.value_and_grad(fn)(params)
  eps = np.array(jax.random.normal(key, (2 * b, model.num_latents)))
  step = TrainStep(channels=x1_u8.shape[-1], num_latents=model.num_latents)
  load_dtransfer_params(step, params)
  to_nchw = lambda a: torch.from_numpy(
      np.ascontiguousarray(np.asarray(a).transpose(0, 3, 1, 2))).float() / 255.
  loss_t = paired_loss(step.encoder, step.decoder, to_nchw(x1_u8),
                       to_nchw(x2_u8), beta, eps=torch.from_numpy(eps))
  loss_t.backward()
  g_t = step.encoder.convs[0].weight.grad.numpy().transpose(2, 3, 1, 0)
  g_j = np.asarray(grads_j["encoder"]["Conv_0"]["kernel"])
  rel_loss = abs(float(loss_t.detach()) - float(loss_j)) / abs(float(loss_j))
  rel_grad = float(np.max(np.abs(g_t - g_j)) / np.max(np.abs(g_j)))
  return rel_loss, rel_grad
