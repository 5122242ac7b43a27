"""Domain intersection and domain difference (Benaim et al., ICCV 2019) as a method.

Two players on two unpaired domains A and B (``two_player.make_step``):

1. the autoencoder (E^c, E^s_A, E^s_B, G) minimises
   ``w_rec * reconstruction + w_zero * zero + w_adv * confusion``
   (didd_losses) with d's parameters held constant;
2. the discriminator d then re-encodes E^c(a), E^c(b) with the *updated*
   autoencoder (constants for it) and minimises its BCE.

Each player has its own Adam with global-norm clipping (the official: Adam
2e-4, betas (0.5, 0.999), clip 5 on both; ``config.optim``), and every
forward pass in training advances the spectral-norm vectors (the threaded
model state), as the official SpectralNorm does in each forward.

The representation scored by the shared metrics is the common code E^c.
``didd_ae`` fine-tunes it on a single target dataset: the target has no
domain labels, so it is taken as a domain with no specific content and its
images are reconstructed from the common code alone, ``G(E^c(x), 0, 0)``
(L1, one Adam from ``config.optim`` over the autoencoder; d is carried
unchanged).
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dtransfer import optim
from dtransfer.data import pairs
from dtransfer.data import sources
from dtransfer.methods import base
from dtransfer.methods import didd_losses as L
from dtransfer.methods import two_player


def _floats(x):
  return x.astype(jnp.float32) / 255.0


class DomainBatches(pairs.ShardedBatches):
  """Random-access batches of unpaired images of the two domains of a pair.

  ``batches[i]`` is ``{"a", "b"}`` (uint8 [B, H, W, C], drawn uniformly from
  each domain) with their factor rows ``fa``, ``fb``; a pure function of
  ``(seed, i)``.
  """

  def __init__(self, pair, batch_size: int, *, seed: int = 0,
               shard: tuple[int, int] = (0, 1)):
    super().__init__(batch_size, seed=seed, shard=shard)
    self.pair = pair

  def __getitem__(self, i: int) -> dict:
    rng = np.random.default_rng([self.seed, 0xD1DD, int(i)])
    ia = sources.sample_records(self.pair.a, rng, self.batch_size)
    ib = sources.sample_records(self.pair.b, rng, self.batch_size)
    sl = self.shard_rows()
    ia, ib = ia[sl], ib[sl]
    return {"a": self.pair.a.images(ia), "b": self.pair.b.images(ib),
            "fa": self.pair.a.space.factors(ia), "fb": self.pair.b.space.factors(ib)}


def is_domain_pair(images) -> bool:
  return all(hasattr(images, k) for k in ("a", "b", "render"))


class DIDD(base.Method):
  """E^c, E^s_A, E^s_B, G and d on a pair of domains (``config.loss``: weights)."""

  name = "didd"
  EXTRA_CONFIG_KEYS = {"eval": ("translation_samples", "probe_samples",
                                "probe_predictors", "probe_kwargs")}
  # Its own networks (build_model): model.name is not a registry VAE and the code
  # sizes follow model.kwargs.
  UNCHECKED_CONFIG_FIELDS = ("model.name", "model.num_latents")
  FINE_TUNE = "didd_ae"

  @classmethod
  def build_model(cls, config, image_shape):
    if config.model.name != "didd":
      raise ValueError(f"method {config.method.name} trains the DIDD networks; set "
                       f"model.name='didd' (got '{config.model.name}').")
    from dtransfer.models import didd  # pylint: disable=g-import-not-at-top
    return didd.build(image_shape, **dict(config.model.get("kwargs", {})))

  # State ------------------------------------------------------------------
  def optimizer(self) -> optax.GradientTransformation:
    return optim.make_optimizer(self.config.optim, self.config.train.num_steps)

  def init(self, seed: int) -> dict:
    v = self.model.init(jax.random.fold_in(jax.random.PRNGKey(seed), 0))
    tx = self.optimizer()
    return two_player.init_state(v["params"], {"spectral": v["spectral"]},
                                 {"ae": tx, "disc": tx})

  def variables(self, state) -> dict:
    return {"params": state["params"], "spectral": state["model_state"]["spectral"]}

  # Data -------------------------------------------------------------------
  def check_images(self, images) -> None:
    if not is_domain_pair(images):
      raise ValueError(
          f"method didd trains on a pair of domains, but data.name="
          f"'{self.config.data.name}' is a single dataset; use data.name="
          "'shapes3d_domains' (data.kwargs.pair picks the pair), or configs/didd.py.")

  def batches(self, images, shard):
    self.check_images(images)
    c = self.config
    return DomainBatches(images, c.train.batch_size, seed=c.seed, shard=shard)

  def device_batch(self, batch: dict) -> dict:
    return {"a": batch["a"], "b": batch["b"]}

  # Training ---------------------------------------------------------------
  def losses(self):
    """``(ae_loss, disc_loss)``: the two players' pure loss functions."""
    net, lc = self.model, self.config.loss
    w_rec, w_zero, w_adv = (float(lc.recon_weight), float(lc.zero_weight),
                            float(lc.adv_weight))
    mode = lc.get("confusion", "one_sided")
    if mode not in L.CONFUSION:
      raise ValueError(f"unknown loss.confusion '{mode}'; choose one of {L.CONFUSION}.")

    def ae_loss(ae, disc, model_state, batch, key):
      del key
      v = {"params": {"ae": ae, "disc": disc}, "spectral": model_state["spectral"]}
      a, b = _floats(batch["a"]), _floats(batch["b"])
      n = a.shape[0]
      c, s_a, s_b, spec = net.encode(v, jnp.concatenate([a, b]), update_stats=True)
      zeros = jnp.zeros_like(s_a[:n])
      rec, spec["dec"] = net.decode(v, c, jnp.concatenate([s_a[:n], zeros]),
                                    jnp.concatenate([zeros, s_b[n:]]), update_stats=True)
      recon = L.reconstruction_loss(rec[:n], 2 * a - 1, rec[n:], 2 * b - 1)
      zero = L.zero_loss(s_b[:n], s_a[n:])
      logits = net.discriminate(v, c)
      adv = L.confusion_loss(logits[:n], logits[n:], mode)
      loss = w_rec * recon + w_zero * zero + w_adv * adv
      return loss, ({"recon": recon, "zero": zero, "adv": adv},
                    {"spectral": spec})

    def disc_loss(disc, ae, model_state, batch, key):
      del key
      v = {"params": {"ae": ae, "disc": disc}, "spectral": model_state["spectral"]}
      x = jnp.concatenate([_floats(batch["a"]), _floats(batch["b"])])
      c, spec_c = net.apply("enc_c", v, x, update_stats=True)
      c = jax.lax.stop_gradient(c)
      logits = net.discriminate(v, c)
      n = batch["a"].shape[0]
      loss = L.discriminator_loss(logits[:n], logits[n:])
      spec = dict(model_state["spectral"], enc_c=spec_c)
      return loss, ({"accuracy": L.domain_accuracy(logits[:n], logits[n:])},
                    {"spectral": spec})

    return ae_loss, disc_loss

  def train_step(self, jit: bool = True):
    ae_loss, disc_loss = self.losses()
    tx = self.optimizer()
    return two_player.make_step(("ae", ae_loss, tx), ("disc", disc_loss, tx),
                                seed=self.config.seed, jit=jit)

  # Evaluation -------------------------------------------------------------
  def encode(self, variables, x):
    """The common code E^c(x)."""
    return self.model.apply("enc_c", variables, x)[0]

  def figures(self, variables, examples, outdir: str, config) -> None:
    """Each example, its reconstruction from the full code and from the common
    code alone (the intersection), rows top to bottom."""
    from dtransfer.methods import didd_eval  # pylint: disable=g-import-not-at-top
    didd_eval.save_grid(didd_eval.intersections(self.model, variables, examples),
                        os.path.join(outdir, "reconstructions.png"), rows=3)

  def evaluate(self, variables, images, config, outdir: str) -> dict:
    """On a pair of domains: translation errors against the rendered ground truth
    (and the identity baseline), probes, the translation grid."""
    if not is_domain_pair(images):
      return {}
    from dtransfer.methods import didd_eval  # pylint: disable=g-import-not-at-top
    return didd_eval.evaluate_pair(self.model, variables, images, config, outdir)

  # Transfer ---------------------------------------------------------------
  def export(self, state) -> dict:
    """Both players' networks, the spectral vectors and the optimiser states."""
    return {"params": state["params"], "model_state": state["model_state"],
            "opt_state": state["opt_state"]}


