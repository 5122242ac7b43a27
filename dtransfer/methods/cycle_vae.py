"""The cycle-consistent VAE (Jha, Anand, Singh, Veeravasarapu, ECCV 2018).

The code has a Gaussian part z (unspecified factors) and a deterministic part
s (the specified factor a pair is known to share), see dtransfer/models/cycle.py.
Each step makes two updates, as the authors' official code does
(ananyahjha93/cycle-consistent-vae at 6ecdfe5):

* **forward cycle** on a pair (x1, x2) that shares the specified factor, every
  other factor drawn independently: the two images swap their s,
  ``x1' = Dec(z1, s2)``, ``x2' = Dec(z2, s1)``, and the loss is
  ``w_rec * [MSE(x1', x1) + MSE(x2', x2)] + w_kl * [KL1 + KL2]`` with the MSE
  averaged over batch and pixels of the sigmoid output and each KL summed
  over batch and z dims and divided by B*H*W*C (normalised per pixel, like
  the MSE). One Adam (``opt_state['forward']``) updates encoder and decoder.
* **reverse cycle** on two fresh independent batches xa, xb: one z drawn from
  the prior decodes with each batch's s, stop-gradiented,
  ``Dec(z, sa)``, ``Dec(z, sb)``; both are re-encoded to their z *means* and
  the loss is ``w_rev * mean |mu_a - mu_b|``. Its own Adam
  (``opt_state['reverse']``) updates the encoder only, with the parameters
  the forward update just produced; the decoder is a constant there.

``w_rev = 0`` is the paper's ablation (the reverse cycle is not computed).
The fine-tuning method ``cycle_vae_finetune`` trains the same objective
without labels on a target: the forward cycle on single images (x1 = x2, no
pair is known) and the reverse cycle, which needs none.
"""

from __future__ import annotations

import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dtransfer import evaluate
from dtransfer import losses
from dtransfer import models
from dtransfer import optim
from dtransfer.data import pairs
from dtransfer.data.sources import sparse_index
from dtransfer.methods import base
from dtransfer.models import cycle as cycle_nets

# Jitted steps by (method, model, the config the step closes over): a resumed
# run, or a second run of the same experiment in one process, reuses the
# compiled step instead of tracing it again (models compare by value).
_STEPS: dict = {}

# The authors' loss weights (main.py): reconstruction, KL, reverse cycle.
DEFAULTS = {"w_rec": 2.0, "w_kl": 3.0, "w_rev": 10.0, "code": "zs"}
CODES = ("zs", "z", "s")


# ------------------------------------------------------------- losses ---


def swapped_mse(x: jax.Array, pixels: jax.Array) -> jax.Array:
  """The authors' ``mse_loss``: sum((x' - x)^2) / numel (mean over batch and pixels)."""
  return jnp.mean(jnp.square(pixels - x))


def per_pixel_kl(mean: jax.Array, logvar: jax.Array, x: jax.Array) -> jax.Array:
  """KL(q(z|x) || N(0, I)) summed over batch and dims, divided by B*H*W*C
  (``x.size``), as the authors' ``l1_loss``-style KL normalisation."""
  return jnp.sum(losses.gaussian_kl(mean, logvar)) / x.size


def forward_cycle_loss(x1, x2, pixels1, pixels2, mu1, logvar1, mu2, logvar2, *,
                       w_rec: float, w_kl: float):
  """The forward-cycle loss of a pair and its parts (pixels: sigmoid outputs of
  the swapped decodings Dec(z1, s2), Dec(z2, s1))."""
  rec = swapped_mse(x1, pixels1) + swapped_mse(x2, pixels2)
  kl = per_pixel_kl(mu1, logvar1, x1) + per_pixel_kl(mu2, logvar2, x2)
  return w_rec * rec + w_kl * kl, {"rec": rec, "kl": kl}


def reverse_cycle_loss(mu_a: jax.Array, mu_b: jax.Array, *, w_rev: float) -> jax.Array:
  """``w_rev * mean |mu_a - mu_b|`` over batch and z dims (the authors' L1)."""
  return w_rev * jnp.mean(jnp.abs(mu_a - mu_b))


