"""OMES: Overlap Multiple Encoding Scores (Dapueto, Noceti and Odone, 2024).

From intervention pairs (two samples that differ in exactly one factor k) the
association matrix is S[d, k] = 1 - |Pearson corr over the pairs of latent d|:
S ~ 1 when intervening on k de-correlates d (d encodes k), S ~ 0 when d is
unaffected. Per factor, with w = S[:, k] and K factors, D' active dims:

  os[d, k] = 1 - (sum_j S[d, j] - 2 S[d, k] + 1) / K     (overlap, modularity)
  me[d, k] = 1 - (sum_d' S[d', k] - 2 S[d, k] + 1) / D'  (multiple encoding)
  avg pooling: OS_k = sum_d os[d, k] w_d^2 / sum_d w_d   (w counted twice, as
               the authors' np.average(os * w, weights=w) does)
  max pooling: OS_k = max_d os[d, k] w_d                 (MES_k likewise)
  score_k(alpha) = alpha OS_k + (1 - alpha) MES_k;  OMES = mean_k score_k.

These closed forms equal the authors' mean-absolute-difference definitions
because S lies in [0, 1].

Two modes:
- ``reference=True`` reproduces the authors' numbers given the same pairs: S
  rounded to 4 decimals before scoring, OMES rounded to 4 decimals, their group
  re-pairing (sum_g n_g floor(n_g / 2) pairs per factor, seeded here instead of
  an OS-seeded ``random`` in a process pool), inactive dims from the std of
  10,000 rows drawn with replacement, at most 100,000 pairs per factor. Where
  their code yields NaN (a dim constant within a factor's pairs) or raises (an
  all-zero S column under avg pooling) this raises a ValueError saying so.
- default: no rounding; a NaN correlation (a constant dim) counts as S = 0 (the
  dim does not change); an all-zero S column scores 0 and gets no associated
  dim; inactive dims from the std of the whole sample; pairs from the
  "partner" construction (see ``intervention_pair_indices``).

Single-valued factors, and factors with fewer than two pairs, are excluded
(their per-factor entries are None, their S column is 0, and the result's
"warnings" say so); the mean over factors runs over the others.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from dtransfer.metrics import _checks
from dtransfer.metrics import _sampling

ALPHAS = tuple(round(0.1 * i, 1) for i in range(11))
POOLINGS = ("avg", "max")
REFERENCE_MAX_PAIRS = 100_000
REFERENCE_STD_DRAWS = 10_000
_METRIC = "omes"


# --------------------------------------------------------------------------
# Intervention pairs from a fixed labelled sample.
# --------------------------------------------------------------------------


def _group_key(dense: np.ndarray, cards: Sequence[int], k: int) -> np.ndarray:
  """One int64 key per row for 'all factors except k' (mixed radix)."""
  others = [j for j in range(dense.shape[1]) if j != k]
  if not others:
    return np.zeros(dense.shape[0], dtype=np.int64)
  if np.prod([float(cards[j]) for j in others]) < 2.0**62:
    key = np.zeros(dense.shape[0], dtype=np.int64)
    for j in others:
      key = key * cards[j] + dense[:, j]
    return key
  _, inv = np.unique(dense[:, others], axis=0, return_inverse=True)
  return inv.reshape(-1).astype(np.int64)


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Start and length of each run of equal values in a sorted array."""
  if sorted_keys.size == 0:
    return np.zeros(0, np.int64), np.zeros(0, np.int64)
  starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
  return starts, np.diff(np.r_[starts, sorted_keys.size])


