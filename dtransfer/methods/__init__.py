"""Representation-learning methods, chosen by name (``config.method.name``).

A method is everything about *how* a representation is learned; the rest of
dtransfer (the train loop, evaluation, transfer, the work directory) knows
only this interface (``base.Method``):

  build_model(config, image_shape)
                         (a classmethod) the network; by default the VAE of
                         ``config.model`` from dtransfer/models.
  init(seed)             the training state: a pytree dict with an int32
                         ``step`` and whatever else the method needs, e.g.
                         ``params``, ``model_state`` and any number of optax
                         states (one per optimiser, each in its own entry).
  batches(images, shard) the host batches, a random-access sequence
                         (``__len__``/``__getitem__``, a pure function of the
                         index): weak pairs, single images, or anything else.
  device_batch(batch)    the arrays of a host batch that go to the devices.
  train_step()           the jitted ``(state, batch) -> (state, metrics)``;
                         ``metrics`` holds ``loss`` and ``finite`` (a step with
                         a non-finite loss, gradient or updated state leaves
                         the whole state as it was, ``step`` included:
                         ``base.guard_state``; the loop then stops, and a
                         rerun resumes from the newest verified checkpoint).
  variables(state)       the model variables (for evaluation and figures).
  encode(variables, x)   images (float, [0, 1]) -> the representation scored
                         by the metrics (inside jit).
  figures(variables, examples, outdir, config)
                         the method's pictures of a model (VAEs: traversals
                         and reconstructions), PNG.
  evaluate(variables, images, config, outdir)
                         the method's own results beyond the shared metrics
                         (probes, translation errors, adaptation accuracy),
                         merged into results.json.
  export(state)          the parts that move to a target dataset.
  FINE_TUNE              the name of the method that fine-tunes on a target,
  init_from(parts)       and, on that method, its state built from ``export``.

The train loop only runs ``train_step`` over ``batches`` from ``state['step']``,
logs ``metrics``, guards against NaN and checkpoints ``state``; so

* a GAN-style method with two players keeps ``params = {"gen", "disc"}`` and
  ``opt_state = {"gen": ..., "disc": ...}`` (two optax states) and updates both
  inside its one ``train_step`` (discriminator, then generator);
* a VAE with two alternating objectives (the cycle-consistent VAE: a forward
  cycle updating encoder and decoder, a reverse cycle updating the encoder
  only with its own Adam state) keeps ``opt_state = {"forward": ...,
  "reverse": ...}`` and applies both updates in its ``train_step`` (or one of
  them per step, chosen with ``lax.cond`` on ``state['step']``);

``two_player.make_step`` is that two-player step, written once: each player's
loss is a pure function differentiated with respect to its own parameters, and
the second player sees the first's updated parameters under ``stop_gradient``;
neither needs a special case in training, evaluation or checkpointing, since
all of them treat the state as an opaque pytree.

To add a method: subclass ``base.Method`` in a module of this package and add
its name to ``METHODS`` below.
"""

from __future__ import annotations

import importlib

# name -> "module:class"; imported on first use.
METHODS = {
    "weak_vae": "dtransfer.methods.vae:WeakVAE",
    "beta_vae": "dtransfer.methods.vae:BetaVAE",
    "cycle_vae": "dtransfer.methods.cycle_vae:CycleVAE",
    "cycle_vae_finetune": "dtransfer.methods.cycle_vae:CycleVAEFineTune",
    "didd": "dtransfer.methods.didd:DIDD",
    "didd_ae": "dtransfer.methods.didd:DIDDAutoencoder",
    "cdrd": "dtransfer.methods.cdrd:CDRD",
    "ecdrd": "dtransfer.methods.cdrd:ECDRD",
}
# Older names (``config.objective`` before ``config.method``).
ALIASES = {"weak": "weak_vae"}


def method_name(config) -> str:
  """The method a config asks for: ``method.name``, else the legacy ``objective``."""
  if "method" in config and config.method.get("name"):
    name = config.method.name
  else:
    name = config.get("objective", "weak_vae")
  return ALIASES.get(name, name)


def get_class(name: str):
  name = ALIASES.get(name, name)
  if name not in METHODS:
    raise ValueError(f"unknown method '{name}'; choose one of {sorted(METHODS)}.")
  module, cls = METHODS[name].split(":")
  return getattr(importlib.import_module(module), cls)


def get_method(config, model, name: str | None = None):
  """The method of ``config`` (or ``name``) for ``model``."""
  return get_class(name or method_name(config))(config, model)
