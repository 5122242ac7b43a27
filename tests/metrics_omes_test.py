"""OMES: the authors' worked examples, closed forms, pairs, modes, properties."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dtransfer.data.factor_space import FactorSpace
from dtransfer.metrics import omes as om
from tests import metrics_fixtures as fx

EXAMPLE_A = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
EXAMPLE_B = np.array([[0.7491, 0.0703, 0.0559], [0.1437, 0.8738, 0.0590],
                      [0.0589, 0.0625, 0.4197], [0.9804, 0.8633, 0.6768]])


# ------------------------------------------------ worked examples (exact) --


def test_example_a_reproduces_the_authors_table():
  table = {"avg": {1.0: 0.4972, 0.5: 0.4694, 0.0: 0.4416},
           "max": {1.0: 0.725, 0.5: 0.6742, 0.0: 0.6233}}
  grid = om.score_grid(EXAMPLE_A, reference=True)
  for pooling, row in table.items():
    for alpha, value in row.items():
      assert grid[pooling][alpha] == value, (pooling, alpha)
      assert om.score_matrix(EXAMPLE_A, alpha=alpha, pooling=pooling,
                             reference=True)["omes"] == value
  avg = om.score_matrix(EXAMPLE_A, pooling="avg")
  np.testing.assert_allclose(avg["os"], [0.53875, 0.455714], atol=1e-6)
  np.testing.assert_allclose(avg["mes"], [0.450833, 0.432381], atol=1e-6)
  mx = om.score_matrix(EXAMPLE_A, pooling="max")
  np.testing.assert_allclose(mx["os"], [0.81, 0.64], atol=1e-6)
  np.testing.assert_allclose(mx["mes"], [0.66, 0.586667], atol=1e-6)
  assert om.associate(EXAMPLE_A, reference=True) == [0, 1]


def test_example_b_reproduces_the_authors_table():
  table = {"avg": {1.0: 0.4142, 0.5: 0.4641, 0.0: 0.5141},
           "max": {1.0: 0.5848, 0.5: 0.6095, 0.0: 0.6342}}
  grid = om.score_grid(EXAMPLE_B, reference=True)
  for pooling, row in table.items():
    for alpha, value in row.items():
      assert grid[pooling][alpha] == value, (pooling, alpha)
  assert om.associate(EXAMPLE_B, reference=True) == [0, 1, 2]


def _example_b_data():
  rng = np.random.default_rng(123)
  n = 600
  f = np.stack([rng.integers(4, size=n), rng.integers(5, size=n),
                rng.integers(3, size=n)], axis=1)
  noise = lambda: rng.normal(size=n)
  z = np.stack([f[:, 0] / 3 + .1 * noise(),
                f[:, 1] / 4 + .3 * f[:, 0] / 3 + .1 * noise(),
                f[:, 2] / 2 + .1 * noise(), noise(), .01 * noise()], axis=1)
  return z, f


def test_example_b_pipeline_facts():
  # Same recipe as the authors' example B: pair counts, pruning, association.
  z, f = _example_b_data()
  r = om.omes(z, f, reference=True, seed=0)
  assert r["num_pairs"] == [120, 120, 60]
  assert r["inactive"] == [4]
  assert r["association"] == [0, 1, 2]
  assert r["S"].shape == (5, 3) and r["S_pruned"].shape == (4, 3)
  # The pure-noise dim de-correlates under every intervention.
  assert (r["S_pruned"][3] > 0.6).all()
  # Reference mode rounds S to 4 decimals.
  np.testing.assert_array_equal(r["S_pruned"], np.round(r["S_pruned"], 4))
  assert r["grid"]["avg"][0.5] == r["omes"] == round(r["omes"], 4)


# ----------------------------------------------------------- closed forms --


def _definition(s, pooling):
  """The authors' mean-absolute-difference definition, loop by loop."""
  d, k = s.shape
  os_k, me_k = [], []
  for f in range(k):
    os_ = np.array([1 - np.mean(np.abs(np.eye(k)[f] - s[r])) for r in range(d)])
    me_ = np.array([1 - np.mean(np.abs(np.eye(d)[r] - s[:, f]))
                    for r in range(d)])
    w = s[:, f]
    if pooling == "avg":
      os_k.append(np.average(os_ * w, weights=w))
      me_k.append(np.average(me_ * w, weights=w))
    else:
      os_k.append(np.max(os_ * w))
      me_k.append(np.max(me_ * w))
  return np.array(os_k), np.array(me_k)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_closed_forms_equal_the_definition(pooling):
  s = np.random.default_rng(0).random((7, 4))
  got = om.score_matrix(s, pooling=pooling)
  want_os, want_me = _definition(s, pooling)
  np.testing.assert_allclose(got["os"], want_os, atol=1e-6)
  np.testing.assert_allclose(got["mes"], want_me, atol=1e-6)


