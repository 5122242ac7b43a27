"""VAE objectives as pure jnp functions: reconstruction, KL, β-VAE, paired.

Conventions (disentanglement_lib's, which the authors' code equals up to sign):

- Every per-example term is a *loss* (>= 0, lower is better): the Bernoulli
  negative log-likelihood summed over pixels and ``KL(q(z|x) || N(0, I))``
  summed over latent dims. Batch terms are means over examples.
- ``aux["elbo"]`` is dlib's "elbo" = recon + kl, i.e. the *negative* ELBO (the
  authors log ``recon_ll - kl``, its negation).
- ``loss = recon + beta * kl``.

Paired (weakly supervised) objective, for a batch of B pairs (x1, x2):
encode both, keep each image's own posterior on the latent dims judged to
differ, replace both posteriors by their average on the others (GVAE or
ML-VAE averaging), sample each image's code from its modified posterior,
and use ``recon = mean_B(r1/2 + r2/2)``, ``kl = mean_B(KL1/2 + KL2/2)``.
Which dims differ comes from the ``labels`` (index of the changed factor; the
authors' code) or from the adaptive ``argmax`` threshold (Ada-GVAE,
per example as in disentanglement_lib).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import jax
import jax.numpy as jnp
import numpy as np

from dtransfer.models import sample_z

ACTIVATIONS = ("logits", "tanh")
AVERAGING = ("gvae", "mlvae")
AGGREGATORS = ("labels", "argmax")
DIVERGENCES = ("dlib", "symmetric")
THRESHOLDS = ("example", "batch")
_TANH_EPS = 1e-6


def _choice(value, allowed, what):
  if value not in allowed:
    raise ValueError(f"{what} must be one of {allowed}, got {value!r}.")


def _sum_per_example(x: jax.Array) -> jax.Array:
  """``sum`` over every axis but the first, written as a product with ones.

  Same value up to float rounding. On XLA CPU a plain ``jnp.sum`` here is
  fused with the elementwise loss into a YNNPACK reduction (or rewritten into
  a reduce-window) that took about 30 ms for 128 images of 64x64 (a sixth of
  the train step); as a matrix-vector product the elementwise part stays an
  XLA loop and the whole loss takes about 7 ms (benchmarks/profile_step.py).
  """
  flat = x.reshape(x.shape[0], -1)
  if not jnp.issubdtype(flat.dtype, jnp.floating):
    return jnp.sum(flat, axis=-1)
  return jnp.dot(flat, jnp.ones((flat.shape[1],), flat.dtype),
                 precision=jax.lax.Precision.HIGHEST)


# --------------------------------------------------------- reconstruction ---


def bernoulli_reconstruction(x: jax.Array, out: jax.Array,
                             activation: str = "logits", *,
                             subtract_entropy: bool = False) -> jax.Array:
  """Per-example Bernoulli negative log-likelihood, summed over pixels.

  Targets may be continuous in [0, 1] (the colour datasets), as in dlib's
  ``bernoulli_loss``; the value is then a cross-entropy, still >= 0.

  Args:
    x: targets [B, ...] in [0, 1].
    out: decoder output, same shape: logits (``activation="logits"``,
      computed stably as sigmoid cross-entropy with logits) or pre-squash
      values (``"tanh"``: p = clip(tanh(out)/2 + 1/2, 1e-6, 1 - 1e-6), the
      authors' and dlib's tanh variant).
    activation: "logits" or "tanh".
    subtract_entropy: subtract the targets' own Bernoulli entropy (dlib's
      ``subtract_true_image_entropy``), giving a lower bound of 0 for
      continuous targets.

  Returns:
    [B] losses.
  """
  _choice(activation, ACTIVATIONS, "activation")
  if x.shape != out.shape:
    raise ValueError(f"targets {tuple(x.shape)} and decoder output "
                     f"{tuple(out.shape)} must have the same shape.")
  x = x.astype(out.dtype)
  if activation == "logits":
    nll = jnp.maximum(out, 0) - out * x + jnp.log1p(jnp.exp(-jnp.abs(out)))
  else:
    p = jnp.clip(jnp.tanh(out) * 0.5 + 0.5, _TANH_EPS, 1.0 - _TANH_EPS)
    nll = -(x * jnp.log(p) + (1.0 - x) * jnp.log1p(-p))
  loss = _sum_per_example(nll)
  if subtract_entropy:
    xc = jnp.clip(x, _TANH_EPS, 1.0 - _TANH_EPS)
    loss -= _sum_per_example(-(xc * jnp.log(xc) + (1 - xc) * jnp.log1p(-xc)))
  return loss


# --------------------------------------------------------------- KL terms ---


def gaussian_kl(mean: jax.Array, logvar: jax.Array) -> jax.Array:
  """Per-example KL(N(mean, exp(logvar)) || N(0, I)), summed over dims."""
  return 0.5 * jnp.sum(jnp.square(mean) + jnp.exp(logvar) - logvar - 1.0,
                       axis=-1)


def pairwise_kl(m1: jax.Array, lv1: jax.Array, m2: jax.Array,
                lv2: jax.Array) -> jax.Array:
  """Elementwise ``2 * KL(q1 || q2)`` of diagonal Gaussians (dlib compute_kl).

  ``var1/var2 + (m2 - m1)^2 / var2 - 1 + lv2 - lv1``; the factor 2 (no 1/2)
  is dlib's and does not move the argmax threshold.
  """
  return (jnp.exp(lv1 - lv2) + jnp.square(m2 - m1) * jnp.exp(-lv2) - 1.0
          + lv2 - lv1)


def symmetric_pairwise_kl(m1, lv1, m2, lv2) -> jax.Array:
  """The authors' elementwise divergence ½·2KL(q1‖q2) + ½·2KL(q2‖q1)."""
  return 0.5 * pairwise_kl(m1, lv1, m2, lv2) + 0.5 * pairwise_kl(
      m2, lv2, m1, lv1)