def split_code(code: jax.Array, s_dim: int):
  """``[z, s]`` -> (z, s)."""
  return code[..., :-s_dim], code[..., -s_dim:]


def settings(config) -> dict:
  """The loss weights and code choice of ``config.cycle`` (authors' defaults)."""
  out = dict(DEFAULTS)
  out.update({k: v for k, v in dict(config.get("cycle", {})).items() if k in DEFAULTS})
  if out["code"] not in CODES:
    raise ValueError(f"cycle.code must be one of {CODES} (the part of the code the "
                     f"metrics score), got {out['code']!r}.")
  return out


# --------------------------------------------------------------- data ---


class CycleBatches:
  """Random-access batches: a pair sharing the specified factor(s) (``x1``,
  ``x2``; the weak-pair sampler's "share" mode) and two independent random
  batches for the reverse cycle (``xa``, ``xb``). ``paired=False`` (fine-tuning)
  gives single images ``x1 = x2`` instead of pairs."""

  # The reverse cycle's images use their own seed stream, apart from the pairs'.
  SEED_OFFSET = 0x5EED

  def __init__(self, images, batch_size: int, *, seed: int, shared=(), paired=True,
               shard=(0, 1)):
    self.paired = paired
    self.pairs = (pairs.WeakPairBatches(images, batch_size, seed=seed, mode="share",
                                        shared=shared, shard=shard) if paired else None)
    extra = 2 if paired else 3
    self.images = pairs.ImageBatches(images, extra * batch_size,
                                     seed=seed + self.SEED_OFFSET, shard=shard)

  def __len__(self):
    return len(self.images)

  def __getitem__(self, i: int) -> dict:
    x = self.images[i]["x"]
    if self.paired:
      xa, xb = np.split(x, 2)
      out = dict(self.pairs[i])
    else:
      x1, xa, xb = np.split(x, 3)
      out = {"x1": x1, "x2": x1}
    out.update(xa=xa, xb=xb)
    return out


# ------------------------------------------------------------- method ---