def test_perfect_and_uninformative_matrices():
  assert om.score_matrix(np.eye(3, 2), reference=True)["omes"] == 1.0
  assert om.score_matrix(np.ones((3, 2)), reference=True)["omes"] == 0.4167
  # An unused all-zero row costs nothing.
  assert om.score_matrix(np.vstack([np.eye(2), [[0, 0]]]))["omes"] == 1.0


def test_zero_column_default_scores_zero_reference_raises():
  s = np.array([[0.9, 0.0], [0.1, 0.0]])
  r = om.score_matrix(s)
  assert r["os"][1] == 0.0 and r["mes"][1] == 0.0
  assert om.associate(s) == [0, None]
  with pytest.raises(ValueError, match="all zero"):
    om.score_matrix(s, reference=True)
  assert om.score_matrix(s, pooling="max", reference=True)["os"][1] == 0.0


def test_nan_in_s_raises_with_advice():
  with pytest.raises(ValueError, match="NaN.*reference=False"):
    om.score_matrix(np.array([[0.9, np.nan], [0.1, 0.8]]))


# ------------------------------------------------------- intervention pairs --


def _differs_only_in(labels, pairs):
  for k, (i, j) in enumerate(pairs):
    diff = labels[i] != labels[j]
    assert diff[:, k].all(), k
    assert not np.delete(diff, k, axis=1).any(), k


