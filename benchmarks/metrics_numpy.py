"""Plain numpy/scikit-learn implementations of the metric definitions.

The baselines of ``benchmarks/metrics.py``: written the way the reference code
(the authors' repository and disentanglement_lib) computes them, loops and
all, so the timing ratios show what the JAX versions buy. Not part of the
library; the definitions are the same as in ``dtransfer.metrics`` (with the
reference bugs fixed where they would change the number, e.g. FactorVAE's
vote index).
"""

from __future__ import annotations

import random

import numpy as np
import scipy.linalg
import scipy.stats
from sklearn import metrics as skm
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression


# ----------------------------------------------------------------- shared --


def histogram_discretize(x, num_bins=20):
  """dlib: np.digitize against np.histogram edges, per column of x [N, D]."""
  out = np.zeros(x.shape, dtype=np.int64)
  for d in range(x.shape[1]):
    out[:, d] = np.digitize(x[:, d], np.histogram(x[:, d], num_bins)[1][:-1])
  return out


def discrete_mutual_info(a, b):
  """MI [Da, Db] with sklearn.metrics.mutual_info_score, pair by pair."""
  m = np.zeros((a.shape[1], b.shape[1]))
  for i in range(a.shape[1]):
    for j in range(b.shape[1]):
      m[i, j] = skm.mutual_info_score(b[:, j], a[:, i])
  return m


def discrete_entropy(y):
  return np.array([skm.mutual_info_score(y[:, j], y[:, j])
                   for j in range(y.shape[1])])


# ------------------------------------------------------------------- OMES --


def omes_pairs(labels, seed=0):
  """The authors' one_diff_couple: loop over unique rows, mask, shuffle."""
  rnd = random.Random(seed)
  uniq = np.unique(labels, axis=0)
  pairs = []
  for i in range(labels.shape[1]):
    others = [j for j in range(labels.shape[1]) if j != i]
    xs, ys = [], []
    for u in uniq:
      rows = np.flatnonzero(np.all(labels[:, others] == u[others], axis=1))
      _, first = np.unique(labels[rows], axis=0, return_index=True)
      group = rows[first]
      perm = list(range(len(group)))
      rnd.shuffle(perm)
      for a, b in zip(perm[0::2], perm[1::2]):
        if labels[group[a], i] != labels[group[b], i]:
          xs.append(group[a])
          ys.append(group[b])
    pairs.append((np.asarray(xs, np.int64), np.asarray(ys, np.int64)))
  return pairs


def omes_association(codes, pairs):
  """cov_factor: np.corrcoef of [x, y], 1 - |C|, cross-block diagonal, 4 dp."""
  d = codes.shape[1]
  s = np.zeros((d, len(pairs)))
  for k, (i, j) in enumerate(pairs):
    c = np.corrcoef(codes[i], codes[j], rowvar=False)
    c = np.abs(np.where(c > 0, 1 - c, -1 - c))
    s[:, k] = np.diagonal(c[:d, d:])
  return np.round(s, 4)


def omes_score(s, alpha=0.5, pooling="avg"):
  """disentanglement_score: per-dim mean absolute differences, then pooling."""
  d, k = s.shape
  scores = []
  for f in range(k):
    e_k = np.eye(k)[f]
    os_ = np.array([1 - np.mean(np.abs(e_k - s[r])) for r in range(d)])
    me_ = np.array([1 - np.mean(np.abs(np.eye(d)[r] - s[:, f]))
                    for r in range(d)])
    w = s[:, f]
    if pooling == "avg":
      os_k = np.average(os_ * w, weights=w)
      me_k = np.average(me_ * w, weights=w)
    else:
      os_k, me_k = np.max(os_ * w), np.max(me_ * w)
    scores.append(alpha * os_k + (1 - alpha) * me_k)
  return round(float(np.mean(scores)), 4)


def omes(codes, labels, seed=0, pairs=None):
  """Full OMES grid, reference style; returns (grid, S_pruned, pairs)."""
  if pairs is None:
    pairs = omes_pairs(labels, seed)
  s = omes_association(codes, pairs)
  rs = np.random.RandomState(seed)
  std = np.std(codes[rs.choice(len(codes), 10_000)], axis=0, ddof=1)
  s = np.delete(s, np.flatnonzero(std < 0.05), axis=0)
  grid = {p: {a: omes_score(s, a, p) for a in np.round(np.arange(11) / 10, 1)}
          for p in ("avg", "max")}
  return grid, s, pairs


# ---------------------------------------------------------- MIG and kin --


def mig(codes, labels, num_bins=20):
  m = discrete_mutual_info(histogram_discretize(codes, num_bins), labels)
  h = discrete_entropy(labels)
  top = np.sort(m, axis=0)[::-1]
  return float(np.mean((top[0] - top[1]) / h))


def sap_continuous(codes, labels):
  m = np.zeros((codes.shape[1], labels.shape[1]))
  for i in range(codes.shape[1]):
    for j in range(labels.shape[1]):
      c = np.cov(codes[:, i], labels[:, j], ddof=1)
      m[i, j] = c[0, 1] ** 2 / (c[0, 0] * c[1, 1]) if c[0, 0] > 1e-12 else 0.
  top = np.sort(m, axis=0)[::-1]
  return float(np.mean(top[0] - top[1]))


