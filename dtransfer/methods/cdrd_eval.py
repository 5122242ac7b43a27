"""CDRD's evaluation: domain-adaptation accuracy, the source-only baseline, figures.

``evaluate`` scores the discriminator's attribute head on held-out target
records (the paper's UDA accuracy; the only place target labels are read)
and trains the source-only baseline: the same discriminator (source stem,
shared trunk, attribute head) on labelled source images only, same optimiser,
batch size and number of steps, then applied to the target images (through
the source stem; grey/RGB mapped when the channel counts differ). Figures:
generations per attribute value in both domains, a 2-D t-SNE of the
discriminator embedding of both domains, and for E-CDRD reconstruction,
translation and attribute-editing grids.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dtransfer import evaluate as evaluate_lib
from dtransfer.data import domains
from dtransfer.data import pairs
from dtransfer.methods import cdrd_losses as L
from dtransfer.methods import cdrd_nets as nets
from dtransfer.methods import two_player


def target_test_sample(method, num: int, seed: int):
  """(uint8 images, labels) of ``num`` held-out target records."""
  test = method.target_part("test")
  factors, batches = pairs.sample_dataset(test, num, seed)
  attr = domains.factor_index(test.space, method.m.target_attribute)
  return np.concatenate(list(batches())), factors[:, attr].astype(np.int32)


def source_sample(method, source, num: int, seed: int):
  factors, batches = pairs.sample_dataset(source, num, seed)
  attr = domains.factor_index(source.space, method.m.source_attribute)
  return np.concatenate(list(batches())), factors[:, attr].astype(np.int32)


def _predict_fn(method, domain, channels):
  net = method.model

  @jax.jit
  def predict(disc_params, x):
    x = method_input(net, x, channels)
    return jnp.argmax(net.discriminator.apply({"params": disc_params}, x, domain)["cls"], -1)
  return predict


def method_input(net, x, channels):
  return nets.to_channels(nets.to_model_input(x, net.size), channels)


def predict(method, disc_params, images, domain: str, batch_size: int = 500):
  """Attribute-head predictions of uint8 images through ``domain``'s stem."""
  channels = method.model.channels[0 if domain == "source" else 1]
  fn = _predict_fn(method, domain, channels)
  out = [np.asarray(fn(disc_params, jnp.asarray(images[i:i + batch_size])))
         for i in range(0, len(images), batch_size)]
  return np.concatenate(out)


def train_source_only(method, source, steps: int):
  """The source-only baseline: the discriminator's source path trained on
  labelled source images alone (attribute cross-entropy), same Adam and
  batches as CDRD. Returns its parameters."""
  config = method.config
  params = method.init_params(config.seed)["disc"]
  tx = method.optimizer()
  batches = domains.TwoDomainBatches(
      source, source, config.train.batch_size, seed=config.seed,
      label_factor=domains.factor_index(source.space, method.m.source_attribute))
  net = method.model

  def loss(params, other, model_state, batch, key):
    del other, key
    x = method_input(net, batch["xs"], net.channels[0])
    logits = net.discriminator.apply({"params": params}, x, "source")["cls"]
    return L.class_ce(logits, batch["ls"]), ({}, model_state)

  def nothing(params, other, model_state, batch, key):
    del other, batch, key
    return jnp.zeros(()) * jax.tree.leaves(params)[0].sum(), ({}, model_state)

  # The shared two-player step with an idle second player: one code path.
  step = two_player.make_step(("clf", loss, tx), ("idle", nothing, optax.sgd(0.0)),
                              seed=config.seed)
  state = two_player.init_state({"clf": params, "idle": {"w": jnp.zeros(())}}, {},
                                {"clf": tx, "idle": optax.sgd(0.0)})
  for i in range(steps):
    b = batches[i]
    state, _ = step(state, {"xs": b["xs"], "ls": b["ls"]})
  return jax.device_get(state["params"]["clf"])


def evaluate(method, variables, source, outdir: str) -> dict:
  m, config = method.m, method.config
  disc = variables["params"]["disc"]
  xt, yt = target_test_sample(method, int(m.eval_num), config.eval.seed)
  xs, ys = source_sample(method, source, int(m.eval_num), config.eval.seed + 7)
  acc = lambda p, x, y, d: float(np.mean(predict(method, p, x, d) == y))
  out = {"target_accuracy": acc(disc, xt, yt, "target"),
         "source_accuracy": acc(disc, xs, ys, "source"),
         "num_target_test": int(len(yt)),
         "chance": float(np.max(np.bincount(yt)) / len(yt))}
  steps = int(m.source_only_steps) or int(config.train.num_steps)
  if steps > 0:
    only = train_source_only(method, source, steps)
    out["source_only_accuracy"] = acc(only, xt, yt, "source")
    out["source_only_source_accuracy"] = acc(only, xs, ys, "source")
    out["source_only_steps"] = steps
  if outdir and int(m.embedding_plot_num) > 0:
    n = int(m.embedding_plot_num)
    save_embedding_plot(method, disc, xs[:n], ys[:n], xt[:n], yt[:n],
                        os.path.join(outdir, "embedding_tsne.png"), config.seed)
  evaluate_lib.say("cdrd", f"target accuracy {out['target_accuracy']:.4f}, source-only "
                   f"{out.get('source_only_accuracy', float('nan')):.4f}")
  return {"uda": out}


