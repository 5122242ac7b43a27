"""CDRD and E-CDRD (Liu et al., "Detach and Adapt", CVPR 2018) as methods.

A coupled auxiliary-classifier GAN learns from a labelled source domain (the
dataset of ``config.data``, labels: factor ``method.source_attribute``) and an
unlabelled target domain (``config.method.target``, built here rather than in
the train loop); the discriminator's attribute head, trained on labelled
source images and on generated images of both domains with known codes,
classifies target images it never saw a label of (unsupervised domain
adaptation). Target labels are read only by ``evaluate``, on held-out target
records (``method.target_test_fraction``); training draws from the rest.

State (``two_player``)::

  params    {"gen": {"generator"[, "encoder"]}, "disc": discriminator}
  opt_state {"gen": Adam, "disc": Adam}       (lr 8e-5, b1 0.5: the official)

One step = the generator player (``gen``), then the discriminator on the
updated generator (``two_player.make_step``, shared with DIDD). The noise z and
the fake codes l~ are part of the host batch (a pure function of seed and
step), so both players see the same z, as in the official code (which draws
them once per epoch; we draw them per step).

E-CDRD adds a coupled encoder and the VAE term (eq. 7) inside the ``gen``
player: the encoder's gradient comes from L_vae only (the codes fed to the
GAN terms pass through ``stop_gradient``, one call instead of two passes),
the generator descends L_vae + its GAN loss (eq. 11). Choices where the paper
is silent (documented in the README):

* target images are reconstructed with the attribute code the discriminator
  predicts for them (argmax of its head, no gradient); source images with
  their labels;
* Phi of eq. 7 is the identity (pixel squared error);
* eqs. 9-10: the translations X_{S->T} (code l_S) and X_{T->S} (predicted
  code) are fakes for the discriminator's real/fake head, and the generator
  is trained to make them real and of their code; the discriminator's
  attribute head also learns from X_{S->T} with the source label l_S (a
  target-domain image of known class; ``method.translation_weight``, 0 = off).
"""

from __future__ import annotations

import dataclasses
import functools
import jax
import jax.numpy as jnp
import numpy as np
import optax

from dtransfer import datasets
from dtransfer.data import domains
from dtransfer.methods import base
from dtransfer.methods import cdrd_eval
from dtransfer.methods import cdrd_losses as L
from dtransfer.methods import cdrd_nets as nets
from dtransfer.methods import two_player


def target_source(config):
  """The target domain's ImageSource (``config.method.target``), all records."""
  t = config.method.target
  return datasets.get_dataset(t.name, origin=t.get("origin", "procedural"),
                              data_dir=t.get("data_dir") or None, **dict(t.get("kwargs", {})))


@dataclasses.dataclass(frozen=True)
class Networks:
  """The coupled networks and the shapes they were built for."""

  generator: nets.CoupledGenerator
  discriminator: nets.CoupledDiscriminator
  encoder: nets.CoupledEncoder | None
  size: int
  channels: tuple[int, int]     # (source, target)
  num_classes: int
  num_latents: int


def build_networks(config, source_shape, target_shape, num_classes: int,
                   encoder: bool) -> Networks:
  m = config.method
  size = int(m.image_size)
  channels = (int(source_shape[-1]), int(target_shape[-1]))
  nets.check_arch(m.arch, size)
  return Networks(
      generator=nets.CoupledGenerator(m.arch, size, channels, width=int(m.width)),
      discriminator=nets.CoupledDiscriminator(m.arch, size, num_classes,
                                              width=int(m.disc_width),
                                              embedding=int(m.embedding)),
      encoder=(nets.CoupledEncoder(m.arch, size, int(m.num_latents), width=int(m.disc_width))
               if encoder else None),
      size=size, channels=channels, num_classes=num_classes,
      num_latents=int(m.num_latents))


class NoisyBatches:
  """``TwoDomainBatches`` plus the generator's noise z ~ N(0, I) and fake
  codes l~ (uniform), drawn from ``(seed, i)``."""

  def __init__(self, inner: domains.TwoDomainBatches, seed: int, num_latents: int,
               num_classes: int):
    self.inner, self.seed = inner, int(seed)
    self.num_latents, self.num_classes = int(num_latents), int(num_classes)

  def __len__(self):
    return len(self.inner)

  def __getitem__(self, i: int) -> dict:
    b = self.inner[i]
    rng = np.random.default_rng([self.seed, 0xC0D3, int(i)])
    n = len(b["xs"])
    return {**b, "z": rng.standard_normal((n, self.num_latents)).astype(np.float32),
            "lf": rng.integers(0, self.num_classes, n).astype(np.int32)}