def modularity(codes, labels, num_bins=20):
  m = discrete_mutual_info(histogram_discretize(codes, num_bins), labels)
  sq = np.square(m)
  theta = sq.max(axis=1)
  delta = (sq.sum(axis=1) - theta) / (theta * (sq.shape[1] - 1.0))
  mod = 1.0 - delta
  mod[theta == 0] = 0.0
  return float(np.mean(mod))


def irs(codes, labels, diff_quantile=0.99, num_bins=20):
  ys = histogram_discretize(labels.astype(np.float64), num_bins)
  z = codes[:, codes.var(axis=0) > 0]
  max_dev = np.max(np.abs(z - z.mean(axis=0)), axis=0)
  cum = np.zeros((z.shape[1], ys.shape[1]))
  for i in range(ys.shape[1]):
    values = np.unique(ys[:, i])
    for v in values:
      match = ys[:, i] == v
      e_loc = np.mean(z[match], axis=0)
      cum[:, i] += np.quantile(np.abs(z[match] - e_loc), diff_quantile, axis=0)
    cum[:, i] /= len(values)
  scores = (1.0 - cum / max_dev[:, None]).max(axis=1)
  return float(np.average(scores, weights=max_dev))


def unsupervised(codes, num_bins=20):
  cov = np.cov(codes.T)
  tc = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
  sq = scipy.linalg.sqrtm(cov * np.expand_dims(np.diag(cov), axis=1))
  w = 2 * np.trace(cov) - 2 * np.trace(sq).real
  disc = histogram_discretize(codes, num_bins)
  m = discrete_mutual_info(disc, disc)
  np.fill_diagonal(m, 0)
  d = codes.shape[1]
  return {"gaussian_total_correlation": float(tc),
          "gaussian_wasserstein_correlation": float(w),
          "mutual_info_score": float(m.sum() / (d * d - d))}


# ------------------------------------------- intervention-based, sampled --


def _split(n, seed):
  order = np.random.default_rng(seed).permutation(n)
  cut = int(np.ceil(2 * n / 3))
  return order[:cut], order[cut:]


def beta_vae(codes, labels, seed=0, batch_size=64, num_train=10_000,
             num_eval=5_000):
  """Point by point: k, 64 pairs sharing the value of k, mean |z1 - z2|."""
  rs = np.random.RandomState(seed)
  sets = []
  for rows, n in zip(_split(len(codes), seed), (num_train, num_eval)):
    z, y = codes[rows], labels[rows]
    groups = [{v: np.flatnonzero(y[:, k] == v) for v in np.unique(y[:, k])}
              for k in range(y.shape[1])]
    feats, ks = np.zeros((n, z.shape[1])), np.zeros(n, np.int64)
    for p in range(n):
      k = rs.randint(y.shape[1])
      i = rs.randint(len(z), size=batch_size)
      j = np.array([rs.choice(groups[k][v]) for v in y[i, k]])
      feats[p], ks[p] = np.mean(np.abs(z[i] - z[j]), axis=0), k
    sets.append((feats, ks))
  model = LogisticRegression(random_state=seed).fit(*sets[0])
  return float(model.score(*sets[1]))


def factor_vae(codes, labels, seed=0, batch_size=64, num_train=10_000,
               num_eval=5_000, threshold=0.05):
  """Point by point: k, a value, 64 samples with it, argmin of variance ratio."""
  rs = np.random.RandomState(seed)
  global_var = np.var(codes, axis=0, ddof=1)
  active = np.flatnonzero((np.sqrt(global_var) >= threshold) & (global_var > 0))
  votes = []
  for rows, n in zip(_split(len(codes), seed), (num_train, num_eval)):
    z, y = codes[rows], labels[rows]
    v = np.zeros((y.shape[1], z.shape[1]), np.int64)
    for _ in range(n):
      k = rs.randint(y.shape[1])
      value = y[rs.randint(len(z)), k]
      members = np.flatnonzero(y[:, k] == value)
      batch = z[rs.choice(members, batch_size)]
      local = np.var(batch, axis=0, ddof=1)
      v[k, active[np.argmin(local[active] / global_var[active])]] += 1
    votes.append(v)
  clf = np.argmax(votes[0], axis=0)
  cols = np.arange(votes[0].shape[1])
  return float(votes[1][clf, cols].sum() / votes[1].sum())


# ------------------------------------------------------ classifier-based --


def dci(codes, labels, seed=0, **gbt_kwargs):
  tr, te = _split(len(codes), seed)
  r = np.zeros((codes.shape[1], labels.shape[1]))
  acc = []
  for k in range(labels.shape[1]):
    model = GradientBoostingClassifier(random_state=seed, **gbt_kwargs)
    model.fit(codes[tr], labels[tr, k])
    r[:, k] = np.abs(model.feature_importances_)
    acc.append(np.mean(model.predict(codes[te]) == labels[te, k]))
  per_code = 1.0 - scipy.stats.entropy(r.T + 1e-11, base=r.shape[1])
  return float(np.sum(per_code * r.sum(axis=1) / r.sum())), float(np.mean(acc))


def gbt(codes, labels, seed=0, **gbt_kwargs):
  tr, te = _split(len(codes), seed)
  acc = []
  for k in range(labels.shape[1]):
    model = GradientBoostingClassifier(random_state=seed, **gbt_kwargs)
    model.fit(codes[tr], labels[tr, k])
    acc.append(np.mean(model.predict(codes[te]) == labels[te, k]))
  return float(np.mean(acc))
