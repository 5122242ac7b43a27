"""The losses of domain intersection and domain difference, as in the official code.

Arrays in, scalars out; images in [-1, 1]; the discriminator gives logits
(the official ``Sigmoid`` + ``BCELoss`` is ``bce_with_logits``, computed stably).

  reconstruction  |G(c(a), s_A(a), 0) - a|_1 + |G(c(b), 0, s_B(b)) - b|_1
  zero            |s_B(a)|_1 + |s_A(b)|_1   (each domain's private encoder is
                  zero on the other domain)
  discriminator   BCE(d(c(a)), 1) + BCE(d(c(b)), 0)
  confusion       BCE(d(c(a)), 0) + BCE(d(c(b)), 0)   ("one_sided": the code's
                  form, both domains pushed to B's label) or
                  BCE(d(c(a)), 0) + BCE(d(c(b)), 1)   ("symmetric": flipped labels)

Every |.|_1 and BCE is a mean over its elements (PyTorch's default reduction).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

CONFUSION = ("one_sided", "symmetric")


def l1(x: jax.Array, y: jax.Array) -> jax.Array:
  """Mean absolute difference (``nn.L1Loss()``)."""
  return jnp.mean(jnp.abs(x - y))


def bce_with_logits(logits: jax.Array, label: float) -> jax.Array:
  """Mean binary cross-entropy of ``sigmoid(logits)`` against a constant label."""
  return jnp.mean(jax.nn.softplus(logits) - label * logits)


def reconstruction_loss(rec_a, a, rec_b, b) -> jax.Array:
  return l1(rec_a, a) + l1(rec_b, b)


def zero_loss(s_b_of_a, s_a_of_b) -> jax.Array:
  """The other domain's specific code towards zero: |E^s_B(a)| + |E^s_A(b)|."""
  return jnp.mean(jnp.abs(s_b_of_a)) + jnp.mean(jnp.abs(s_a_of_b))


def discriminator_loss(logits_a, logits_b) -> jax.Array:
  """d learns the domain of a common code: A is 1, B is 0."""
  return bce_with_logits(logits_a, 1.0) + bce_with_logits(logits_b, 0.0)


def confusion_loss(logits_a, logits_b, mode: str = "one_sided") -> jax.Array:
  """The encoder's side of the domain confusion on common codes (see above)."""
  if mode == "one_sided":
    return bce_with_logits(logits_a, 0.0) + bce_with_logits(logits_b, 0.0)
  if mode == "symmetric":
    return bce_with_logits(logits_a, 0.0) + bce_with_logits(logits_b, 1.0)
  raise ValueError(f"unknown confusion mode '{mode}'; choose one of {CONFUSION}.")


def domain_accuracy(logits_a, logits_b) -> jax.Array:
  """How often d tells the domains apart (0.5: confused)."""
  return 0.5 * (jnp.mean(logits_a > 0) + jnp.mean(logits_b <= 0))