# ---------------------------------------------------- averaging/aggregation ---


def average_posteriors(m1, lv1, m2, lv2, method: str = "gvae"):
  """Shared posterior of a pair: returns (mean, logvar).

  - "gvae": mean = (m1 + m2)/2, var = (var1 + var2)/2.
  - "mlvae" (product of experts, as dlib): var = 2 var1 var2 / (var1 + var2),
    mean = var/2 * (m1/var1 + m2/var2).
  Both are written in log space so that tiny or huge variances stay finite.
  """
  _choice(method, AVERAGING, "averaging")
  if method == "gvae":
    return 0.5 * (m1 + m2), jnp.logaddexp(lv1, lv2) - math.log(2.0)
  logvar = math.log(2.0) + lv1 + lv2 - jnp.logaddexp(lv1, lv2)
  # var/2 * (m1/var1 + m2/var2) = (m1 var2 + m2 var1) / (var1 + var2).
  mean = m1 * jax.nn.sigmoid(lv2 - lv1) + m2 * jax.nn.sigmoid(lv1 - lv2)
  return mean, logvar


def _label_indices(labels, num_latents: int) -> jax.Array:
  """[B] int changed-factor indices; checks the range when not traced."""
  labels = jnp.asarray(labels)
  if labels.ndim == 2 and labels.shape[-1] == 1:
    labels = labels[:, 0]  # dlib feeds [label] per pair.
  if labels.ndim != 1:
    raise ValueError(f"labels must be [B] (or [B, 1]) changed-factor indices, "
                     f"got shape {tuple(labels.shape)}.")
  if not jnp.issubdtype(labels.dtype, jnp.integer):
    raise ValueError(f"labels must be integers, got {labels.dtype}.")
  if not isinstance(labels, jax.core.Tracer) and labels.size:
    concrete = np.asarray(labels)
    lo, hi = int(concrete.min()), int(concrete.max())
    if lo < 0 or hi >= num_latents:
      raise ValueError(
          f"label (changed-factor index) must be in [0, num_latents="
          f"{num_latents}); got values in [{lo}, {hi}]. The labels aggregator "
          f"ties latent j to factor j, so it needs num_latents >= "
          f"num_factors.")
  return labels


