"""CDRD and E-CDRD losses as pure functions of arrays (Liu et al., CVPR 2018).

The paper writes log-likelihoods (eqs. 1-4, 7, 11); these are the matching
cross-entropies as the official digits code computes them (ycliu93/CDRD at
6a895b7): real/fake is a 2-way softmax cross-entropy (logit 1 = real), the
attribute term a K-way one, lambda weighs the attribute ("disentanglement")
terms. Discriminator outputs are dicts ``{"rf": [B, 2], "cls": [B, K]}``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dtransfer import losses as vae_losses

REAL, FAKE = 1, 0


def rf_ce(rf_logits, real: bool):
  """Mean 2-way cross-entropy of real/fake logits against "real" or "fake"."""
  return -jnp.mean(jax.nn.log_softmax(rf_logits, axis=-1)[:, REAL if real else FAKE])


def class_ce(logits, labels):
  """Mean K-way cross-entropy of attribute logits against integer labels."""
  logp = jax.nn.log_softmax(logits, axis=-1)
  return -jnp.mean(jnp.take_along_axis(logp, labels[:, None].astype(jnp.int32), axis=-1))


def discriminator_loss(real_s, fake_s, real_t, fake_t, labels_s, labels_fake, lam=1.0):
  """The official D loss: per-domain real/fake halves, and the attribute head
  on labelled real *source* images and on fakes of both domains with their
  codes l~ (no target label anywhere)::

    [rf(real_s, 1) + rf(fake_s, 0)] / 2 + [rf(real_t, 1) + rf(fake_t, 0)] / 2
    + lam * ([ce(real_s, l_s) + ce(fake_s, l~)] / 2 + ce(fake_t, l~) / 2)
  """
  adv = ((rf_ce(real_s["rf"], True) + rf_ce(fake_s["rf"], False)) / 2
         + (rf_ce(real_t["rf"], True) + rf_ce(fake_t["rf"], False)) / 2)
  dis = ((class_ce(real_s["cls"], labels_s) + class_ce(fake_s["cls"], labels_fake)) / 2
         + class_ce(fake_t["cls"], labels_fake) / 2)
  return adv + lam * dis, {"adv": adv, "dis": dis}


def generator_loss(fake_s, fake_t, labels_fake, lam=1.0):
  """The official G loss: non-saturating real/fake on both domains' fakes plus
  the attribute terms of the fakes (the real-source term of the code's shared
  class loss is constant in G and left out)::

    rf(fake_s, 1) + rf(fake_t, 1) + lam * (ce(fake_s, l~) / 2 + ce(fake_t, l~) / 2)
  """
  adv = rf_ce(fake_s["rf"], True) + rf_ce(fake_t["rf"], True)
  dis = class_ce(fake_s["cls"], labels_fake) / 2 + class_ce(fake_t["cls"], labels_fake) / 2
  return adv + lam * dis, {"adv": adv, "dis": dis}


def vae_loss(x, x_rec, mean, logvar):
  """E-CDRD's L_vae of one domain (eq. 7) with Phi = pixels: per image the
  squared error and KL(q(z|x) || N(0, I)), both divided by the number of pixel
  values (the Cycle-VAE normalisation, so the term sits on the scale of the
  GAN cross-entropies), averaged over the batch."""
  pixels = x[0].size
  sse = jnp.sum(jnp.square(x - x_rec).reshape(x.shape[0], -1), axis=-1)
  kl = vae_losses.gaussian_kl(mean, logvar)
  return jnp.mean(sse + kl) / pixels, {"rec": jnp.mean(sse) / pixels,
                                       "kl": jnp.mean(kl)}
