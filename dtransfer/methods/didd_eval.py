"""DIDD's own evaluation on a pair of domains with a rendered ground truth.

``evaluate_pair`` returns (and ``DIDD.evaluate`` merges into results.json):

  translation.{a2b, b2a, intersection, union}.{mse, ssim}
      the model's outputs against the exact rendering (shapes3d/domains.py):
      a2b = G(E^c(a), 0, E^s_B(b)), b2a = G(E^c(b), E^s_A(a), 0),
      intersection = G(E^c(x), 0, 0) for x from A and from B,
      union = G(E^c(a), E^s_A(a), E^s_B(b)); means over the test pairs;
  translation_identity.{...}.{mse, ssim}
      the identity baseline: the input itself (a for a2b, intersection and
      union, b for b2a) against the same ground truth;
  probes.<predictor>.{common_on_a, specific_on_a, common_on_b, specific_on_b}
      per-factor test accuracy of a classifier (dtransfer.metrics.downstream)
      predicting each factor of a domain's images from E^c or from that
      domain's E^s; ``domain_from_common`` tells A from B on E^c; summaries
      ``specific_from_common``, ``specific_from_specific`` (the A/B-specific
      hue), ``shared_from_common``, ``shared_from_specific`` (mean over the
      shared factors).

It also writes translation.png (rows: a, b, then model and ground truth of
a2b, b2a, intersection of a, union).
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from dtransfer import evaluate
from dtransfer.metrics import downstream
from dtransfer.metrics import image_similarity

KINDS = ("a2b", "b2a", "intersection", "union")


def _pixels(y):
  """G's [-1, 1] output -> [0, 1]."""
  return jnp.clip((y + 1.0) / 2.0, 0.0, 1.0)


def _translate_fn(net):
  def fn(variables, a, b):
    a = a.astype(jnp.float32) / 255.0
    b = b.astype(jnp.float32) / 255.0
    n = a.shape[0]
    c, s_a, s_b, _ = net.encode(variables, jnp.concatenate([a, b]))
    ca, cb, sa, sb = c[:n], c[n:], s_a[:n], s_b[n:]
    z = jnp.zeros_like(sa)
    codes = {"a2b": (ca, z, sb), "b2a": (cb, sa, z), "intersection_a": (ca, z, z),
             "intersection_b": (cb, z, z), "union": (ca, sa, sb)}
    cat = [jnp.concatenate([codes[k][i] for k in codes]) for i in range(3)]
    out = _pixels(net.decode(variables, *cat)[0])
    return {k: out[i * n:(i + 1) * n] for i, k in enumerate(codes)}
  return jax.jit(fn)


def _intersection_fn(net):
  def fn(variables, x):
    x = x.astype(jnp.float32) / 255.0
    c, s_a, s_b, _ = net.encode(variables, x)
    z = jnp.zeros_like(s_a)
    full = _pixels(net.decode(variables, c, s_a, s_b)[0])
    common = _pixels(net.decode(variables, c, z, z)[0])
    return jnp.concatenate([x, full, common])
  return jax.jit(fn)


def _codes_fn(net):
  def fn(variables, x):
    c, s_a, s_b, _ = net.encode(variables, x.astype(jnp.float32) / 255.0)
    return c, s_a, s_b
  return jax.jit(fn)


def intersections(net, variables, images: np.ndarray) -> np.ndarray:
  """Inputs, reconstructions from [c | s_A | s_B] and from [c | 0 | 0], stacked."""
  fn = evaluate._cached("didd_intersections", net, lambda: _intersection_fn(net))  # pylint: disable=protected-access
  return np.asarray(fn(variables, jnp.asarray(images)))