class CycleVAE(base.Method):
  """Forward and reverse cycles, two Adam states, one jitted step."""

  name = "cycle_vae"
  FINE_TUNE = "cycle_vae_finetune"
  CONFIG_BLOCK = "cycle"
  PAIRED = True
  BATCH_KEYS = ("x1", "x2", "xa", "xb")

  def __init__(self, config, model):
    super().__init__(config, model)
    self.s_dim = cycle_nets.s_dim_of(model)
    self.z_dim = model.num_latents - self.s_dim
    self.settings = settings(config)

  # State ------------------------------------------------------------------
  def optimizers(self) -> dict:
    """Two Adams with the same settings: forward (encoder + decoder) and reverse
    (encoder only); their moments are never shared."""
    make = lambda: optim.make_optimizer(self.config.optim, self.config.train.num_steps)
    return {"forward": make(), "reverse": make()}

  def init(self, seed: int) -> dict:
    variables = self.model.init(jax.random.fold_in(jax.random.PRNGKey(seed), 0))
    params = variables["params"]
    txs = self.optimizers()
    return {"step": jnp.zeros((), jnp.int32), "params": params,
            "model_state": {k: v for k, v in variables.items() if k != "params"},
            "opt_state": {"forward": txs["forward"].init(params),
                          "reverse": txs["reverse"].init(params["encoder"])}}

  def variables(self, state) -> dict:
    return {"params": state["params"], **state["model_state"]}

  # Data -------------------------------------------------------------------
  def shared_factors(self, images) -> tuple:
    shared = self.config.data.get("shared", "")
    if not shared:
      raise ValueError("the cycle-consistent VAE needs the specified factor: set "
                       f"data.shared to one of {images.space.names} (e.g. "
                       "--config.data.shared=shape).")
    names = [s.strip() for s in str(shared).replace("+", ",").split(",") if s.strip()]
    return tuple(pairs.check_shared(images.space, names))

  def check_images(self, images) -> None:
    if self.PAIRED:
      self.shared_factors(images)

  def batches(self, images, shard):
    c = self.config
    shared = self.shared_factors(images) if self.PAIRED else ()
    return CycleBatches(images, c.train.batch_size, seed=c.seed, shared=shared,
                        paired=self.PAIRED, shard=shard)

  def device_batch(self, batch: dict) -> dict:
    return {k: batch[k] for k in self.BATCH_KEYS}

  # Losses -----------------------------------------------------------------
  def _encode(self, params, x):
    """(mu_z, logvar_z, s) of float images."""
    mean, logvar, _ = self.model.encode({"params": params}, x, train=True)
    mu, s = split_code(mean, self.s_dim)
    return mu, logvar[..., :self.z_dim], s

  def _pixels(self, params, z, s):
    return jax.nn.sigmoid(self.model.decode({"params": params},
                                            jnp.concatenate([z, s], -1)))

  def forward_loss(self, params, x1, x2, key):
    """The forward-cycle loss of encoder+decoder ``params`` on a pair."""
    b = x1.shape[0]
    mu, logvar, s = self._encode(params, jnp.concatenate([x1, x2]))
    z = models.sample_z(key, mu, logvar)
    s_swapped = jnp.concatenate([s[b:], s[:b]])          # x1 gets s2, x2 gets s1
    pixels = self._pixels(params, z, s_swapped)
    w = self.settings
    return forward_cycle_loss(x1, x2, pixels[:b], pixels[b:], mu[:b], logvar[:b],
                              mu[b:], logvar[b:], w_rec=w["w_rec"], w_kl=w["w_kl"])

  def reverse_loss(self, enc_params, dec_params, xa, xb, key, stop_s: bool = True):
    """The reverse-cycle loss as a function of the encoder's parameters
    (``stop_s=False`` only for the test that shows the stop-gradient matters)."""
    b = xa.shape[0]
    params = {"encoder": enc_params, "decoder": jax.lax.stop_gradient(dec_params)}
    _, _, s = self._encode(params, jnp.concatenate([xa, xb]))
    if stop_s:
      s = jax.lax.stop_gradient(s)
    z = jax.random.normal(key, (b, self.z_dim), s.dtype)
    pixels = self._pixels(params, jnp.concatenate([z, z]), s)
    mu, _, _ = self._encode(params, pixels)
    return reverse_cycle_loss(mu[:b], mu[b:], w_rev=self.settings["w_rev"])

  # Training ---------------------------------------------------------------
  def train_step(self):
    """The jitted ``(state, batch) -> (state, metrics)`` (state donated), built
    once per (method, model, seed, optimiser, steps, loss settings)."""
    c = self.config
    key = (type(self), self.model, json.dumps(
        [int(c.seed), c.optim.to_dict(), int(c.train.num_steps), self.settings],
        sort_keys=True, default=str))
    if key not in _STEPS:
      _STEPS[key] = self._build_step()
    return _STEPS[key]

  def _build_step(self):
    txs = self.optimizers()
    base_key = jax.random.fold_in(jax.random.PRNGKey(self.config.seed), 1)
    reverse_on = float(self.settings["w_rev"]) != 0.0

    def step(state, batch):
      key = jax.random.fold_in(base_key, state["step"])
      k_fwd, k_rev = jax.random.split(key)
      x = {k: batch[k].astype(jnp.float32) / 255.0 for k in self.BATCH_KEYS}
      params = state["params"]
      # Forward cycle: encoder + decoder, its own Adam.
      (loss_f, aux), g_f = jax.value_and_grad(self.forward_loss, has_aux=True)(
          params, x["x1"], x["x2"], k_fwd)
      upd, opt_f = txs["forward"].update(g_f, state["opt_state"]["forward"], params)
      params = optax.apply_updates(params, upd)
      finite = jnp.isfinite(loss_f) & jnp.isfinite(optax.global_norm(g_f))
      metrics = {"loss": loss_f, "forward/loss": loss_f, "forward/rec": aux["rec"],
                 "forward/kl": aux["kl"], "forward/grad_norm": optax.global_norm(g_f)}
      # Reverse cycle: the updated encoder only, its own Adam; decoder constant.
      opt_r = state["opt_state"]["reverse"]
      if reverse_on:
        loss_r, g_r = jax.value_and_grad(self.reverse_loss)(
            params["encoder"], params["decoder"], x["xa"], x["xb"], k_rev)
        upd, opt_r = txs["reverse"].update(g_r, opt_r, params["encoder"])
        params = {**params, "encoder": optax.apply_updates(params["encoder"], upd)}
        finite &= jnp.isfinite(loss_r) & jnp.isfinite(optax.global_norm(g_r))
        metrics.update({"reverse/loss": loss_r,
                        "reverse/grad_norm": optax.global_norm(g_r)})
      new = {"step": state["step"] + 1, "params": params,
             "model_state": state["model_state"],
             "opt_state": {"forward": opt_f, "reverse": opt_r}}
      new = {**base.keep_if_finite(finite, new, state), "step": state["step"] + 1}
      return new, {**metrics, "finite": finite}

    return jax.jit(step, donate_argnums=(0,))

  # Evaluation -------------------------------------------------------------
  def encode(self, variables, x):
    """``[mu_z, s]`` (``cycle.code = zs``), or only mu_z or s."""
    mean, _, _ = self.model.encode(variables, x, train=False)
    z, s = split_code(mean, self.s_dim)
    return {"zs": mean, "z": z, "s": s}[self.settings["code"]]

  @functools.cached_property
  def _jit_codes(self):
    return jax.jit(lambda v, x: self.model.encode(v, x.astype(jnp.float32) / 255.0)[0])

  @functools.cached_property
  def _jit_swap(self):
    def swap(v, z_images, s_images):
      zc = self._jit_codes(v, z_images)[:, :self.z_dim]
      sc = self._jit_codes(v, s_images)[:, self.z_dim:]
      r, c = zc.shape[0], sc.shape[0]
      code = jnp.concatenate([jnp.repeat(zc, c, 0), jnp.tile(sc, (r, 1))], -1)
      return jax.nn.sigmoid(self.model.decode(v, code))
    return jax.jit(swap)

  def codes(self, variables, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Full ``[mu_z, s]`` codes of uint8 images, in batches."""
    return np.concatenate([np.asarray(self._jit_codes(variables, images[i:i + batch_size]))
                           for i in range(0, len(images), batch_size)])

  def swap_grid(self, variables, z_images, s_images) -> np.ndarray:
    """Style transfer: cell (i, j) = Dec(z of row image i, s of column image j),
    with the s images on the top row and the z images in the left column."""
    out = np.asarray(self._jit_swap(variables, z_images, s_images))
    r, c = len(z_images), len(s_images)
    h, w, ch = out.shape[1:]
    cells = np.ones(((r + 1) * (c + 1), h, w, ch), np.float32)
    grid = cells.reshape(r + 1, c + 1, h, w, ch)
    grid[0, 1:] = s_images / 255.0
    grid[1:, 0] = z_images / 255.0
    grid[1:, 1:] = out.reshape(r, c, h, w, ch)
    return evaluate._grid(cells, r + 1, c + 1)  # pylint: disable=protected-access

  def figures(self, variables, examples, outdir: str, config) -> None:
    """``swap.png``: the 8 examples as z rows and as s columns."""
    del config
    evaluate.save_png(self.swap_grid(variables, examples, examples),
                      os.path.join(outdir, "swap.png"))

  def evaluate(self, variables, images, config, outdir: str) -> dict:
    """The paper's Table 1 probe (``probe.{z,s}.{train,test}``) and a swap grid
    with one column per value of the specified factor."""
    if not self.PAIRED:
      return {}
    shared = self.shared_factors(images)
    factor = int(shared[0])
    probe_cfg = dict(config.get("cycle", {}).get("probe", {}))
    index = probe_records(images, int(probe_cfg.get("num_samples", 6000)),
                          seed=int(config.eval.seed))
    pixels = images.images(index, np.random.default_rng([int(config.eval.seed), 0x9B0E]))
    labels = images.space.factors(index)[:, factor]
    codes = self.codes(variables, pixels)
    result = latent_probes(codes[:, :self.z_dim], codes[:, self.z_dim:], labels,
                           seed=int(config.eval.seed),
                           max_iter=int(probe_cfg.get("max_iter", 200)))
    result["factor"] = images.space.names[factor]
    # Swap grid: columns one image per value of the factor (at most 10), rows 8 images.
    values = np.unique(labels)[:10]
    cols = np.asarray([np.flatnonzero(labels == v)[0] for v in values])
    rows = np.setdiff1d(np.arange(len(index)), cols)[:8]
    evaluate.save_png(self.swap_grid(variables, pixels[rows], pixels[cols]),
                      os.path.join(outdir, "swap_factor.png"))
    return {"probe": result}

  # Transfer ---------------------------------------------------------------
  def export(self, state) -> dict:
    return {"params": state["params"], "model_state": state["model_state"],
            "opt_state": state["opt_state"]}

  def init_from(self, parts: dict) -> dict:
    """The source's parameters, step 0, and this run's two Adams carrying the
    source's moments (fresh with ``transfer.reset_optimizer``)."""
    opt = parts.get("opt_state")
    if not (isinstance(opt, dict) and set(opt) == {"forward", "reverse"}):
      raise ValueError("cycle-VAE fine-tuning starts from a cycle_vae source (its "
                       "export has the forward and reverse Adam states).")
    params, txs = parts["params"], self.optimizers()
    reset = self.config.get("transfer", {}).get("reset_optimizer", False)
    targets = {"forward": params, "reverse": params["encoder"]}
    opt_state = {k: (txs[k].init(targets[k]) if reset else
                     optim.carry_optimizer_state(opt[k], txs[k], targets[k]))
                 for k in txs}
    return {"step": jnp.zeros((), jnp.int32), "params": params,
            "model_state": parts["model_state"], "opt_state": opt_state}


class CycleVAEFineTune(CycleVAE):
  """The cycle-VAE objective without labels (fine-tuning on a target): the
  forward cycle on single images (x1 = x2) and the reverse cycle."""

  name = "cycle_vae_finetune"
  PAIRED = False


# -------------------------------------------------------------- probe ---


def probe_records(images, num: int, seed: int = 0) -> np.ndarray:
  """``num`` distinct records (all, for a smaller source), seeded, shuffled: a
  probe's train and test sets never share an image."""
  rng = np.random.default_rng([int(seed), 0x9B0E])
  sparse = sparse_index(images)
  pool = sparse.available if sparse is not None else None
  total = len(pool) if pool is not None else images.space.num_records
  pick = (rng.permutation(total) if total <= num
          else rng.choice(total, size=num, replace=False))
  return pool[pick] if pool is not None else pick.astype(np.int64)


def latent_probes(z_codes, s_codes, labels, *, seed: int = 0, max_iter: int = 200,
                  num_train=None, num_test=None) -> dict:
  """The paper's Table 1: a 2-hidden-layer MLP (256, 256) predicts the specified
  factor from z and, separately, from s; train and test accuracy of each.

  The downstream metric's MLP (dtransfer/metrics/downstream.py; sklearn,
  ReLU, Adam; the authors' classifier had BatchNorm and LeakyReLU), with its
  seeded 2/3 : 1/3 split.
  """
  from dtransfer.metrics import downstream  # pylint: disable=g-import-not-at-top
  labels = np.asarray(labels).reshape(-1, 1)
  out = {}
  for part, codes in (("z", z_codes), ("s", s_codes)):
    r = downstream.downstream(np.asarray(codes), labels, predictor="mlp", seed=seed,
                              num_train=num_train, num_test=num_test, max_iter=max_iter)
    out[part] = {"train": r["mean_train_accuracy"], "test": r["mean_test_accuracy"]}
  values, counts = np.unique(labels, return_counts=True)
  out["chance"] = float(counts.max() / counts.sum())
  return out
