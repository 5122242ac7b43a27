"""The BetaVAE score (Higgins et al. 2017), as disentanglement_lib.

Each point: a factor k drawn uniformly; ``batch_size`` pairs of samples that
share the value of k (everything else independent); feature = mean over the
pairs of |z1 - z2| per dim; label = k. A ``LogisticRegression`` (sklearn
defaults, seeded) is fit on ``num_train`` points and scored on ``num_eval``
points. Score = evaluation accuracy.

Two forms:
- ``beta_vae(codes, labels)``: the authors' fixed-sample form. Training points
  come from the training split, evaluation points from the test split; a pair
  is (a random sample i, a random sample j with the same value of k as i;
  i == j allowed).
- ``beta_vae_from_sampler(representation_fn, space, images_fn)``: dlib's form,
  drawing fresh factor rows and images.
Feature computation is jitted JAX; single-valued factors are never drawn.
"""

from __future__ import annotations

import functools
import warnings as _warnings

import jax
import jax.numpy as jnp
import numpy as np

from dtransfer.metrics import _checks
from dtransfer.metrics import _sampling
from dtransfer.metrics import _split

_METRIC = "beta_vae"


@functools.partial(jax.jit, static_argnames=("batch_size",))
def feature_chunk(key, codes, num_rows, index: _sampling.ValueIndex,
                  factor_ids, batch_size: int):
  """Features [CHUNK, D] and labels (positions in factor_ids) of CHUNK points.

  Rows are drawn among the first num_rows rows of codes (the split's rows,
  zero-padded beyond).
  """
  kf, ki, kj = jax.random.split(key, 3)
  n = _sampling.CHUNK
  which = jax.random.randint(kf, (n,), 0, factor_ids.shape[0])
  k = factor_ids[which][:, None]
  i = jax.random.randint(ki, (n, batch_size), 0, num_rows)
  j = _sampling.draw_same_value(kj, index, k, index.labels[i, k],
                                (n, batch_size))
  return jnp.mean(jnp.abs(codes[i] - codes[j]), axis=1), which


@jax.jit
def pair_features(z1, z2):
  """Mean |z1 - z2| over the pair axis: [P, B, D] x 2 -> [P, D]."""
  return jnp.mean(jnp.abs(z1 - z2), axis=1)


def _fit_score(x_train, y_train, x_eval, y_eval, seed, warnings):
  """Train and evaluation accuracy of the seeded logistic regression."""
  classes = np.unique(y_train)
  if classes.size == 1:  # one factor drawn: the classification is trivial.
    warnings.append("only one factor was drawn; the score is trivially the "
                    "rate of that factor among the evaluation points.")
    return 1.0, float(np.mean(y_eval == classes[0]))
  from sklearn.exceptions import ConvergenceWarning  # pylint: disable=g-import-not-at-top
  from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top
  with _warnings.catch_warnings(record=True) as caught:
    _warnings.simplefilter("always", ConvergenceWarning)
    model = LogisticRegression(random_state=seed).fit(x_train, y_train)
  if any(issubclass(c.category, ConvergenceWarning) for c in caught):
    warnings.append("LogisticRegression (sklearn defaults, max_iter=100) did "
                    "not converge, as in disentanglement_lib.")
  return (float(np.mean(model.predict(x_train) == y_train)),
          float(np.mean(model.predict(x_eval) == y_eval)))