class DIDDAutoencoder(DIDD):
  """Fine-tuning of a DIDD model on one target dataset: ``G(E^c(x), 0, 0) ~ x``."""

  name = "didd_ae"
  FINE_TUNE = "didd_ae"

  def init(self, seed: int) -> dict:
    v = self.model.init(jax.random.fold_in(jax.random.PRNGKey(seed), 0))
    return self._state(v["params"], {"spectral": v["spectral"]})

  def _state(self, params, model_state):
    return {"step": jnp.zeros((), jnp.int32), "params": params,
            "model_state": model_state, "opt_state": self.optimizer().init(params["ae"])}

  def init_from(self, parts: dict) -> dict:
    """The source's networks and spectral vectors at step 0, with this run's
    optimiser carrying the autoencoder player's Adam moments (as the VAEs carry
    theirs; ``transfer.reset_optimizer`` starts them afresh)."""
    state = self._state(parts["params"], parts["model_state"])
    source_opt = parts.get("opt_state", {})
    source_opt = source_opt.get("ae", source_opt) if isinstance(source_opt, dict) else source_opt
    if source_opt and not self.config.get("transfer", {}).get("reset_optimizer", False):
      state["opt_state"] = optim.carry_optimizer_state(source_opt, self.optimizer(),
                                                       parts["params"]["ae"])
    return state

  def check_images(self, images) -> None:
    pass

  def batches(self, images, shard):
    from dtransfer.data import pairs  # pylint: disable=g-import-not-at-top
    c = self.config
    return pairs.ImageBatches(images, c.train.batch_size, seed=c.seed, shard=shard)

  def device_batch(self, batch: dict) -> dict:
    return {"x": batch["x"]}

  def train_step(self, jit: bool = True):
    net, tx = self.model, self.optimizer()

    def loss_fn(ae, disc, model_state, batch):
      v = {"params": {"ae": ae, "disc": disc}, "spectral": model_state["spectral"]}
      x = _floats(batch["x"])
      c, spec_c = net.apply("enc_c", v, x, update_stats=True)
      zeros = jnp.zeros((x.shape[0], net.specific_dims), x.dtype)
      rec, spec_d = net.decode(v, c, zeros, zeros, update_stats=True)
      spec = dict(model_state["spectral"], enc_c=spec_c, dec=spec_d)
      loss = L.l1(rec, 2 * x - 1)
      return loss, ({"recon": loss}, {"spectral": spec})

    def step(state, batch):
      params = state["params"]
      (loss, (metrics, model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
          params["ae"], params["disc"], state["model_state"], batch)
      updates, opt_state = tx.update(grads, state["opt_state"], params["ae"])
      ae = optax.apply_updates(params["ae"], updates)
      finite = jnp.isfinite(loss) & jnp.isfinite(optax.global_norm(grads))
      new = {"params": {"ae": ae, "disc": params["disc"]}, "model_state": model_state,
             "opt_state": opt_state}
      old = {k: state[k] for k in new}
      kept = base.keep_if_finite(finite, new, old)
      return ({"step": state["step"] + 1, **kept},
              {"loss": loss, "grad_norm": optax.global_norm(grads), "finite": finite,
               **metrics})

    return jax.jit(step, donate_argnums=(0,)) if jit else step

  def evaluate(self, variables, images, config, outdir: str) -> dict:
    return {}