# Figures --------------------------------------------------------------------
def _embed(method, disc, images, domain):
  net = method.model
  channels = net.channels[0 if domain == "source" else 1]
  fn = jax.jit(lambda p, x: net.discriminator.apply(
      {"params": p}, method_input(net, x, channels), domain)["embedding"])
  return np.concatenate([np.asarray(fn(disc, jnp.asarray(images[i:i + 500])))
                         for i in range(0, len(images), 500)])


def save_embedding_plot(method, disc, xs, ys, xt, yt, path, seed):
  """t-SNE of the discriminator embedding: colour = class, o = source, x = target."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  from sklearn.manifold import TSNE  # pylint: disable=g-import-not-at-top
  e = np.concatenate([_embed(method, disc, xs, "source"), _embed(method, disc, xt, "target")])
  y2 = TSNE(2, init="pca", random_state=seed, perplexity=30).fit_transform(e)
  n = len(xs)
  fig, ax = plt.subplots(figsize=(6, 6))
  cmap = plt.get_cmap("tab10" if method.model.num_classes <= 10 else "tab20")
  ax.scatter(y2[:n, 0], y2[:n, 1], c=ys, cmap=cmap, marker="o", s=8, alpha=.6,
             vmin=0, vmax=max(method.model.num_classes - 1, 1), label="source")
  ax.scatter(y2[n:, 0], y2[n:, 1], c=yt, cmap=cmap, marker="x", s=10, alpha=.8,
             vmin=0, vmax=max(method.model.num_classes - 1, 1), label="target")
  ax.set_title(f"{method.name}: discriminator embedding (t-SNE)\n"
               "colour = class; o source, x target")
  ax.legend(loc="best")
  ax.set_xticks([]), ax.set_yticks([])
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def _unit(x):
  """[-1, 1] model images -> [0, 1] RGB for grids."""
  x = np.clip((np.asarray(x) + 1) / 2, 0, 1)
  return np.repeat(x, 3, -1) if x.shape[-1] == 1 else x


def save_figures(method, variables, outdir: str, per_class: int = 6) -> None:
  net = method.model
  params = variables["params"]
  k = net.num_classes
  rng = np.random.default_rng([method.config.seed, 0xF16])
  z = jnp.asarray(np.tile(rng.standard_normal((per_class, net.num_latents)), (k, 1)),
                  jnp.float32)
  labels = jnp.repeat(jnp.arange(k), per_class)
  fakes = jax.jit(method._fakes)(params["gen"], z, labels)  # pylint: disable=protected-access
  # Rows: attribute values; columns: the same z in source (left) and target (right).
  grid = np.concatenate([_unit(fakes["source"]).reshape(k, per_class, *fakes["source"].shape[1:3], 3),
                         _unit(fakes["target"]).reshape(k, per_class, *fakes["target"].shape[1:3], 3)],
                        axis=1)
  evaluate_lib.save_png(evaluate_lib._grid(grid.reshape(-1, *grid.shape[2:]), k,  # pylint: disable=protected-access
                                           2 * per_class), os.path.join(outdir, "generations.png"))
  if net.encoder is not None:
    save_ecdrd_grids(method, params, outdir)


def save_ecdrd_grids(method, params, outdir: str, n: int = 8) -> None:
  """Reconstruction, translation and attribute-editing grids of E-CDRD."""
  net, config = method.model, method.config
  k = net.num_classes
  xt, _ = target_test_sample(method, n, config.eval.seed + 3)
  src = _source(method)
  xs, ys = source_sample(method, src, n, config.eval.seed + 3)
  gen, disc = params["gen"], params["disc"]

  @jax.jit
  def run(xs, ys, xt):
    xs = nets.to_model_input(xs, net.size)
    xt = nets.to_model_input(xt, net.size)
    zs, _ = method._encode_z(gen, xs, "source")           # posterior means
    zt, _ = method._encode_z(gen, xt, "target")
    lt = jnp.argmax(method._disc(disc, xt, "target")["cls"], -1)
    g = lambda z, l, d: method._generate(gen, z, l, d)
    edit = g(jnp.repeat(zs, k, 0), jnp.tile(jnp.arange(k), zs.shape[0]), "target")
    return {"xs": xs, "ss": g(zs, ys, "source"), "st": g(zs, ys, "target"),
            "xt": xt, "tt": g(zt, lt, "target"), "ts": g(zt, lt, "source"), "edit": edit}
  # pylint: disable=protected-access
  r = {k_: _unit(v) for k_, v in run(jnp.asarray(xs), jnp.asarray(ys), jnp.asarray(xt)).items()}
  grid = evaluate_lib._grid
  save = lambda a, rows, cols, name: evaluate_lib.save_png(grid(a, rows, cols),
                                                           os.path.join(outdir, name))
  # Rows: input, reconstruction in its own domain, translation to the other.
  save(np.concatenate([r["xs"], r["ss"], r["st"]]), 3, n, "ecdrd_source_to_target.png")
  save(np.concatenate([r["xt"], r["tt"], r["ts"]]), 3, n, "ecdrd_target_to_source.png")
  # Row i: source image i, then its z decoded in the target domain with each class.
  edit = r["edit"].reshape(n, k, *r["edit"].shape[1:])
  rows = np.concatenate([r["xs"][:, None], edit], axis=1)
  save(rows.reshape(-1, *rows.shape[2:]), n, k + 1, "ecdrd_attribute_editing.png")


def _source(method):
  from dtransfer import datasets  # pylint: disable=g-import-not-at-top
  d = method.config.data
  return datasets.get_dataset(d.name, source=d.source, data_dir=d.data_dir or None,
                              **dict(d.get("kwargs", {})))