def _authors_pairs(dense, cards, rng) -> list[tuple[np.ndarray, np.ndarray]]:
  """The authors' construction (``one_diff_couple``), vectorised.

  Label rows are de-duplicated (first occurrence of each row kept, rows sorted
  by label). For factor k, a group is the set of distinct rows that agree on
  every other factor; the authors visit each group once per member, and each
  visit shuffles the group and pairs positions (0, 1), (2, 3), ... So a group
  of n rows yields n * floor(n / 2) pairs.
  """
  uniq, first = np.unique(dense, axis=0, return_index=True)
  out = []
  for k in range(dense.shape[1]):
    gid = _group_key(uniq, cards, k)
    order = np.argsort(gid, kind="stable")
    starts, sizes = _runs(gid[order])
    keep = sizes >= 2
    starts, sizes = starts[keep], sizes[keep]
    xs, ys = [], []
    # Chunks of groups bound the memory of the sum_g n_g^2 visit elements.
    cost = np.cumsum(sizes.astype(np.int64) ** 2)
    chunk_id = cost // (1 << 22)
    for c in np.unique(chunk_id):
      sel = chunk_id == c
      g_start, g_size = starts[sel], sizes[sel]
      visit_start = np.repeat(g_start, g_size)
      visit_size = np.repeat(g_size, g_size)
      elem_visit = np.repeat(np.arange(visit_size.size), visit_size)
      offsets = np.cumsum(visit_size) - visit_size
      pos = np.arange(elem_visit.size) - offsets[elem_visit]
      perm = np.lexsort((rng.random(elem_visit.size), elem_visit))
      member = order[visit_start[elem_visit] + pos[perm]]
      left = np.flatnonzero((pos % 2 == 0) & (pos + 1 < visit_size[elem_visit]))
      xs.append(first[member[left]])
      ys.append(first[member[left + 1]])
    cat = lambda a: (np.concatenate(a) if a else np.zeros(0, np.int64))
    out.append((cat(xs).astype(np.int64), cat(ys).astype(np.int64)))
  return out


def _partner_pairs(dense, cards, rng) -> list[tuple[np.ndarray, np.ndarray]]:
  """Default construction: every sample draws one partner.

  For factor k, each sample i is paired with one sample drawn uniformly (seeded)
  among those that agree with i on every other factor and differ in factor k.
  Every sample with such a partner appears once as x; all samples are used
  (no de-duplication), no group is over-weighted quadratically, and the cost is
  O(N log N).
  """
  n = dense.shape[0]
  out = []
  for k in range(dense.shape[1]):
    gid = _group_key(dense, cards, k)
    val = dense[:, k]
    order = np.lexsort((val, gid))
    g_sorted, v_sorted = gid[order], val[order]
    g_starts, g_sizes = _runs(g_sorted)
    g_of = np.repeat(np.arange(g_starts.size), g_sizes)
    block_key = np.r_[True, (g_sorted[1:] != g_sorted[:-1]) |
                      (v_sorted[1:] != v_sorted[:-1])]
    b_starts = np.flatnonzero(block_key)
    b_sizes = np.diff(np.r_[b_starts, n])
    b_of = np.repeat(np.arange(b_starts.size), b_sizes)
    gstart, gsize = g_starts[g_of], g_sizes[g_of]
    bstart, bsize = b_starts[b_of], b_sizes[b_of]
    others = gsize - bsize
    r = np.floor(rng.random(n) * others).astype(np.int64)
    rel = bstart - gstart
    pos = gstart + np.where(r < rel, r, r + bsize)
    has = others > 0
    out.append((order[has].astype(np.int64), order[pos[has]].astype(np.int64)))
  return out


def intervention_pair_indices(labels, *, seed: int = 0,
                              reference: bool = False,
                              method: str | None = None
                              ) -> list[tuple[np.ndarray, np.ndarray]]:
  """Row indices (i, j) of intervention pairs, one tuple per factor.

  Rows i[p] and j[p] agree on every factor except k and differ in factor k.

  Args:
    labels: integer factor labels [N, K].
    seed: seed of the pairing.
    reference: selects method "authors" when method is None.
    method: "authors" (group re-pairing, sum_g n_g floor(n_g / 2) pairs per
      factor, on de-duplicated label rows) or "partner" (each sample draws one
      partner; the default).

  Returns:
    A list of K tuples of int64 index arrays [P_k].
  """
  labels = _checks.check_labels(labels, np.asarray(labels).shape[0], _METRIC)
  method = method or ("authors" if reference else "partner")
  dense, cards = _checks.encode_labels(labels)
  rng = np.random.default_rng(seed)
  if method == "authors":
    return _authors_pairs(dense, cards, rng)
  if method == "partner":
    return _partner_pairs(dense, cards, rng)
  raise ValueError(f"omes: unknown pairing method {method!r}; choose "
                   "'authors' or 'partner'.")