def save_grid(images: np.ndarray, path: str, rows: int) -> None:
  images = np.asarray(images, np.float32)
  if images.max() > 1.0:
    images = images / 255.0
  evaluate.save_png(evaluate._grid(images, rows, len(images) // rows), path)  # pylint: disable=protected-access


def translate(net, variables, a: np.ndarray, b: np.ndarray, batch_size: int = 128) -> dict:
  """The model's a2b, b2a, intersections and union of unpaired rows (a[i], b[i])."""
  fn = evaluate._cached("didd_translate", net, lambda: _translate_fn(net))  # pylint: disable=protected-access
  out: dict = {}
  for start in range(0, len(a), batch_size):
    part = fn(variables, jnp.asarray(a[start:start + batch_size]),
              jnp.asarray(b[start:start + batch_size]))
    for k, v in part.items():
      out.setdefault(k, []).append(np.asarray(v))
  return {k: np.concatenate(v) for k, v in out.items()}


def ground_truth(pair, fa: np.ndarray, fb: np.ndarray) -> dict:
  """The exact renderings of every translation (uint8) for factor rows of A and B."""
  return {"a2b": pair.render(fa[:, 1:], None, fb[:, 0]),
          "b2a": pair.render(fb[:, 1:], fa[:, 0], None),
          "intersection_a": pair.render(fa[:, 1:], None, None),
          "intersection_b": pair.render(fb[:, 1:], None, None),
          "union": pair.render(fa[:, 1:], fa[:, 0], fb[:, 0])}


def _scores(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  pred = np.asarray(pred)
  pred = (pred.astype(np.float32) / 255.0 if pred.dtype == np.uint8
          else pred.astype(np.float32))
  truth = np.asarray(truth, np.float32) / 255.0
  return (np.asarray(image_similarity.mse(pred, truth)),
          np.asarray(image_similarity.ssim(pred, truth)))


def translation_scores(outputs: dict, truths: dict) -> dict:
  """``{kind: {mse, ssim}}`` over KINDS (intersection pools A and B)."""
  out = {}
  for kind in KINDS:
    keys = ("intersection_a", "intersection_b") if kind == "intersection" else (kind,)
    mses, ssims = zip(*(_scores(outputs[k], truths[k]) for k in keys))
    out[kind] = {"mse": float(np.mean(np.concatenate(mses))),
                 "ssim": float(np.mean(np.concatenate(ssims)))}
  return out


def _sample(domain, num: int, seed: int):
  rng = np.random.default_rng([int(seed), 0xD1DE])
  index = rng.integers(0, domain.space.num_records, size=int(num))
  return domain.images(index), domain.space.factors(index)


def _probe(codes, labels, names, predictor, seed, num_train, num_test, kwargs):
  codes = (codes - codes.mean(0)) / (codes.std(0) + 1e-6)   # helps lbfgs converge
  r = downstream.downstream(codes, labels, predictor=predictor, seed=seed,
                            num_train=num_train, num_test=num_test, **kwargs)
  return {name: float(acc) for name, acc in zip(names, r["test_accuracy"])}


def probes(net, variables, pair, config, a, fa, b, fb) -> dict:
  """Classifier accuracies of every factor from E^c and from the domain's E^s."""
  ec = config.eval
  codes = evaluate._cached("didd_codes", net, lambda: _codes_fn(net))  # pylint: disable=protected-access
  def enc(x):
    parts = [codes(variables, jnp.asarray(x[i:i + 256])) for i in range(0, len(x), 256)]
    return [np.concatenate([np.asarray(p[j]) for p in parts]) for j in range(3)]
  ca, sa, _ = enc(a)
  cb, _, sb = enc(b)
  n = len(a)
  num_train = n * 2 // 3
  num_test = n - num_train
  out = {}
  for predictor in ec.get("probe_predictors", ["logreg"]):
    kw = {k: (list(v) if isinstance(v, (list, tuple)) else v)
          for k, v in dict(ec.get("probe_kwargs", {}).get(predictor, {})).items()}
    p = lambda codes_, f, names: _probe(codes_, f, names, predictor, ec.seed, num_train,
                                        num_test, kw)
    r = {"common_on_a": p(ca, fa, pair.a.space.names),
         "specific_on_a": p(sa, fa, pair.a.space.names),
         "common_on_b": p(cb, fb, pair.b.space.names),
         "specific_on_b": p(sb, fb, pair.b.space.names)}
    domain = np.concatenate([np.zeros(n, np.int64), np.ones(n, np.int64)])[:, None]
    both = np.concatenate([ca, cb])
    r["domain_from_common"] = _probe(both, domain, ["domain"], predictor, ec.seed,
                                     2 * num_train, 2 * num_test, kw)["domain"]
    a_hue, b_hue = pair.a.space.names[0], pair.b.space.names[0]
    shared = pair.space.names
    r["specific_from_common"] = float(np.mean([r["common_on_a"][a_hue],
                                               r["common_on_b"][b_hue]]))
    r["specific_from_specific"] = float(np.mean([r["specific_on_a"][a_hue],
                                                 r["specific_on_b"][b_hue]]))
    r["shared_from_common"] = float(np.mean(
        [r[k][s] for k in ("common_on_a", "common_on_b") for s in shared]))
    r["shared_from_specific"] = float(np.mean(
        [r[k][s] for k in ("specific_on_a", "specific_on_b") for s in shared]))
    out[predictor] = r
  return out


def evaluate_pair(net, variables, pair, config, outdir: str) -> dict:
  """Translation errors (model and identity), probes and translation.png."""
  ec = config.eval
  num = int(ec.get("translation_samples", 512))
  a, fa = _sample(pair.a, num, ec.seed)
  b, fb = _sample(pair.b, num, ec.seed + 1)
  outputs = translate(net, variables, a, b)
  truths = ground_truth(pair, fa, fb)
  identity = {"a2b": a, "b2a": b, "intersection_a": a, "intersection_b": b, "union": a}
  evaluate.say("didd", f"translation of {num} pairs scored against the rendered ground truth")
  results = {"translation": translation_scores(outputs, truths),
             "translation_identity": translation_scores(identity, truths),
             "domains": {"pair": pair.pair, "description": pair.describe()}}
  k = 8
  rows = [a[:k], b[:k]]
  for key in ("a2b", "b2a", "intersection_a", "union"):
    rows += [outputs[key][:k], truths[key][:k]]
  rows = [np.asarray(r, np.float32) / (255.0 if r.dtype == np.uint8 else 1.0) for r in rows]
  save_grid(np.concatenate(rows), os.path.join(outdir, "translation.png"), rows=len(rows))
  num_probe = int(ec.get("probe_samples", 1500))
  pa, pfa = _sample(pair.a, num_probe, ec.seed + 2)
  pb, pfb = _sample(pair.b, num_probe, ec.seed + 3)
  results["probes"] = probes(net, variables, pair, config, pa, pfa, pb, pfb)
  evaluate.say("didd", "probes done")
  return results