def aggregation_mask(m1, lv1, m2, lv2, *, aggregator: str = "labels",
                     labels=None, divergence: str = "dlib",
                     threshold: str = "example", dim_labels=None) -> jax.Array:
  """[B, L] bool: True where each image keeps its own posterior.

  Args:
    m1, lv1, m2, lv2: [B, L] posteriors of the two images of each pair.
    aggregator: "labels": keep exactly latent dim ``labels[b]`` (the index of
      the changed factor; dims >= num_factors are therefore always shared).
      "argmax" (Ada-GVAE): keep dims whose divergence is >= the midpoint
      ½(max + min) of that example's divergences.
    labels: [B] (or [B, 1]) ints in [0, L), for "labels". Under jit an
      out-of-range label cannot raise; it turns that pair's keep mask into
      all-False and ``aggregate`` makes its posteriors NaN, so the loss shows
      it.
    dim_labels: for "labels", optional: the factor index of each latent dim
      ([L] ints; -1 = always shared). Dim j is kept where ``dim_labels[j]``
      is the changed factor, so a factor may own several dims (e.g.
      ``(0, 1, 2, 3, 4, 2)``: orientation in dims 2 and 5). None: dim j
      belongs to factor j (the authors').
    divergence: for "argmax": "dlib" = 2·KL(q1‖q2) (one direction) or
      "symmetric" = the authors' ½·2KL(q1‖q2) + ½·2KL(q2‖q1).
    threshold: for "argmax": "example" (dlib, each row binned separately) or
      "batch" (the authors' unused argmax code: one min/max over [B, L]).
      When all divergences in the scope are equal nothing is kept, as TF's
      histogram binning does (it happens for identical images, where
      averaging is a no-op).
  """
  _choice(aggregator, AGGREGATORS, "aggregator")
  num_latents = m1.shape[-1]
  if aggregator == "labels":
    if labels is None:
      raise ValueError('aggregator="labels" needs labels (the index of the '
                       'changed factor of each pair).')
    idx = _label_indices(labels, num_latents)
    if idx.shape[0] != m1.shape[0]:
      raise ValueError(f"got {idx.shape[0]} labels for {m1.shape[0]} pairs.")
    if dim_labels is None or len(dim_labels) == 0:
      return jnp.arange(num_latents) == idx[:, None]
    owner = np.asarray(dim_labels, np.int32).reshape(-1)
    if owner.shape[0] != num_latents:
      raise ValueError(f"dim_labels gives {owner.shape[0]} factor indices for "
                       f"{num_latents} latent dims; give one per dim (-1: shared).")
    return jnp.asarray(owner)[None, :] == idx[:, None]
  _choice(divergence, DIVERGENCES, "divergence")
  _choice(threshold, THRESHOLDS, "threshold")
  if divergence == "dlib":
    delta = pairwise_kl(m1, lv1, m2, lv2)
  else:
    delta = symmetric_pairwise_kl(m1, lv1, m2, lv2)
  delta = jax.lax.stop_gradient(delta)
  axis = -1 if threshold == "example" else None
  hi = jnp.max(delta, axis=axis, keepdims=True)
  lo = jnp.min(delta, axis=axis, keepdims=True)
  return (delta >= 0.5 * (hi + lo)) & (hi > lo)


def aggregate(m1, lv1, m2, lv2, *, aggregator: str = "labels", labels=None,
              num_latents: Optional[int] = None, averaging: str = "gvae",
              divergence: str = "dlib", threshold: str = "example",
              return_mask: bool = False, dim_labels=None):
  """Modified posteriors of a pair: own posterior where kept, average elsewhere.

  See ``aggregation_mask`` for the options; ``num_latents`` (optional) is
  checked against the last axis.

  Returns:
    (m1t, lv1t, m2t, lv2t), each [B, L]; with ``return_mask`` also the [B, L]
    keep mask as a fifth element.
  """
  if m1.ndim != 2 or not m1.shape == lv1.shape == m2.shape == lv2.shape:
    raise ValueError(
        f"posteriors must all be [B, L]; got {tuple(m1.shape)}, "
        f"{tuple(lv1.shape)}, {tuple(m2.shape)}, {tuple(lv2.shape)}.")
  if num_latents is not None and num_latents != m1.shape[-1]:
    raise ValueError(f"num_latents={num_latents} but posteriors have "
                     f"{m1.shape[-1]} latent dims.")
  keep = aggregation_mask(m1, lv1, m2, lv2, aggregator=aggregator,
                          labels=labels, divergence=divergence,
                          threshold=threshold, dim_labels=dim_labels)
  ma, lva = average_posteriors(m1, lv1, m2, lv2, averaging)
  out = (jnp.where(keep, m1, ma), jnp.where(keep, lv1, lva),
         jnp.where(keep, m2, ma), jnp.where(keep, lv2, lva))
  if aggregator == "labels":
    # Only reachable under jit (eager calls raised already): poison the pair.
    bad = ~jnp.any(keep, axis=-1, keepdims=True)
    out = tuple(jnp.where(bad, jnp.nan, t) for t in out)
  return out + (keep,) if return_mask else out


# ----------------------------------------------------------------- losses ---


def beta_vae_loss(x, out, mean, logvar, *, beta, activation: str = "logits"):
  """Unsupervised β-VAE loss from model outputs.

  Args:
    x: images [B, H, W, C] in [0, 1].
    out: decoder output for one reparameterised sample per image.
    mean, logvar: posterior [B, L].
    beta: KL weight (float or traced scalar).
    activation: the model's ``output_activation``.

  Returns:
    (loss, aux) with aux = {"recon", "kl", "elbo"} batch means
    (elbo = recon + kl, the negative ELBO).
  """
  recon = jnp.mean(bernoulli_reconstruction(x, out, activation))
  kl = jnp.mean(gaussian_kl(mean, logvar))
  loss = recon + beta * kl
  return loss, {"recon": recon, "kl": kl, "elbo": recon + kl, "loss": loss}