def beta_vae(codes, labels, *, seed: int = 0, batch_size: int = 64,
             num_train: int = 10_000, num_eval: int = 5_000,
             split_train: int | None = None, split_test: int | None = None,
             shuffle: bool = True) -> dict:
  """BetaVAE score from a fixed labelled sample (the authors' protocol).

  Args:
    codes: representation sample [N, D].
    labels: integer factor labels [N, K].
    seed: seeds the split, the draws and the classifier.
    batch_size: pairs averaged per point.
    num_train: training points (drawn from the training split).
    num_eval: evaluation points (drawn from the test split).
    split_train, split_test, shuffle: the split (default ceil(2/3 N) / rest).

  Returns:
    dict with "train_accuracy", "eval_accuracy", "warnings".
  """
  _checks.check_counts(_METRIC, batch_size=batch_size, num_train=num_train,
                       num_eval=num_eval)
  codes = _checks.check_codes(codes, _METRIC)
  labels = _checks.check_labels(labels, codes.shape[0], _METRIC)
  warnings: list[str] = []
  _checks.scale_warning(codes, _METRIC, warnings)  # a regularised logistic regression
  keep = _checks.informative_factors(labels, _METRIC, warnings)
  dense, cards = _checks.encode_labels(labels)
  tr, te = _split.train_test_indices(len(codes), num_train=split_train,
                                     num_test=split_test, seed=seed,
                                     shuffle=shuffle, metric=_METRIC)
  fids = jnp.asarray(keep, jnp.int32)
  dt = _checks.float_dtype()
  codes = _checks.centered(codes)
  k_train, k_eval = jax.random.split(jax.random.key(seed))
  out = []
  for key, rows, n in ((k_train, tr, num_train), (k_eval, te, num_eval)):
    index = _sampling.value_index(dense[rows], max(cards), size=len(codes))
    z = jnp.asarray(_sampling.pad_rows(codes[rows], len(codes)), dt)
    step = functools.partial(feature_chunk, codes=z, num_rows=len(rows),
                             index=index, factor_ids=fids,
                             batch_size=int(batch_size))
    feats, which = _sampling.chunked(step, key, int(n))
    out.append((feats.astype(np.float64), which))
  acc_tr, acc_ev = _fit_score(*out[0], *out[1], seed, warnings)
  return {"train_accuracy": acc_tr, "eval_accuracy": acc_ev,
          "warnings": warnings}


def _draw_points(space, keep, num_points, batch_size, rng):
  which = rng.integers(0, len(keep), size=num_points)
  ks = np.asarray(keep)[which]
  f1 = space.sample(rng, num_points * batch_size)
  f2 = space.sample(rng, num_points * batch_size)
  rows = np.arange(num_points * batch_size)
  kk = np.repeat(ks, batch_size)
  f2[rows, kk] = f1[rows, kk]
  return f1, f2, which


def beta_vae_from_sampler(representation_fn, space, images_fn, *,
                          seed: int = 0, batch_size: int = 64,
                          num_train: int = 10_000, num_eval: int = 5_000,
                          chunk_size: int = 1024) -> dict:
  """BetaVAE score from fresh draws of a factor space (dlib's protocol).

  Args:
    representation_fn: images -> codes [n, D].
    space: dtransfer.data.factor_space.FactorSpace.
    images_fn: factors [n, K] int -> images.
    seed: seeds the factor draws and the classifier.
    batch_size: pairs averaged per point.
    num_train, num_eval: training and evaluation points.
    chunk_size: images per representation_fn call; does not change results.

  Returns:
    dict with "train_accuracy", "eval_accuracy", "warnings".
  """
  _checks.check_counts(_METRIC, batch_size=batch_size, num_train=num_train,
                       num_eval=num_eval)
  keep, warnings = _sampling.varying_factors(space, _METRIC)
  rng = np.random.default_rng(seed)
  sets = []
  for n in (num_train, num_eval):
    f1, f2, which = _draw_points(space, keep, int(n), int(batch_size), rng)
    z1 = _sampling.encode_factors(representation_fn, images_fn, f1,
                                  chunk_size=chunk_size, metric=_METRIC)
    z2 = _sampling.encode_factors(representation_fn, images_fn, f2,
                                  chunk_size=chunk_size, metric=_METRIC)
    shape = (int(n), int(batch_size), z1.shape[1])
    mean = z1.astype(np.float64).mean(axis=0)  # centre: float32-safe
    dt = _checks.float_dtype()
    feats = pair_features(jnp.asarray((z1 - mean).reshape(shape), dt),
                          jnp.asarray((z2 - mean).reshape(shape), dt))
    sets.append((np.asarray(feats, np.float64), which))
  acc_tr, acc_ev = _fit_score(*sets[0], *sets[1], seed, warnings)
  return {"train_accuracy": acc_tr, "eval_accuracy": acc_ev,
          "warnings": warnings}