def test_authors_pairing_counts_and_validity():
  # Duplicated label rows and uneven groups: count = sum_g n_g floor(n_g / 2)
  # over de-duplicated rows.
  labels = fx.random_labels((3, 4, 2), 150, seed=3)
  pairs = om.intervention_pair_indices(labels, seed=0, reference=True)
  _differs_only_in(labels, pairs)
  uniq = np.unique(labels, axis=0)
  for k in range(3):
    groups = collections.Counter(tuple(np.delete(u, k)) for u in uniq)
    assert len(pairs[k][0]) == sum(n * (n // 2) for n in groups.values())
  # Only first occurrences of each label row are used.
  first = set(np.unique(labels, axis=0, return_index=True)[1].tolist())
  for i, j in pairs:
    assert set(i.tolist()) | set(j.tolist()) <= first


def test_partner_pairing_uses_every_sample_once():
  labels = fx.random_labels((3, 4, 2), 150, seed=3)
  pairs = om.intervention_pair_indices(labels, seed=0)
  _differs_only_in(labels, pairs)
  for k, (i, _) in enumerate(pairs):
    assert len(set(i.tolist())) == len(i)  # each sample at most once as x
    others = np.delete(labels, k, axis=1)
    has_partner = [
        ((others == others[r]).all(1) & (labels[:, k] != labels[r, k])).any()
        for r in range(len(labels))]
    assert len(i) == int(np.sum(has_partner))


def test_pairing_is_seeded():
  labels = fx.random_labels((3, 4, 2), 150, seed=3)
  for reference in (False, True):
    a = om.intervention_pair_indices(labels, seed=5, reference=reference)
    b = om.intervention_pair_indices(labels, seed=5, reference=reference)
    c = om.intervention_pair_indices(labels, seed=6, reference=reference)
    for (ia, ja), (ib, jb) in zip(a, b):
      np.testing.assert_array_equal(ia, ib)
      np.testing.assert_array_equal(ja, jb)
    assert any(not np.array_equal(x[1], y[1]) for x, y in zip(a, c))


def test_intervention_pairs_returns_codes():
  labels = fx.random_labels((3, 4), 60)
  codes = fx.noisy_codes(labels)
  pairs = om.intervention_pairs(codes, labels)
  idx = om.intervention_pair_indices(labels)
  for (x, y), (i, j) in zip(pairs, idx):
    np.testing.assert_array_equal(x, codes[i])
    np.testing.assert_array_equal(y, codes[j])


def test_max_pairs_subsamples():
  labels = fx.grid((6, 6), repeats=1)
  r = om.omes(fx.noisy_codes(labels), labels, reference=True, max_pairs=20)
  assert r["num_pairs"] == [20, 20]


# ---------------------------------------------------- association matrix --


def test_association_single_batched_ragged_and_jit_agree():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(3, 50, 4))
  y = 0.5 * x + rng.normal(size=(3, 50, 4))
  single = np.stack([np.asarray(om.association_matrix(x[k], y[k]))
                     for k in range(3)], axis=1)
  want = np.stack([1 - np.abs([np.corrcoef(x[k, :, d], y[k, :, d])[0, 1]
                               for d in range(4)]) for k in range(3)], axis=1)
  np.testing.assert_allclose(single, want, atol=1e-5)
  np.testing.assert_allclose(om.association_matrix_batched(x, y), single,
                             atol=1e-6)
  ragged = om.association_matrix_ragged([(x[0], y[0]), (x[1, :30], y[1, :30]),
                                         (x[2], y[2])])
  np.testing.assert_allclose(np.asarray(ragged)[:, [0, 2]], single[:, [0, 2]],
                             atol=1e-6)
  np.testing.assert_allclose(
      np.asarray(ragged)[:, 1],
      np.asarray(om.association_matrix(x[1, :30], y[1, :30])), atol=1e-6)
  vmapped = jax.jit(jax.vmap(om.association_matrix))(jnp.asarray(x),
                                                     jnp.asarray(y))
  np.testing.assert_allclose(np.asarray(vmapped).T, single, atol=1e-6)


def test_constant_dim_is_zero_by_default_nan_in_reference():
  x = np.stack([np.arange(10.0), np.ones(10)], axis=1)
  y = np.stack([np.arange(10.0)[::-1], np.ones(10)], axis=1)
  np.testing.assert_allclose(om.association_matrix(x, y), [0.0, 0.0])
  ref = np.asarray(om.association_matrix(x, y, reference=True))
  assert ref[0] == 0.0 and np.isnan(ref[1])


def test_constant_dim_end_to_end():
  labels = fx.grid((4, 5), repeats=2)
  codes = np.concatenate([fx.noisy_codes(labels, extra=0),
                          np.ones((len(labels), 1))], axis=1)
  r = om.omes(codes, labels, prune_threshold=0.0)
  fx.assert_no_nan(r)
  np.testing.assert_array_equal(r["S"][2], 0.0)
  with pytest.raises(ValueError, match="NaN"):
    om.omes(codes, labels, prune_threshold=0.0, reference=True)
  # With the default threshold the constant dim is pruned in both modes.
  assert om.omes(codes, labels, reference=True)["inactive"] == [2]


# ------------------------------------------------------ metric behaviour --


def test_identity_codes_match_their_closed_form():
  # With pairs of distinct uniform values, corr = -1/(n-1): S[k,k] =
  # 1 - 1/(n-1), other dims do not move (S = 0). OMES cannot reach 1 on
  # discrete factors; the identity scores what that S scores.
  sizes = (12, 15, 20)
  labels = fx.grid(sizes)
  r = om.omes(labels.astype(float), labels)
  expected = np.diag([1 - 1 / (n - 1) for n in sizes])
  np.testing.assert_allclose(r["S"], expected, atol=0.03)
  np.testing.assert_array_equal(r["S"][~np.eye(3, dtype=bool)], 0.0)
  assert r["association"] == [0, 1, 2]
  assert abs(r["omes"] - om.score_matrix(expected)["omes"]) < 0.03
  assert r["omes"] > 0.85


def test_rotated_and_noise_codes_score_low():
  labels = fx.grid((8, 8, 8, 8))
  good = om.omes(fx.noisy_codes(labels, extra=0), labels)["omes"]
  rotated = om.omes(fx.rotate(fx.noisy_codes(labels, extra=0)), labels)["omes"]
  noise = np.random.default_rng(0).normal(size=(len(labels), 4))
  bad = om.omes(noise, labels)["omes"]
  assert good > 0.7
  assert rotated < 0.45
  assert bad < 0.3


def test_invariances():
  labels = fx.shuffled(fx.grid((5, 6, 4), repeats=2))
  codes = fx.noisy_codes(labels, extra=1)
  base = om.omes(codes, labels, seed=3)
  for name, z, perm in fx.transforms(codes):
    r = om.omes(z, labels, seed=3)
    assert abs(r["omes"] - base["omes"]) < 1e-6, name
    np.testing.assert_allclose(r["S"], base["S"][perm], atol=1e-6,
                               err_msg=name)
    assert [perm[a] for a in r["association"]] == base["association"], name
  # A large offset does not eat float32 precision (codes are centred first).
  far = om.omes(codes + 1e6, labels, seed=3)
  np.testing.assert_allclose(far["S"], base["S"], atol=1e-6)


def test_same_seed_same_number_and_grid_layout():
  z, f = _example_b_data()
  a = om.omes(z, f, seed=7)
  again = om.omes(z, f, seed=7)
  assert again["omes"] == a["omes"] and again["grid"] == a["grid"]
  np.testing.assert_array_equal(again["S"], a["S"])
  b = om.omes(jnp.asarray(z), jnp.asarray(f), seed=7)  # float32 input
  assert b["omes"] == pytest.approx(a["omes"], abs=1e-6)
  assert list(a["grid"]) == ["avg", "max"]
  assert list(a["grid"]["avg"]) == [round(0.1 * i, 1) for i in range(11)]
  assert a["grid"]["avg"][0.5] == a["omes"]
  assert a["grid"]["max"][1.0] == pytest.approx(
      np.mean(om.score_matrix(a["S_pruned"], pooling="max")["os"]))


def test_single_valued_factor_is_excluded_with_warning():
  labels = fx.grid((4, 5))
  labels = np.concatenate([labels, np.full((len(labels), 1), 2)], axis=1)
  r = om.omes(fx.noisy_codes(labels[:, :2]), labels)
  assert r["os"][2] is None and r["association"][2] is None
  assert r["excluded_factors"] == [2]
  assert any("single value" in w for w in r["warnings"])
  fx.assert_no_nan(r)
  np.testing.assert_allclose(
      r["omes"], om.omes(fx.noisy_codes(labels[:, :2]), labels[:, :2])["omes"])


def test_bootstrap_interval():
  z, f = _example_b_data()
  r = om.omes(z, f, bootstrap=64, seed=1)
  lo, hi = r["bootstrap"]["omes"]
  assert lo < r["omes"] < hi and hi - lo < 0.2
  assert om.omes(z, f, bootstrap=64, seed=1)["bootstrap"] == r["bootstrap"]
  assert all(a < b for a, b in r["bootstrap"]["os"])


# ------------------------------------------------------------ from a sampler --


def test_omes_from_sampler_equal_pairs_and_chunking():
  space = FactorSpace(("a", "b", "c", "fixed"), (6, 7, 5, 1))
  images_fn = lambda f: f.astype(np.float32)
  representation_fn = lambda images: images * np.array([1.0, -2.0, 0.5, 1.0])
  a = om.omes_from_sampler(representation_fn, space, images_fn, num_pairs=300,
                           seed=0, chunk_size=64)
  b = om.omes_from_sampler(representation_fn, space, images_fn, num_pairs=300,
                           seed=0, chunk_size=1000)
  assert a["num_pairs"] == [300, 300, 300, 0]
  assert a["omes"] == b["omes"]
  np.testing.assert_array_equal(a["S"], b["S"])
  assert a["association"] == [0, 1, 2, None]
  assert a["inactive"] == [3]
  assert any("'fixed'" in w for w in a["warnings"])
  # Each dim reacts to its own factor only.
  np.testing.assert_array_equal(a["S"][:3, :3][~np.eye(3, dtype=bool)], 0.0)
  assert (np.diag(a["S"][:3, :3]) > 0.6).all()