def paired_elbo_loss(x1, x2, out1, out2, m1t, lv1t, m2t, lv2t, *, beta,
                     activation: str = "logits"):
  """Paired (weakly supervised) loss from outputs on modified posteriors.

  ``out1``/``out2`` decode samples of the modified posteriors (m1t, lv1t) and
  (m2t, lv2t) returned by ``aggregate``. recon = mean_B(½r1 + ½r2),
  kl = mean_B(½KL(q̃1) + ½KL(q̃2)), loss = recon + β·kl.

  Returns:
    (loss, aux) with aux = {"recon", "kl", "elbo", "loss"}.
  """
  r = 0.5 * (bernoulli_reconstruction(x1, out1, activation)
             + bernoulli_reconstruction(x2, out2, activation))
  k = 0.5 * (gaussian_kl(m1t, lv1t) + gaussian_kl(m2t, lv2t))
  recon, kl = jnp.mean(r), jnp.mean(k)
  loss = recon + beta * kl
  return loss, {"recon": recon, "kl": kl, "elbo": recon + kl, "loss": loss}


def beta_vae_forward(vae, variables: Mapping[str, Any], batch, key: jax.Array,
                     beta, *, train: bool = True):
  """Whole unsupervised forward pass on ``batch = {"x": [B, H, W, C]}``.

  One reparameterised sample per image from ``key``. Differentiate with
  ``jax.value_and_grad(..., has_aux=True)`` w.r.t. ``variables['params']``
  (pass the rest unchanged).

  Returns:
    (loss, (aux, new_model_state)); merge the state into ``variables``.
  """
  x = batch["x"]
  mean, logvar, state = vae.encode(variables, x, train=train)
  out = vae.decode(variables, sample_z(key, mean, logvar))
  loss, aux = beta_vae_loss(x, out, mean, logvar, beta=beta,
                            activation=vae.output_activation)
  return loss, (aux, state)


def paired_elbo_forward(vae, variables: Mapping[str, Any], batch,
                        key: jax.Array, beta, *, aggregator: str = "labels",
                        averaging: str = "gvae", divergence: str = "dlib",
                        threshold: str = "example", train: bool = True,
                        dim_labels=None):
  """Whole paired forward pass on ``batch = {"x1", "x2", "label"}``.

  ``cat(x1, x2)`` goes through the encoder as ONE batch (so BatchNorm
  statistics cover both halves, as the authors' code does), both modified
  posteriors are sampled with one draw from ``key`` and decoded as one
  batch. ``label`` is needed only by ``aggregator="labels"``.

  Returns:
    (loss, (aux, new_model_state)); aux adds "kept_dims", the mean number of
    latent dims that keep their own posterior (the estimated k for argmax).
  """
  x1, x2 = batch["x1"], batch["x2"]
  if x1.shape != x2.shape:
    raise ValueError(f"x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} differ.")
  b = x1.shape[0]
  mean, logvar, state = vae.encode(variables, jnp.concatenate([x1, x2]),
                                   train=train)
  m1, m2, lv1, lv2 = mean[:b], mean[b:], logvar[:b], logvar[b:]
  labels = batch.get("label") if aggregator == "labels" else None
  m1t, lv1t, m2t, lv2t, keep = aggregate(
      m1, lv1, m2, lv2, aggregator=aggregator, labels=labels,
      averaging=averaging, divergence=divergence, threshold=threshold,
      return_mask=True, dim_labels=dim_labels)
  z = sample_z(key, jnp.concatenate([m1t, m2t]),
               jnp.concatenate([lv1t, lv2t]))
  out = vae.decode(variables, z)
  loss, aux = paired_elbo_loss(x1, x2, out[:b], out[b:], m1t, lv1t, m2t,
                               lv2t, beta=beta,
                               activation=vae.output_activation)
  aux["kept_dims"] = jnp.mean(jnp.sum(keep, axis=-1).astype(jnp.float32))
  return loss, (aux, state)


# --------------------------------------------------------------- schedule ---


def beta_schedule(step, beta, warmup_steps: int):
  """The authors' linear warm-up: ``linspace(0, beta, W)[step]`` then beta.

  ``beta * step / (W - 1)`` for step < W (0 at step 0), ``beta`` afterwards;
  W = 0 means no warm-up. Jittable in ``step`` and ``beta``.
  """
  warmup_steps = int(warmup_steps)
  if warmup_steps < 0:
    raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}.")
  beta = jnp.asarray(beta, jnp.float32)
  if warmup_steps == 0:
    return beta
  step = jnp.asarray(step, jnp.float32)
  ramp = beta * step / max(warmup_steps - 1, 1)
  return jnp.where(step < warmup_steps, ramp, beta)
