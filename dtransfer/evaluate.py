"""Evaluation of a representation: encode a labelled sample, run metrics, save results.

``evaluate_model`` writes into its output directory:
  results.json       every metric's numbers (OMES grid, per-factor scores, ...)
  codes.npz          the posterior means and factor labels that were scored
  association.png    OMES association matrix S (latent dims x factors)
  traversals.png     decoded latent traversals, one row per latent dim
  reconstructions.png  inputs (top) and reconstructions (bottom)
  summary.md         a Markdown table of the headline numbers
"""

from __future__ import annotations

import functools
import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dtransfer import console
from dtransfer import event_writer
from dtransfer import methods
from dtransfer import results as results_lib
from dtransfer import metrics
from dtransfer import sharding
from dtransfer import workdir as workdir_lib
from dtransfer.data import pairs
from dtransfer.metrics import plots


# One jitted function per model (and batch size / mesh): evaluations of the
# same network reuse the compiled code instead of tracing it again per call.
_JITTED: dict = {}


def _cached(kind: str, model, build, *key):
  k = (kind, id(model), *key)
  hit = _JITTED.get(k)
  if hit is None or hit[0] is not model:
    hit = _JITTED[k] = (model, build())
  return hit[1]


# One progress line of an evaluation stage, printed once (dtransfer.console).
say = console.say


def make_encoder(method, batch_size: int = 512, mesh=None):
  """Jitted ``encode(variables, uint8 images) -> representations`` of a method (cached)."""
  mesh = sharding.data_mesh() if mesh is None else mesh
  return _cached("encoder", method.model, lambda: _make_encoder(method, batch_size, mesh),
                 batch_size, mesh, type(method).encode)  # Meshes compare by devices and axes