class CDRD(base.Method):
  """Cross-domain disentangled representation (the coupled AC-GAN)."""

  name = "cdrd"
  ENCODER = False

  @classmethod
  def build_model(cls, config, image_shape):
    target = target_source(config)
    attr = domains.factor_index(target.space, config.method.target_attribute)
    return build_networks(config, image_shape, target.image_shape,
                          int(target.space.sizes[attr]), cls.ENCODER)

  def __init__(self, config, model):
    if not isinstance(model, Networks):
      raise ValueError(f"method '{self.name}' builds its own networks "
                       "(CDRD.build_model); build the model with workdir.build_model.")
    super().__init__(config, model)
    self.m = config.method

  # Data -------------------------------------------------------------------
  @functools.cached_property
  def target(self):
    return target_source(self.config)

  def target_part(self, part: str):
    return domains.split(self.target, part, float(self.m.target_test_fraction))

  def check_images(self, images) -> None:
    attr = domains.factor_index(images.space, self.m.source_attribute)
    k = int(images.space.sizes[attr])
    if k != self.model.num_classes:
      raise ValueError(
          f"the source attribute '{self.m.source_attribute}' has {k} values but the "
          f"target attribute '{self.m.target_attribute}' {self.model.num_classes}: "
          "the two domains need the same label space.")
    if int(images.image_shape[-1]) != self.model.channels[0]:
      raise ValueError(f"the networks were built for {self.model.channels[0]}-channel "
                       f"source images, got {images.image_shape}.")

  def batches(self, images, shard):
    c = self.config
    inner = domains.TwoDomainBatches(
        images, self.target_part("train"), c.train.batch_size, seed=c.seed, shard=shard,
        label_factor=domains.factor_index(images.space, self.m.source_attribute))
    return NoisyBatches(inner, c.seed, self.model.num_latents, self.model.num_classes)

  def device_batch(self, batch: dict) -> dict:
    return {k: batch[k] for k in ("xs", "ls", "xt", "z", "lf")}

  # State ------------------------------------------------------------------
  def optimizer(self) -> optax.GradientTransformation:
    return optax.adam(float(self.m.learning_rate), b1=float(self.m.b1),
                      b2=float(self.m.b2), eps=1e-8)

  def init_params(self, seed: int) -> dict:
    """Fresh ``{"gen": {"generator"[, "encoder"]}, "disc": ...}`` of ``seed``:
    the official init (kernels N(0, 0.02), zero biases) drawn with NumPy on
    the shapes Flax infers (``jax.eval_shape``; ``method.init="fan_in"``
    scales kernels by their fan-in instead): jitting Flax's init costs
    minutes of XLA CPU compile for these nets, this costs milliseconds."""
    shapes = jax.eval_shape(self._init_shapes)
    rng = np.random.default_rng([int(seed), 0xC0D3])
    scheme = self.m.get("init", "official")
    if scheme not in ("official", "fan_in"):
      raise ValueError(f"method.init must be 'official' or 'fan_in', got {scheme!r}.")

    def draw(path, leaf):
      if path[-1].key != "kernel":
        return jnp.zeros(leaf.shape, leaf.dtype)
      # fan_in: std 1/sqrt(fan in) (LeCun), for narrow nets where N(0, 0.02)
      # shrinks the signal ~1e-4-fold through the discriminator.
      std = (nets.INIT_STDDEV if scheme == "official"
             else 1.0 / np.sqrt(np.prod(leaf.shape[:-1])))
      return jnp.asarray(rng.normal(0.0, std, leaf.shape), leaf.dtype)
    return jax.tree_util.tree_map_with_path(draw, shapes)

  def _init_shapes(self):
    net, key = self.model, jax.random.PRNGKey(0)
    z = jnp.zeros((1, net.num_latents))
    onehot = jnp.zeros((1, net.num_classes))
    xs = [jnp.zeros((1, net.size, net.size, c)) for c in net.channels]
    gen = {"generator": net.generator.init(key, z, onehot,
                                           method=net.generator.init_all)["params"]}
    if net.encoder is not None:
      gen["encoder"] = net.encoder.init(key, xs, method=net.encoder.init_all)["params"]
    disc = net.discriminator.init(key, xs, method=net.discriminator.init_all)["params"]
    return {"gen": gen, "disc": disc}

  def init(self, seed: int) -> dict:
    tx = self.optimizer()
    return two_player.init_state(self.init_params(seed), {}, {"gen": tx, "disc": tx})

  def variables(self, state) -> dict:
    return {"params": state["params"]}

  # Networks as functions ----------------------------------------------------
  def _inputs(self, batch):
    size = self.model.size
    return nets.to_model_input(batch["xs"], size), nets.to_model_input(batch["xt"], size)

  def _disc(self, disc_params, x, domain):
    return self.model.discriminator.apply({"params": disc_params}, x, domain)

  def _fakes(self, gen_params, z, labels):
    onehot = jax.nn.one_hot(labels, self.model.num_classes)
    g = self.model.generator
    return g.apply({"params": gen_params["generator"]}, z, onehot, method=g.both)

  def _generate(self, gen_params, z, labels, domain):
    onehot = jax.nn.one_hot(labels, self.model.num_classes)
    return self.model.generator.apply({"params": gen_params["generator"]}, z, onehot,
                                      domain)

  def _encode_z(self, gen_params, x, domain):
    return self.model.encoder.apply({"params": gen_params["encoder"]}, x, domain)

  # Losses -----------------------------------------------------------------
  def gen_loss(self, gen, disc, model_state, batch, key):
    lam = float(self.m.lam)
    fakes = self._fakes(gen, batch["z"], batch["lf"])
    fs = self._disc(disc, fakes["source"], "source")
    ft = self._disc(disc, fakes["target"], "target")
    loss, metrics = L.generator_loss(fs, ft, batch["lf"], lam)
    if self.model.encoder is not None:
      extra, more = self._ecdrd_gen_terms(gen, disc, batch, key)
      loss, metrics = loss + extra, {**metrics, **more}
    return loss, (metrics, model_state)

  def disc_loss(self, disc, gen, model_state, batch, key):
    lam = float(self.m.lam)
    xs, xt = self._inputs(batch)
    fakes = self._fakes(gen, batch["z"], batch["lf"])
    rs, rt = self._disc(disc, xs, "source"), self._disc(disc, xt, "target")
    fs = self._disc(disc, fakes["source"], "source")
    ft = self._disc(disc, fakes["target"], "target")
    loss, metrics = L.discriminator_loss(rs, fs, rt, ft, batch["ls"], batch["lf"], lam)
    metrics["source_acc"] = jnp.mean(jnp.argmax(rs["cls"], -1) == batch["ls"])
    if self.model.encoder is not None and float(self.m.translation_weight) > 0:
      extra, more = self._ecdrd_disc_terms(disc, gen, batch, key, rt)
      loss, metrics = loss + extra, {**metrics, **more}
    return loss, (metrics, model_state)

  # E-CDRD -----------------------------------------------------------------
  def _posterior(self, gen, x, domain, key):
    mean, logvar = self._encode_z(gen, x, domain)
    z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(key, mean.shape)
    return z, mean, logvar

  def _ecdrd_gen_terms(self, gen, disc, batch, key):
    xs, xt = self._inputs(batch)
    ks, kt = jax.random.split(key)
    zs, ms, lvs = self._posterior(gen, xs, "source", ks)
    zt, mt, lvt = self._posterior(gen, xt, "target", kt)
    ls = batch["ls"]
    lt = jnp.argmax(self._disc(disc, xt, "target")["cls"], -1)   # predicted code
    vs, ms_ = L.vae_loss(xs, self._generate(gen, zs, ls, "source"), ms, lvs)
    vt, mt_ = L.vae_loss(xt, self._generate(gen, zt, lt, "target"), mt, lvt)
    vae = float(self.m.vae_weight) * (vs + vt)
    metrics = {"vae": vae, "rec_source": ms_["rec"], "rec_target": mt_["rec"],
               "kl_source": ms_["kl"], "kl_target": mt_["kl"]}
    w = float(self.m.translation_weight)
    if w <= 0:
      return vae, metrics
    # The encoder learns from L_vae only: the translations see stopped codes.
    x_st = self._generate(gen, jax.lax.stop_gradient(zs), ls, "target")
    x_ts = self._generate(gen, jax.lax.stop_gradient(zt), lt, "source")
    d_st, d_ts = self._disc(disc, x_st, "target"), self._disc(disc, x_ts, "source")
    trans = (L.rf_ce(d_st["rf"], True) + L.rf_ce(d_ts["rf"], True)
             + float(self.m.lam) * (L.class_ce(d_st["cls"], ls) + L.class_ce(d_ts["cls"], lt)) / 2)
    metrics["translation"] = trans
    return vae + w * trans, metrics

  def _ecdrd_disc_terms(self, disc, gen, batch, key, real_t):
    xs, xt = self._inputs(batch)
    ks, kt = jax.random.split(key)
    zs, _, _ = self._posterior(gen, xs, "source", ks)
    zt, _, _ = self._posterior(gen, xt, "target", kt)
    lt = jnp.argmax(real_t["cls"], -1)
    d_st = self._disc(disc, self._generate(gen, zs, batch["ls"], "target"), "target")
    d_ts = self._disc(disc, self._generate(gen, zt, lt, "source"), "source")
    trans = ((L.rf_ce(d_st["rf"], False) + L.rf_ce(d_ts["rf"], False)) / 2
             + float(self.m.lam) * L.class_ce(d_st["cls"], batch["ls"]) / 2)
    return float(self.m.translation_weight) * trans, {"translation": trans}

  # Training ---------------------------------------------------------------
  def train_step(self):
    tx = self.optimizer()
    return two_player.make_step(("gen", self.gen_loss, tx), ("disc", self.disc_loss, tx),
                                seed=self.config.seed)

  # Evaluation -------------------------------------------------------------
  def encode(self, variables, x):
    """The discriminator's shared embedding of source-domain images."""
    x = nets.to_model_input(x, self.model.size, unit=True)
    return self._disc(variables["params"]["disc"], x, "source")["embedding"]

  def figures(self, variables, examples, outdir: str, config) -> None:
    cdrd_eval.save_figures(self, variables, outdir)

  def evaluate(self, variables, images, config, outdir: str) -> dict:
    return cdrd_eval.evaluate(self, variables, images, outdir)

  def export(self, state) -> dict:
    return {"params": state["params"]}


class ECDRD(CDRD):
  """E-CDRD: CDRD plus a coupled encoder (reconstruction, translation, editing)."""

  name = "ecdrd"
  ENCODER = True
