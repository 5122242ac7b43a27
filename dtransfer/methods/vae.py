"""The VAE methods: the weakly supervised paired ELBO and beta-VAE fine-tuning.

Both keep the state ``{step, params, model_state, opt_state}`` with one Adam
(``dtransfer.optim``) and the same step; they differ in their batches (weak
pairs or single images) and their loss. ``weak_vae`` transfers everything
(parameters, BatchNorm statistics, Adam's moments) and fine-tunes on a target
with ``beta_vae``.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import optax

from dtransfer import evaluate
from dtransfer import losses
from dtransfer import optim
from dtransfer.data import pairs
from dtransfer.methods import base


class VAE(base.Method):
  """One Adam over a VAE's parameters; subclasses give the batches and the loss."""

  IMAGE_KEYS: tuple[str, ...] = ()   # uint8 images, scaled to [0, 1] in the step
  BATCH_KEYS: tuple[str, ...] = ()   # what goes to the devices
  FINE_TUNE = "beta_vae"

  def optimizer(self) -> optax.GradientTransformation:
    return optim.make_optimizer(self.config.optim, self.config.train.num_steps)

  def init(self, seed: int) -> dict:
    variables = self.model.init(jax.random.fold_in(jax.random.PRNGKey(seed), 0))
    params = variables["params"]
    model_state = {k: v for k, v in variables.items() if k != "params"}
    return {"step": jnp.zeros((), jnp.int32), "params": params,
            "model_state": model_state, "opt_state": self.optimizer().init(params)}

  def variables(self, state) -> dict:
    return {"params": state["params"], **state["model_state"]}

  def device_batch(self, batch: dict) -> dict:
    return {k: batch[k] for k in self.BATCH_KEYS}

  def forward(self, variables, batch, key, beta):
    """``(loss, (aux, new_model_state))`` on a batch with float images."""
    raise NotImplementedError

  def loss_fn(self):
    """``(params, model_state, batch, key, beta) -> (loss, (aux, new_model_state))``."""
    def fn(params, model_state, batch, key, beta):
      variables = {"params": params, **model_state}
      floats = {k: (v.astype(jnp.float32) / 255.0 if k in self.IMAGE_KEYS else v)
                for k, v in batch.items()}
      return self.forward(variables, floats, key, beta)
    return fn

  def hparams(self, config=None) -> dict:
    """The per-model scalars of the step: the PRNG key of ``config.seed`` and
    ``config.model.beta`` (default: this method's config). A group of models
    (dtransfer.group) stacks one of these per model."""
    c = config if config is not None else self.config
    return {"key": jax.random.PRNGKey(c.seed), "beta": float(c.model.beta)}

  def make_step(self):
    """The pure ``(state, batch, hparams) -> (state, metrics)`` (not jitted)."""
    fn = self.loss_fn()
    optimizer = self.optimizer()
    warmup = int(self.config.model.beta_warmup_steps)

    def step(state, batch, hp):
      key = jax.random.fold_in(jax.random.fold_in(hp["key"], 1), state["step"])
      b = losses.beta_schedule(state["step"], hp["beta"], warmup)
      (loss, (aux, new_model_state)), grads = jax.value_and_grad(fn, has_aux=True)(
          state["params"], state["model_state"], batch, key, b)
      updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
      params = optax.apply_updates(state["params"], updates)
      finite = jnp.isfinite(loss) & jnp.isfinite(optax.global_norm(grads))
      new_state, finite = base.guard_state(
          finite, {"step": state["step"] + 1, "params": params,
                   "model_state": new_model_state, "opt_state": opt_state}, state)
      metrics = {"loss": loss, "beta": b, "grad_norm": optax.global_norm(grads),
                 "finite": finite, **aux}
      return new_state, metrics

    return step

  def train_step(self):
    """The jitted ``(state, batch) -> (state, metrics)`` (state donated)."""
    step, hp = self.make_step(), self.hparams()
    return jax.jit(lambda state, batch: step(state, batch, hp), donate_argnums=(0,))

  def encode(self, variables, x):
    """The posterior mean."""
    mean, _, _ = self.model.encode(variables, x, train=False)
    return mean

  def figures(self, variables, examples, outdir: str, config) -> None:
    """Latent traversals of one example and reconstructions of all eight."""
    evaluate.save_png(evaluate.traversals(self.model, variables, examples[3],
                                          steps=config.eval.traversal_steps),
                      os.path.join(outdir, "traversals.png"))
    evaluate.save_png(evaluate.reconstructions(self.model, variables, examples),
                      os.path.join(outdir, "reconstructions.png"))

  def export(self, state) -> dict:
    return {"params": state["params"], "model_state": state["model_state"],
            "opt_state": state["opt_state"]}

  def init_from(self, parts: dict) -> dict:
    """The source's parameters and model state, step 0, and this run's optimiser
    with the source's moments (or fresh ones with ``transfer.reset_optimizer``)."""
    optimizer = self.optimizer()
    if self.config.get("transfer", {}).get("reset_optimizer", False):
      opt_state = optimizer.init(parts["params"])
    else:
      opt_state = optim.carry_optimizer_state(parts["opt_state"], optimizer,
                                              parts["params"])
    return {"step": jnp.zeros((), jnp.int32), "params": parts["params"],
            "model_state": parts["model_state"], "opt_state": opt_state}


class WeakVAE(VAE):
  """The weakly supervised paired ELBO (Ada-GVAE / ML-VAE) on weak pairs."""

  name = "weak_vae"
  IMAGE_KEYS = ("x1", "x2")
  BATCH_KEYS = ("x1", "x2", "label")

  def check_images(self, images) -> None:
    if self.config.loss.aggregator == "labels":
      dim_labels = tuple(self.config.loss.get("dim_labels", ()) or ())
      if dim_labels:
        f = images.space.num_factors
        if (len(dim_labels) != self.model.num_latents
            or any(not -1 <= int(d) < f for d in dim_labels)
            or set(range(f)) - {int(d) for d in dim_labels}):
          raise ValueError(
              f"loss.dim_labels={dim_labels} must give one factor index in [-1, {f}) "
              f"per latent dim ({self.model.num_latents}) and name every factor of "
              f"{self.config.data.name} at least once.")
        return
      if images.space.num_factors > self.model.num_latents:
        raise ValueError(
            f"the labels aggregator ties latent dim i to factor i, but "
            f"{self.config.data.name} has {images.space.num_factors} factors and the "
            f"model only {self.model.num_latents} latents; raise model.num_latents "
            "or use loss.aggregator=argmax.")

  def batches(self, images, shard):
    c = self.config
    return pairs.WeakPairBatches(images, c.train.batch_size, seed=c.seed, k=c.data.k,
                                 mode=c.data.pair_mode, shard=shard)

  def forward(self, variables, batch, key, beta):
    lc = self.config.loss
    return losses.paired_elbo_forward(self.model, variables, batch, key, beta,
                                      aggregator=lc.aggregator, averaging=lc.averaging,
                                      divergence=lc.divergence, threshold=lc.threshold,
                                      dim_labels=tuple(lc.get("dim_labels", ()) or ()) or None)


class BetaVAE(VAE):
  """The unsupervised beta-VAE ELBO on single images (fine-tuning on a target)."""

  name = "beta_vae"
  IMAGE_KEYS = ("x",)
  BATCH_KEYS = ("x",)

  def batches(self, images, shard):
    c = self.config
    return pairs.ImageBatches(images, c.train.batch_size, seed=c.seed, shard=shard)

  def forward(self, variables, batch, key, beta):
    return losses.beta_vae_forward(self.model, variables, batch, key, beta)
