"""The FactorVAE score (Kim & Mnih 2018), as disentanglement_lib.

Global variances (ddof 1) standardise the codes; dims with std below
``prune_threshold`` (study default 0.05) are inactive, and so is any dim with
zero variance whatever the threshold (its ratio would be 0/0). Each vote: a
factor k drawn uniformly, ``batch_size`` samples sharing one value of k; the
active dim with the smallest local/global variance ratio votes for k. The
classifier maps each dim to the factor with most training votes; the score is
the fraction of evaluation votes it gets right.

Bug not copied: dlib's argmin indexes the active subset but is used as a
column of the full vote matrix, so with any pruned dim the votes land on the
wrong dims. Here the vote goes to the dim's original index.

Forms: ``factor_vae(codes, labels)``, the authors' fixed-sample protocol
(value from a random sample of the split, 64 samples with replacement having
that value; global variance from the whole sample rather than 10,000 draws
with replacement), and ``factor_vae_from_sampler``, dlib's protocol.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dtransfer.metrics import _checks
from dtransfer.metrics import _sampling
from dtransfer.metrics import _split

_METRIC = "factor_vae"


@jax.jit
def _argmin_dims(batches, global_var, active):
  """Voting dim [P] of each batch [P, B, D] (original dim numbering)."""
  local = jnp.var(batches, axis=1, ddof=1)
  ratio = jnp.where(active, local / jnp.where(active, global_var, 1.0), jnp.inf)
  return jnp.argmin(ratio, axis=1)


@functools.partial(jax.jit, static_argnames=("batch_size",))
def vote_chunk(key, codes, num_rows, index: _sampling.ValueIndex, factor_ids,
               global_var, active, batch_size: int):
  """(factor position [CHUNK], voting dim [CHUNK]) from a fixed sample.

  Rows are drawn among the first num_rows rows of codes (the split's rows,
  zero-padded beyond).
  """
  kf, ks, kb = jax.random.split(key, 3)
  n = _sampling.CHUNK
  which = jax.random.randint(kf, (n,), 0, factor_ids.shape[0])
  k = factor_ids[which]
  v = index.labels[jax.random.randint(ks, (n,), 0, num_rows), k]
  rows = _sampling.draw_same_value(kb, index, k[:, None], v[:, None],
                                   (n, batch_size))
  return which, _argmin_dims(codes[rows], global_var, active)


def vote_matrix(which, dims, num_factors: int, num_dims: int) -> np.ndarray:
  """Votes [K, D] from (factor, dim) pairs."""
  votes = np.zeros((num_factors, num_dims), np.int64)
  np.add.at(votes, (np.asarray(which), np.asarray(dims)), 1)
  return votes


def accuracies(train_votes, eval_votes) -> tuple[float, float]:
  """Majority-vote classifier accuracies (train, eval)."""
  classifier = np.argmax(train_votes, axis=0)
  cols = np.arange(train_votes.shape[1])
  return (float(train_votes[classifier, cols].sum() / train_votes.sum()),
          float(eval_votes[classifier, cols].sum() / eval_votes.sum()))


def _active(global_var, threshold):
  return (np.sqrt(global_var) >= threshold) & (global_var > 0)


def _no_active(warnings, threshold):
  warnings.append(f"no active dims (every std < {threshold} or zero); score 0.")
  return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0,
          "warnings": warnings}


def factor_vae(codes, labels, *, seed: int = 0, batch_size: int = 64,
               num_train: int = 10_000, num_eval: int = 5_000,
               prune_threshold: float = 0.05, split_train: int | None = None,
               split_test: int | None = None, shuffle: bool = True) -> dict:
  """FactorVAE score from a fixed labelled sample (the authors' protocol).

  Args:
    codes: representation sample [N, D].
    labels: integer factor labels [N, K].
    seed: seeds the split and the draws.
    batch_size: samples per vote.
    num_train: training votes (from the training split).
    num_eval: evaluation votes (from the test split).
    prune_threshold: std below which a dim is inactive.
    split_train, split_test, shuffle: the split (default ceil(2/3 N) / rest).

  Returns:
    dict with "train_accuracy", "eval_accuracy", "num_active_dims", "votes"
    (training, [K, D]), "warnings".
  """
  _checks.check_counts(_METRIC, min_batch=2, batch_size=batch_size,
                       num_train=num_train, num_eval=num_eval)
  codes = _checks.check_codes(codes, _METRIC)
  labels = _checks.check_labels(labels, codes.shape[0], _METRIC)
  warnings: list[str] = []
  keep = _checks.informative_factors(labels, _METRIC, warnings)
  global_var = np.var(codes.astype(np.float64), axis=0, ddof=1)
  active = _active(global_var, prune_threshold)
  if not active.any():
    return _no_active(warnings, prune_threshold)
  dense, cards = _checks.encode_labels(labels)
  tr, te = _split.train_test_indices(len(codes), num_train=split_train,
                                     num_test=split_test, seed=seed,
                                     shuffle=shuffle, metric=_METRIC)
  dt = _checks.float_dtype()
  # Dividing by the global std here (float64) instead of by the variance in
  # the vote gives the same ratios without float32 overflow for large codes.
  codes = _checks.centered(codes) / np.sqrt(np.where(global_var > 0, global_var, 1.0))
  fids = jnp.asarray(keep, jnp.int32)
  gv = jnp.ones(global_var.shape, dt)
  act = jnp.asarray(active)
  votes = []
  for key, rows, n in zip(jax.random.split(jax.random.key(seed)), (tr, te),
                          (num_train, num_eval)):
    index = _sampling.value_index(dense[rows], max(cards), size=len(codes))
    z = jnp.asarray(_sampling.pad_rows(codes[rows], len(codes)), dt)
    step = functools.partial(vote_chunk, codes=z, num_rows=len(rows),
                             index=index, factor_ids=fids, global_var=gv,
                             active=act, batch_size=int(batch_size))
    which, dims = _sampling.chunked(step, key, int(n))
    votes.append(vote_matrix(np.asarray(keep)[which], dims, labels.shape[1],
                             codes.shape[1]))
  acc_tr, acc_ev = accuracies(*votes)
  return {"train_accuracy": acc_tr, "eval_accuracy": acc_ev,
          "num_active_dims": int(active.sum()), "votes": votes[0].tolist(),
          "warnings": warnings}


def factor_vae_from_sampler(representation_fn, space, images_fn, *,
                            seed: int = 0, batch_size: int = 64,
                            num_train: int = 10_000, num_eval: int = 5_000,
                            num_variance_estimate: int = 10_000,
                            prune_threshold: float = 0.05,
                            chunk_size: int = 1024) -> dict:
  """FactorVAE score from fresh draws of a factor space (dlib's protocol).

  Args:
    representation_fn: images -> codes [n, D].
    space: dtransfer.data.factor_space.FactorSpace.
    images_fn: factors [n, K] int -> images.
    seed: seeds the factor draws.
    batch_size: samples per vote (all share the drawn factor's value).
    num_train, num_eval: training and evaluation votes.
    num_variance_estimate: samples for the global variances.
    prune_threshold: std below which a dim is inactive.
    chunk_size: images per representation_fn call; does not change results.

  Returns:
    dict with "train_accuracy", "eval_accuracy", "num_active_dims", "votes",
    "warnings".
  """
  _checks.check_counts(_METRIC, min_batch=2, batch_size=batch_size,
                       num_train=num_train, num_eval=num_eval,
                       num_variance_estimate=num_variance_estimate)
  keep, warnings = _sampling.varying_factors(space, _METRIC)
  rng = np.random.default_rng(seed)
  encode = functools.partial(_sampling.encode_factors, representation_fn,
                             images_fn, chunk_size=chunk_size, metric=_METRIC)
  z = encode(space.sample(rng, int(num_variance_estimate)))
  global_var = np.var(z.astype(np.float64), axis=0, ddof=1)
  active = _active(global_var, prune_threshold)
  if not active.any():
    return _no_active(warnings, prune_threshold)
  votes = []
  for n in (int(num_train), int(num_eval)):
    ks = np.asarray(keep)[rng.integers(0, len(keep), size=n)]
    f = space.sample(rng, n * batch_size).reshape(n, batch_size, -1)
    f[np.arange(n)[:, None], np.arange(batch_size)[None, :], ks[:, None]] = (
        f[np.arange(n), 0, ks][:, None])
    zb = encode(f.reshape(n * batch_size, -1)).reshape(n, batch_size, -1)
    zb = zb - z.astype(np.float64).mean(axis=0)  # centre: float32-safe
    dims = _argmin_dims(jnp.asarray(zb, _checks.float_dtype()),
                        jnp.asarray(global_var, _checks.float_dtype()),
                        jnp.asarray(active))
    votes.append(vote_matrix(ks, dims, space.num_factors, z.shape[1]))
  acc_tr, acc_ev = accuracies(*votes)
  return {"train_accuracy": acc_tr, "eval_accuracy": acc_ev,
          "num_active_dims": int(active.sum()), "votes": votes[0].tolist(),
          "warnings": warnings}