def intervention_pairs(codes, labels, *, seed: int = 0, reference: bool = False,
                       method: str | None = None
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
  """Intervention pairs of codes, one (x [P_k, D], y [P_k, D]) per factor.

  Pairs are found by grouping a fixed labelled sample, as the authors do; see
  ``intervention_pair_indices`` for the two constructions.
  """
  codes = _checks.check_codes(codes, _METRIC)
  labels = _checks.check_labels(labels, codes.shape[0], _METRIC)
  idx = intervention_pair_indices(labels, seed=seed, reference=reference,
                                  method=method)
  return [(codes[i], codes[j]) for i, j in idx]


# --------------------------------------------------------------------------
# Association matrix.
# --------------------------------------------------------------------------


def _weighted_s(x, y, w, reference: bool):
  """S column [D] from pairs x, y [P, D] with pair weights w [P]."""
  n = jnp.maximum(w.sum(), 1.0)
  wc = w[:, None]
  cx = x - (wc * x).sum(0) / n
  cy = y - (wc * y).sum(0) / n
  sxy = (wc * cx * cy).sum(0)
  sxx = (wc * cx * cx).sum(0)
  syy = (wc * cy * cy).sum(0)
  denom = jnp.sqrt(sxx * syy)
  corr = jnp.clip(sxy / denom, -1.0, 1.0)
  s = 1.0 - jnp.abs(corr)
  if reference:
    return jnp.round(s, 4)  # NaN for a constant dim, as np.corrcoef gives.
  return jnp.where(denom > 0, s, 0.0)


@functools.partial(jax.jit, static_argnames=("reference",))
def association_matrix(x, y, *, reference: bool = False):
  """S column [D] of one factor from its pairs x, y [P, D].

  S[d] = 1 - |corr(x[:, d], y[:, d])|. Default mode maps an undefined
  correlation (a constant dim) to S = 0; reference mode rounds to 4 decimals
  and leaves NaN there, as the authors' code does.
  """
  x = jnp.asarray(x, _checks.float_dtype())
  y = jnp.asarray(y, _checks.float_dtype())
  return _weighted_s(x, y, jnp.ones(x.shape[0], x.dtype), reference)


@functools.partial(jax.jit, static_argnames=("reference",))
def association_matrix_batched(x, y, *, reference: bool = False):
  """S [D, K] from equal-size pair stacks x, y [K, P, D] (vmapped over K)."""
  x = jnp.asarray(x, _checks.float_dtype())
  y = jnp.asarray(y, _checks.float_dtype())
  w = jnp.ones(x.shape[:2], x.dtype)
  return jax.vmap(_weighted_s, in_axes=(0, 0, 0, None))(x, y, w, reference).T


def _bucket(n: int) -> int:
  """Pads pair counts to a power of two so repeated calls reuse compilations."""
  return max(2, 1 << (max(n, 1) - 1).bit_length())


def association_matrix_ragged(pairs: Sequence[tuple], *,
                              reference: bool = False):
  """S [D, K] from per-factor pair lists of different lengths.

  Args:
    pairs: K tuples (x [P_k, D], y [P_k, D]).
    reference: authors' rounding and NaN behaviour.

  Returns:
    jax array [D, K]. All pairs are concatenated (length padded to a power of
    two with zero-weight rows) and reduced per factor with segment sums, so
    this is one jitted computation whatever the P_k.
  """
  if not pairs:
    raise ValueError("omes: association_matrix_ragged needs at least one factor.")
  xs, ys = [np.asarray(x) for x, _ in pairs], [np.asarray(y) for _, y in pairs]
  d = xs[0].shape[1] if xs[0].ndim == 2 else -1
  for k, (x, y) in enumerate(zip(xs, ys)):
    if x.shape != y.shape or x.ndim != 2 or x.shape[1] != d:
      raise ValueError(f"omes: pairs of factor {k} have shapes {x.shape} and "
                       f"{y.shape}; expected two equal [P, {d}] arrays.")
  sizes = [len(x) for x in xs]
  total = _bucket(sum(sizes))
  dt = _checks.float_dtype()
  seg = np.zeros(total, np.int32)
  seg[:sum(sizes)] = np.repeat(np.arange(len(xs)), sizes)
  w = np.zeros(total, dt)
  w[:sum(sizes)] = 1.0
  pad = ((0, total - sum(sizes)), (0, 0))
  x = np.pad(np.concatenate(xs).astype(dt, copy=False), pad)
  y = np.pad(np.concatenate(ys).astype(dt, copy=False), pad)
  return _segment_s(jnp.asarray(x), jnp.asarray(y), jnp.asarray(w),
                    jnp.asarray(seg), len(xs), reference)


@functools.partial(jax.jit, static_argnames=("num_segments", "reference"))
def _segment_s(x, y, w, seg, num_segments: int, reference: bool):
  """S [D, K] of concatenated pairs with factor ids seg and weights w."""
  ssum = functools.partial(jax.ops.segment_sum, segment_ids=seg,
                           num_segments=num_segments)
  wc = w[:, None]
  n = jnp.maximum(ssum(w), 1.0)[:, None]
  cx = x - (ssum(wc * x) / n)[seg]
  cy = y - (ssum(wc * y) / n)[seg]
  sxy, sxx, syy = ssum(wc * cx * cy), ssum(wc * cx * cx), ssum(wc * cy * cy)
  denom = jnp.sqrt(sxx * syy)
  s = 1.0 - jnp.abs(jnp.clip(sxy / denom, -1.0, 1.0))
  s = jnp.round(s, 4) if reference else jnp.where(denom > 0, s, 0.0)
  return s.T


@functools.partial(jax.jit, static_argnames=("reference",))
def _s_from_indices(codes, ii, jj, w, reference):
  """S [D, K] from padded index arrays ii, jj, weights w [K, P] into codes."""
  def one(i, j, wk):
    return _weighted_s(codes[i], codes[j], wk, reference)
  return jax.vmap(one)(ii, jj, w).T


# --------------------------------------------------------------------------
# Scoring an association matrix.
# --------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("pooling",))
def factor_scores(s, pooling: str = "avg"):
  """Per-factor (OS [K], MES [K]) of S [D, K] (jittable, vmappable).

  An all-zero column scores 0 under avg pooling (default-mode rule).
  """
  d, k = s.shape
  os_m = 1.0 - (s.sum(axis=1, keepdims=True) - 2.0 * s + 1.0) / k
  me_m = 1.0 - (s.sum(axis=0, keepdims=True) - 2.0 * s + 1.0) / d
  if pooling == "avg":
    wsum = s.sum(axis=0)
    safe = jnp.where(wsum > 0, wsum, 1.0)
    os_k = jnp.where(wsum > 0, (os_m * s * s).sum(axis=0) / safe, 0.0)
    me_k = jnp.where(wsum > 0, (me_m * s * s).sum(axis=0) / safe, 0.0)
  elif pooling == "max":
    os_k = (os_m * s).max(axis=0)
    me_k = (me_m * s).max(axis=0)
  else:
    raise ValueError(f"omes: pooling must be one of {POOLINGS}, got {pooling!r}.")
  return os_k, me_k


@jax.jit
def overlap_matrix(s):
  """Unweighted os[d, k] [D, K]: the score the dim association maximises."""
  return 1.0 - (s.sum(axis=1, keepdims=True) - 2.0 * s + 1.0) / s.shape[1]


def _check_s(s, reference: bool, pooling: str | None = None) -> np.ndarray:
  s = np.asarray(s, dtype=np.float64)
  if s.ndim != 2 or s.shape[0] < 1 or s.shape[1] < 1:
    raise ValueError(f"omes: S must be a non-empty matrix [D, K], got shape "
                     f"{s.shape}.")
  if np.isnan(s).any():
    raise ValueError(
        "omes: S contains NaN (a latent dim constant within a factor's pairs). "
        "The authors' code turns every factor's score into NaN here; use "
        "reference=False, which counts an undefined correlation as S = 0, or "
        "raise prune_threshold so the dim is pruned as inactive.")
  if (s < -1e-6).any() or (s > 1 + 1e-6).any():
    raise ValueError(f"omes: S must lie in [0, 1], got values in "
                     f"[{s.min()}, {s.max()}].")
  if reference and pooling == "avg" and (s.sum(axis=0) == 0).any():
    cols = np.flatnonzero(s.sum(axis=0) == 0).tolist()
    raise ValueError(
        f"omes: S columns {cols} are all zero (no active dim reacts to those "
        "factors); with avg pooling the authors' code raises ZeroDivisionError "
        "('Weights sum to zero'). Use reference=False (such a factor scores 0) "
        "or pooling='max'.")
  return np.clip(s, 0.0, 1.0)


def _check_alpha_pooling(alpha, pooling):
  _checks.check_fraction(alpha, "alpha", _METRIC)
  if pooling not in POOLINGS:
    raise ValueError(f"omes: pooling must be one of {POOLINGS}, got {pooling!r}.")


def score_matrix(s, *, alpha: float = 0.5, pooling: str = "avg",
                 reference: bool = False) -> dict:
  """Scores an association matrix S [D, K] (rows: active dims; cols: factors).

  Returns:
    dict with "omes" (float; rounded to 4 decimals in reference mode), and per
    factor "os", "mes" and "score" (= alpha OS + (1 - alpha) MES), plus the
    "alpha" and "pooling" used.
  """
  _check_alpha_pooling(alpha, pooling)
  s = _check_s(s, reference, pooling)
  os_k, me_k = factor_scores(jnp.asarray(s, _checks.float_dtype()), pooling)
  os_k, me_k = np.asarray(os_k, np.float64), np.asarray(me_k, np.float64)
  score = alpha * os_k + (1.0 - alpha) * me_k
  value = float(score.mean())
  return {"omes": round(value, 4) if reference else value,
          "os": os_k.tolist(), "mes": me_k.tolist(), "score": score.tolist(),
          "alpha": float(alpha), "pooling": pooling}


def score_grid(s, *, reference: bool = False) -> dict:
  """{pooling: {alpha: OMES}} for alpha in 0.0, 0.1, ..., 1.0 and both poolings."""
  grid = {}
  for pooling in POOLINGS:
    s_checked = _check_s(s, reference, pooling)
    os_k, me_k = factor_scores(jnp.asarray(s_checked, _checks.float_dtype()),
                               pooling)
    os_k, me_k = np.asarray(os_k, np.float64), np.asarray(me_k, np.float64)
    grid[pooling] = {}
    for a in ALPHAS:
      v = float((a * os_k + (1 - a) * me_k).mean())
      grid[pooling][a] = round(v, 4) if reference else v
  return grid


def associate(s, *, reference: bool = False) -> list[int | None]:
  """Dim chosen for each factor: argmax_d os[d, k] (None if os ~ 0).

  Indices count the rows of S. Default mode also gives None to a factor whose
  S column is all zero (no dim reacts to it), where the authors would pick an
  unrelated dim.
  """
  s = _check_s(s, reference)
  os_m = np.asarray(overlap_matrix(jnp.asarray(s, _checks.float_dtype())))
  best = np.argmax(os_m, axis=0)
  out = []
  for k, d in enumerate(best):
    none = np.isclose(os_m[d, k], 0.0)
    if not reference:
      none = none or not (s[:, k] > 0).any()
    out.append(None if none else int(d))
  return out


# --------------------------------------------------------------------------
# Full metric.
# --------------------------------------------------------------------------


def _active_dims(codes, threshold, reference, rng) -> np.ndarray:
  if reference:
    rows = rng.integers(0, codes.shape[0], size=REFERENCE_STD_DRAWS)
    sample = codes[rows]
  else:
    sample = codes
  std = np.asarray(jnp.std(jnp.asarray(sample), axis=0, ddof=1))
  return std >= threshold


def _bootstrap(codes_j, ii, jj, counts, active_idx, *, num, seed, alpha,
               pooling, reference):
  """OMES, OS and MES of `num` resamplings (with replacement) of the pairs."""
  keys = jax.random.split(jax.random.key(seed), num)
  return _bootstrap_jit(codes_j, ii, jj, jnp.asarray(counts), active_idx, keys,
                        float(alpha), pooling, reference)


@functools.partial(jax.jit, static_argnames=("pooling", "reference"))
def _bootstrap_jit(codes, ii, jj, counts, active_idx, keys, alpha, pooling,
                   reference):
  num_f, p = ii.shape

  def one(key):
    fkeys = jax.random.split(key, num_f)

    def weights(fkey, n):
      draws = jax.random.randint(fkey, (p,), 0, jnp.maximum(n, 1))
      valid = (jnp.arange(p) < n).astype(codes.dtype)
      return jnp.zeros(p, codes.dtype).at[draws].add(valid)

    w = jax.vmap(weights)(fkeys, counts)
    s = jax.vmap(lambda i, j, wk: _weighted_s(codes[i], codes[j], wk,
                                              reference))(ii, jj, w).T
    s = jnp.nan_to_num(s[active_idx], nan=0.0)
    os_k, me_k = factor_scores(s, pooling)
    return (alpha * os_k + (1 - alpha) * me_k).mean(), os_k, me_k

  return jax.lax.map(one, keys, batch_size=16)


def _interval(values, confidence):
  lo = (1.0 - confidence) / 2
  q = np.quantile(np.asarray(values, np.float64), [lo, 1.0 - lo], axis=0)
  return q


def _score_pairs(codes: np.ndarray, pair_idx: list, keep: list[int],
                 num_factors: int, *, alpha, pooling, reference, threshold, rng,
                 bootstrap, confidence, seed, warnings, max_pairs) -> dict:
  """Shared back end of ``omes`` and ``omes_from_sampler``."""
  d = codes.shape[1]
  # Factors with too few pairs cannot have a correlation.
  scored, idx = [], []
  num_pairs = [0] * num_factors
  for k, (i, j) in zip(keep, pair_idx):
    if max_pairs is not None and len(i) > max_pairs:
      sel = rng.choice(len(i), size=max_pairs, replace=False)
      i, j = i[sel], j[sel]
    num_pairs[k] = int(len(i))
    if len(i) < 2:
      warnings.append(f"factor {k} has {len(i)} intervention pairs in this "
                      "sample (no two samples differ in it alone); it is "
                      "excluded from the score and its entries are None.")
      continue
    scored.append(k)
    idx.append((i, j))
  if not scored:
    raise ValueError(
        "omes: no factor has at least two intervention pairs (pairs of samples "
        "that differ in that factor only). Use a larger sample, a full factor "
        "grid, or omes_from_sampler, which draws the pairs.")
  p = _bucket(max(len(i) for i, _ in idx))
  ii = np.zeros((len(idx), p), np.int32)
  jj = np.zeros((len(idx), p), np.int32)
  w = np.zeros((len(idx), p), _checks.float_dtype())
  for r, (i, j) in enumerate(idx):
    ii[r, :len(i)], jj[r, :len(j)], w[r, :len(i)] = i, j, 1.0
  # S is made of correlations, unchanged by a per-dim rescaling: z-scores keep
  # codes of any scale (1e-30, 1e30) inside float32's range and precision.
  codes_j = jnp.asarray(_checks.standardized(codes), _checks.float_dtype())
  s_sc = np.asarray(_s_from_indices(codes_j, jnp.asarray(ii), jnp.asarray(jj),
                                    jnp.asarray(w), reference), np.float64)
  if reference:  # exact 4-decimal values in float64, as the authors store S
    s_sc = np.round(s_sc, 4)
  active = _active_dims(codes, threshold, reference, rng)
  s_full = np.zeros((d, num_factors))
  s_full[:, scored] = s_sc
  result = {
      "S": s_full, "active": active,
      "inactive": np.flatnonzero(~active).tolist(),
      "num_pairs": num_pairs, "alpha": float(alpha), "pooling": pooling,
      "reference": bool(reference),
      "excluded_factors": [k for k in range(num_factors) if k not in scored],
  }
  none_k = [None] * num_factors
  if not active.any():
    if reference:
      raise ValueError(
          f"omes: every latent dim is inactive (std < {threshold}); the authors' "
          "code fails here. Use reference=False (OMES = 0) or lower "
          "prune_threshold.")
    warnings.append(f"every latent dim is inactive (std < {threshold}); OMES "
                    "is 0 and no factor has an associated dim.")
    result.update(omes=0.0, S_pruned=np.zeros((0, num_factors)),
                  association=none_k, os=none_k, mes=none_k, score=none_k,
                  grid={pl: {a: 0.0 for a in ALPHAS} for pl in POOLINGS},
                  warnings=warnings)
    return result
  s_pruned = s_sc[active]
  scores = score_matrix(s_pruned, alpha=alpha, pooling=pooling,
                        reference=reference)
  assoc_active = associate(s_pruned, reference=reference)
  active_idx = np.flatnonzero(active)
  assoc = [None if a is None else int(active_idx[a]) for a in assoc_active]
  s_pruned_full = np.zeros((int(active.sum()), num_factors))
  s_pruned_full[:, scored] = s_pruned
  result.update(
      omes=scores["omes"], S_pruned=s_pruned_full,
      association=_checks.per_factor(assoc, scored, num_factors),
      os=_checks.per_factor(scores["os"], scored, num_factors),
      mes=_checks.per_factor(scores["mes"], scored, num_factors),
      score=_checks.per_factor(scores["score"], scored, num_factors),
      grid=score_grid(s_pruned, reference=reference))
  if bootstrap:
    counts = np.asarray([len(i) for i, _ in idx], np.int32)
    vals, os_b, me_b = _bootstrap(
        codes_j, jnp.asarray(ii), jnp.asarray(jj), counts,
        jnp.asarray(active_idx), num=int(bootstrap), seed=seed, alpha=alpha,
        pooling=pooling, reference=reference)
    os_ci, me_ci = _interval(os_b, confidence), _interval(me_b, confidence)
    result["bootstrap"] = {
        "num_resamples": int(bootstrap), "confidence": float(confidence),
        "omes": _interval(vals, confidence).tolist(),
        "omes_std": float(np.std(np.asarray(vals), ddof=1)),
        "os": _checks.per_factor(list(os_ci.T), scored, num_factors),
        "mes": _checks.per_factor(list(me_ci.T), scored, num_factors),
    }
  result["warnings"] = warnings
  return result


def omes(codes, labels, *, alpha: float = 0.5, pooling: str = "avg",
         reference: bool = False, seed: int = 0, prune_threshold: float = 0.05,
         max_pairs: int | None = REFERENCE_MAX_PAIRS, method: str | None = None,
         bootstrap: int = 0, confidence: float = 0.95) -> dict:
  """OMES of codes [N, D] with integer factor labels [N, K].

  Args:
    codes: representation sample (e.g. the encoder means), [N, D].
    labels: integer factor labels [N, K].
    alpha: weight of OS (1: pure overlap/modularity; 0: pure MES/compactness).
    pooling: "avg" (S-weighted average over dims) or "max".
    reference: reproduce the authors' numbers (see the module docstring).
    seed: seeds the pairing, the pair subsample and (reference) the std draw.
    prune_threshold: dims whose std is below this are inactive and pruned.
    max_pairs: at most this many pairs per factor (seeded subsample); None for
      all.
    method: pair construction, "authors" or "partner" (default: "authors" in
      reference mode, else "partner").
    bootstrap: number of bootstrap resamplings of the pairs (0: none).
    confidence: level of the bootstrap percentile intervals.

  Returns:
    dict with "omes" (at alpha/pooling), "S" [D, K] before pruning, "S_pruned"
    [D', K], "active" bool [D], "inactive" dim list, "association" (per factor:
    dim index in the original numbering, or None), per-factor "os", "mes",
    "score", "grid" {pooling: {alpha: OMES}}, "num_pairs", "excluded_factors",
    "warnings", and "bootstrap" intervals when requested.
  """
  _check_alpha_pooling(alpha, pooling)
  _checks.check_fraction(confidence, "confidence", _METRIC)
  codes = _checks.check_codes(codes, _METRIC)
  labels = _checks.check_labels(labels, codes.shape[0], _METRIC)
  warnings: list[str] = []
  keep = _checks.informative_factors(labels, _METRIC, warnings)
  pair_idx = intervention_pair_indices(labels, seed=seed, reference=reference,
                                       method=method)
  rng = np.random.default_rng([seed, 1])
  return _score_pairs(
      codes, [pair_idx[k] for k in keep], keep, labels.shape[1], alpha=alpha,
      pooling=pooling, reference=reference, threshold=prune_threshold, rng=rng,
      bootstrap=bootstrap, confidence=confidence, seed=seed, warnings=warnings,
      max_pairs=max_pairs)


# --------------------------------------------------------------------------
# From a sampler over a factor space.
# --------------------------------------------------------------------------


def intervention_factor_pairs(space, k: int, num_pairs: int,
                              rng: np.random.Generator):
  """Factor rows (f1, f2) [P, K] that differ in exactly factor k.

  f1 is uniform over the grid; f2[:, k] is uniform over the other values.
  """
  f1 = space.sample(rng, num_pairs)
  f2 = f1.copy()
  size = space.sizes[k]
  f2[:, k] = (f1[:, k] + rng.integers(1, size, size=num_pairs)) % size
  return f1, f2


def omes_from_sampler(representation_fn: Callable, space, images_fn: Callable,
                      *, num_pairs: int = 10_000, seed: int = 0,
                      alpha: float = 0.5, pooling: str = "avg",
                      prune_threshold: float = 0.05, chunk_size: int = 256,
                      bootstrap: int = 0, confidence: float = 0.95) -> dict:
  """OMES from freshly drawn intervention pairs: num_pairs for every factor.

  Args:
    representation_fn: images -> codes [n, D] (e.g. the encoder mean).
    space: dtransfer.data.factor_space.FactorSpace.
    images_fn: factors [n, K] int -> images accepted by representation_fn.
    num_pairs: pairs per factor; each pair differs in exactly that factor
      (uniform first member, the other member's value uniform among the others).
    seed: seeds the factor draws and the bootstrap.
    alpha, pooling, prune_threshold, bootstrap, confidence: as in ``omes``
      (default mode; inactive dims from the std of all drawn codes).
    chunk_size: images per call of representation_fn; does not change results.

  Returns:
    The same dict as ``omes``.
  """
  _check_alpha_pooling(alpha, pooling)
  if int(num_pairs) < 2:
    raise ValueError(f"omes: num_pairs must be >= 2, got {num_pairs}.")
  rng = np.random.default_rng(seed)
  warnings: list[str] = []
  keep = list(space.varying())
  for k in range(space.num_factors):
    if k not in keep:
      warnings.append(f"factor {k} ('{space.names[k]}') has a single value; it "
                      "is excluded from the score and its entries are None.")
  if not keep:
    raise ValueError("omes: every factor of the space has a single value.")
  f1s, f2s = zip(*[intervention_factor_pairs(space, k, int(num_pairs), rng)
                   for k in keep])
  factors = np.concatenate(list(f1s) + list(f2s))
  codes = _sampling.encode_factors(representation_fn, images_fn, factors,
                         chunk_size=chunk_size)
  total = len(keep) * int(num_pairs)
  pair_idx = [(np.arange(r * num_pairs, (r + 1) * num_pairs),
               total + np.arange(r * num_pairs, (r + 1) * num_pairs))
              for r in range(len(keep))]
  result = _score_pairs(
      codes, pair_idx, keep, space.num_factors, alpha=alpha, pooling=pooling,
      reference=False, threshold=prune_threshold, rng=rng, bootstrap=bootstrap,
      confidence=confidence, seed=seed, warnings=warnings, max_pairs=None)
  result["factor_names"] = list(space.names)
  return result