def _make_encoder(method, batch_size: int = 512, mesh=None):
  """Jitted ``encode(variables, uint8 images) -> representations`` (NumPy).

  The representation is the method's (``method.encode``: a VAE's posterior
  mean). Chunks of ``batch_size`` images (rounded up to a multiple of the
  device count; the last chunk is zero-padded so one compiled shape serves
  every call) are split over the 'data' mesh axis as in training, with the
  variables replicated, so evaluation uses every device. With several
  processes each one passes the same images and uploads only its own rows;
  the codes come back replicated to every process.
  """
  mesh = sharding.data_mesh() if mesh is None else mesh
  replicated = sharding.replicated(mesh)

  @functools.partial(jax.jit, out_shardings=replicated)
  def _encode(variables, x):
    return method.encode(variables, x.astype(jnp.float32) / 255.0)

  def encode(variables, images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    size = -(-min(batch_size, max(len(images), 1)) // mesh.size) * mesh.size
    variables = sharding.replicate(variables, mesh)
    rank, count = jax.process_index(), jax.process_count()
    out = []
    for start in range(0, len(images), size):
      chunk = images[start:start + size]
      n = len(chunk)
      if n < size:  # pad the last chunk: one compiled shape for every call
        chunk = np.concatenate([chunk, np.zeros((size - n,) + chunk.shape[1:], chunk.dtype)])
      local = chunk[rank * size // count:(rank + 1) * size // count]
      x = jax.make_array_from_process_local_data(sharding.batch_sharding(mesh), local)
      out.append(np.asarray(_encode(variables, x))[:n])
    return np.concatenate(out)

  return encode


def to_pixels(model, out) -> jnp.ndarray:
  """Decoder output -> pixel means in [0, 1]."""
  if model.output_activation == "logits":
    return jax.nn.sigmoid(out)
  return jnp.clip(jnp.tanh(out) / 2 + 0.5, 0.0, 1.0)


def encode_sample(method, variables, images, num: int, seed: int = 0,
                  batch_size: int = 512, stage: str = "eval"):
  """(codes [num, D], factors [num, K]) for a seeded uniform sample of the source."""
  factors, batches = pairs.sample_dataset(images, num, seed, batch_size=4096)
  encode = make_encoder(method, batch_size)
  start, done, out = time.perf_counter(), 0, []
  for imgs in batches():
    out.append(encode(variables, imgs))
    done += len(imgs)
    rate = done / max(time.perf_counter() - start, 1e-9)
    say(stage, f"encoded {done}/{num} images ({rate:.0f} images/s, "
               f"ETA {(num - done) / max(rate, 1e-9):.0f} s)")
  codes = np.concatenate(out)
  if not np.all(np.isfinite(codes)):
    raise FloatingPointError("the encoder produced NaN or infinite codes; the "
                             "checkpoint is probably diverged.")
  return codes, factors


def _grid(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
  """Tiles [rows*cols, H, W, C] float images into one uint8 picture, 1px gaps."""
  n, h, w, c = images.shape
  canvas = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1, c), np.float32)
  for i in range(min(n, rows * cols)):
    r, q = divmod(i, cols)
    canvas[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + q * (w + 1):1 + q * (w + 1) + w] = images[i]
  out = (np.clip(canvas, 0, 1) * 255).round().astype(np.uint8)
  return out[..., 0] if c == 1 else out


def label_rows(picture: np.ndarray, labels, margin: int = 26) -> np.ndarray:
  """``picture`` (a ``_grid`` of ``len(labels)`` rows) with each row's label on a white
  margin at its left, e.g. the latent index of each traversal row."""
  from PIL import Image, ImageDraw  # pylint: disable=g-import-not-at-top
  img = Image.fromarray(picture)
  out = Image.new(img.mode, (img.width + margin, img.height), "white")
  out.paste(img, (margin, 0))
  draw = ImageDraw.Draw(out)
  row = (img.height - 1) / max(len(labels), 1)
  for i, text in enumerate(labels):
    draw.text((2, int(1 + (i + 0.5) * row) - 5), str(text), fill="black")
  return np.asarray(out)


def _pngs(outdir: str) -> list[str]:
  return sorted(n[:-4] for n in os.listdir(outdir) if n.endswith(".png"))


def _read_png(path: str) -> np.ndarray:
  from PIL import Image  # pylint: disable=g-import-not-at-top
  with Image.open(path) as img:
    return np.asarray(img.convert("RGBA" if img.mode in ("RGBA", "P", "LA") else
                                  ("L" if img.mode in ("L", "1", "I") else "RGB")))


def save_png(array: np.ndarray, path: str, scale: int = 2) -> None:
  from PIL import Image  # pylint: disable=g-import-not-at-top
  img = Image.fromarray(array)
  if scale > 1:
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
  img.save(path)


def _traversal_fn(model, steps: int, radius: float):
  def fn(variables, image):
    x = image[None].astype(jnp.float32) / 255.0
    mean, _, _ = model.encode(variables, x, train=False)
    d = mean.shape[-1]
    values = jnp.linspace(-radius, radius, steps)
    z = jnp.repeat(mean, d * steps, axis=0).reshape(d, steps, d)
    z = z.at[jnp.arange(d)[:, None], jnp.arange(steps)[None, :],
             jnp.arange(d)[:, None]].set(jnp.broadcast_to(values, (d, steps)))
    return to_pixels(model, model.decode(variables, z.reshape(d * steps, d)))
  return jax.jit(fn)


def traversals(model, variables, image: np.ndarray, steps: int = 9,
               radius: float = 2.0) -> np.ndarray:
  """Decoded traversals: row d (labelled zd) varies latent d over [-radius, radius]
  around the code."""
  fn = _cached("traversals", model, lambda: _traversal_fn(model, steps, radius),
               steps, radius)
  out = np.asarray(fn(variables, jnp.asarray(image)))
  return label_rows(_grid(out, model.num_latents, steps),
                    [f"z{d}" for d in range(model.num_latents)])


def _reconstruction_fn(model):
  def fn(variables, images):
    x = images.astype(jnp.float32) / 255.0
    mean, _, _ = model.encode(variables, x, train=False)
    return x, to_pixels(model, model.decode(variables, mean))
  return jax.jit(fn)


def reconstructions(model, variables, images: np.ndarray) -> np.ndarray:
  x, rec = _cached("reconstructions", model, lambda: _reconstruction_fn(model))(
      variables, jnp.asarray(images))
  return _grid(np.concatenate([np.asarray(x), np.asarray(rec)]), 2, len(images))


def _jsonable(x):
  if isinstance(x, dict):
    return {str(k): _jsonable(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_jsonable(v) for v in x]
  if isinstance(x, (np.ndarray, jnp.ndarray)) or hasattr(x, "dtype"):
    x = np.asarray(x)
    return x.item() if x.ndim == 0 else x.tolist()
  return x


def evaluate_codes(codes, factors, config, outdir: str, factor_names=None,
                   title: str = "") -> dict:
  """Runs ``config.eval.metrics`` on codes and writes results.json, association.png, summary.md."""
  os.makedirs(outdir, exist_ok=True)
  stage = title or "eval"
  names = list(config.eval.metrics)
  start = time.perf_counter()
  say(stage, f"computing {len(names)} metrics on {len(codes)} codes: {', '.join(names)}")
  order = sorted(names, key=lambda m: m != "omes")   # metrics.evaluate runs OMES first

  def progress(name, i, n, sec):
    running = f"; running {order[i]}" if i < n else ""
    say(stage, f"metric {i}/{n} {name} done in {sec:.1f} s{running}")

  results = metrics.evaluate(codes, factors, metrics=names, seed=config.eval.seed,
                             progress=progress, **dict(config.eval.metric_kwargs))
  say(stage, f"metrics done in {time.perf_counter() - start:.1f} s")
  results = _jsonable(results)
  console.print_warnings(stage, results)
  if jax.process_index() != 0:  # every process computes, process 0 writes
    return results
  with open(os.path.join(outdir, "results.json"), "w") as f:
    json.dump(results, f, indent=1)
  if "omes" in results:
    omes = results["omes"]
    plots.save_association_heatmap(np.asarray(omes["S"]),
                                   os.path.join(outdir, "association.png"),
                                   factor_names=factor_names, title=title or None,
                                   inactive_dims=omes.get("inactive"),
                                   excluded_factors=omes.get("excluded_factors"))
  notes = results_lib.warnings(results)  # printed above (console.print_warnings)
  with open(os.path.join(outdir, "summary.md"), "w") as f:
    f.write(f"# {title or 'Evaluation'}\n\n| metric | value |\n|---|---|\n")
    for name, value in results_lib.scalars(results):
      f.write(f"| {name} | {value:.4f} |\n")
    if notes:
      f.write("\n## Warnings\n\n" + "".join(f"- {n}\n" for n in notes))
  return results


def evaluate_model(method, state, images, config, outdir: str, title: str = "") -> dict:
  """Encodes ``config.eval.num_samples`` of ``images`` with ``method``'s
  representation at ``state`` and evaluates them."""
  os.makedirs(outdir, exist_ok=True)
  started = time.perf_counter()
  variables = method.variables(state)
  codes, factors = encode_sample(method, variables, images, config.eval.num_samples,
                                 seed=config.eval.seed, batch_size=config.eval.batch_size,
                                 stage=title or "eval")
  results = evaluate_codes(codes, factors, config, outdir, images.space.names, title)
  if jax.process_index() != 0:
    return results
  np.savez_compressed(os.path.join(outdir, "codes.npz"), codes=codes, factors=factors,
                      factor_names=np.asarray(images.space.names))
  say(title or "eval", "drawing figures")
  _, preview = pairs.sample_dataset(images, 8, seed=config.eval.seed + 1)
  method.figures(variables, next(preview()), outdir, config)
  extra = _jsonable(method.evaluate(variables, images, config, outdir))
  if extra:
    console.print_warnings(title or "eval", extra)
    results.update(extra)
    with open(os.path.join(outdir, "results.json"), "w") as f:
      json.dump(results, f, indent=1)
  # TensorBoard: the figures (association matrix and whatever the method drew)
  # and the headline numbers, at the evaluated step.
  board = event_writer.EventWriter(outdir)
  step = int(np.asarray(jax.device_get(state["step"]))) if isinstance(state, dict) and \
      "step" in state else 0
  board.images(step, {f"eval/{n}": _read_png(os.path.join(outdir, f"{n}.png"))
                      for n in _pngs(outdir)})
  board.scalars(step, dict(results_lib.scalars(results)), prefix="eval/")
  seconds = round(time.perf_counter() - started, 1)
  with open(os.path.join(outdir, "timing.json"), "w") as f:
    json.dump({"seconds": seconds, "num_samples": int(config.eval.num_samples)}, f)
  say(title or "eval", f"evaluation written to {outdir} ({seconds:.1f} s)")
  return results


def evaluate_workdir(workdir: str, outdir: str, *, metrics=None, dataset: str | None = None,
                     num_samples: int | None = None, metric_kwargs=None) -> dict:
  """Evaluates the newest checkpoint of a work directory (optionally on another dataset)."""
  config = workdir_lib.read_config(workdir)
  trained_shape = tuple(workdir_lib.image_source(config).image_shape)
  if dataset:
    config.data.name = dataset
    config.data.kwargs = {}
  images = workdir_lib.image_source(config)
  if tuple(images.image_shape) != trained_shape:
    raise ValueError(f"the model in {workdir} takes images of shape {trained_shape}, "
                     f"dataset {config.data.name} gives {tuple(images.image_shape)}.")
  _override_eval(config, metrics, num_samples, metric_kwargs)
  model, state = workdir_lib.load_trained(config, workdir, image_shape=trained_shape)
  return evaluate_model(methods.get_method(config, model), state, images, config, outdir,
                        title=f"{workdir} on {config.data.name}")


def evaluate_saved_codes(path: str, outdir: str, eval_config, *, metrics=None,
                         metric_kwargs=None, seed: int = 0) -> dict:
  """Evaluates codes saved as .npz with arrays ``codes`` [N, D] and ``factors`` [N, K].

  ``eval_config`` is an experiment's ``eval`` block (e.g. configs/common.py's
  ``base_config().eval``); ``metrics``, ``metric_kwargs`` and ``seed`` override it.
  """
  try:
    data = np.load(path, allow_pickle=False)
    if not isinstance(data, np.lib.npyio.NpzFile):
      raise ValueError(f"it holds a single array (a .npy), not the arrays 'codes' and "
                       "'factors'; save them with np.savez(path, codes=..., factors=...)")
    codes, factors = data["codes"], data["factors"]
  except FileNotFoundError:
    raise FileNotFoundError(f"no codes file at {path}.") from None
  except (KeyError, ValueError, OSError, IndexError) as e:
    raise ValueError(f"{path} is not a readable .npz with arrays 'codes' [N, D] and "
                     f"'factors' [N, K] ({e}).") from None
  names = list(data["factor_names"]) if "factor_names" in data else None
  config = ml_collections.ConfigDict({"eval": eval_config.to_dict()})
  config.eval.seed = seed
  _override_eval(config, metrics, None, metric_kwargs)
  return evaluate_codes(codes, factors, config, outdir, names, title=os.path.basename(path))


def _override_eval(config, metrics, num_samples, metric_kwargs):
  if metrics:
    config.eval.metrics = list(metrics)
  if num_samples:
    config.eval.num_samples = int(num_samples)
  if metric_kwargs:
    config.eval.metric_kwargs.update(metric_kwargs)
