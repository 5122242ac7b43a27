"""Losses against closed forms, aggregation rules, the paired ELBO, beta warm-up."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dtransfer import losses
from dtransfer import models

LOG2 = np.log(2.0)


def _bce(x, p):
  return -(x * np.log(p) + (1 - x) * np.log(1 - p))


def test_gaussian_kl_closed_form():
  np.testing.assert_allclose(losses.gaussian_kl(jnp.zeros((3, 4)), jnp.zeros((3, 4))), 0.0)
  mean = jnp.array([[1.0, 2.0]])
  logvar = jnp.array([[LOG2, 0.0]])
  # ½[(1 + 2 - log 2 - 1) + (4 + 1 - 0 - 1)] = 3 - ½ log 2
  np.testing.assert_allclose(losses.gaussian_kl(mean, logvar), [3 - 0.5 * LOG2], rtol=1e-6)


def test_bernoulli_logits_by_hand_and_stable():
  x = np.array([[1.0, 0.0, 0.3, 0.5]], np.float32)
  logits = np.array([[2.0, -1.0, 0.5, 0.0]], np.float32)
  p = 1 / (1 + np.exp(-logits.astype(np.float64)))
  np.testing.assert_allclose(losses.bernoulli_reconstruction(x, logits), [_bce(x, p).sum()],
                             rtol=1e-6)
  big = losses.bernoulli_reconstruction(jnp.array([[1.0, 0.0, 1.0, 0.0]]),
                                        jnp.array([[200.0, 200.0, -200.0, -200.0]]))
  np.testing.assert_allclose(big, [400.0], rtol=1e-6)  # finite, no log(0)
  # Per-example sums over every non-batch axis.
  imgs = jnp.full((2, 4, 4, 3), 0.5)
  np.testing.assert_allclose(losses.bernoulli_reconstruction(imgs, jnp.zeros_like(imgs)),
                             [48 * LOG2] * 2, rtol=1e-6)


def test_bernoulli_tanh_by_hand():
  x = np.array([[1.0, 0.0, 0.7]], np.float32)
  out = np.array([[0.3, -2.0, 50.0]], np.float32)
  # The clip bounds as float32 values (1 - 1e-6 is 0.99999899 there), as in
  # any float32 implementation, PyTorch's included.
  lo, hi = float(np.float32(1e-6)), float(np.float32(1 - 1e-6))
  p = np.clip((np.tanh(out.astype(np.float64)) + 1) / 2, lo, hi)
  got = losses.bernoulli_reconstruction(x, out, activation="tanh")
  np.testing.assert_allclose(got, [_bce(x, p).sum()], rtol=1e-4)


def test_continuous_targets_are_nonnegative_and_entropy_bound_is_zero():
  rng = np.random.default_rng(0)
  x = rng.uniform(0.05, 0.95, size=(3, 8, 8, 1)).astype(np.float32)
  out = rng.normal(size=x.shape).astype(np.float32)
  for act in losses.ACTIVATIONS:
    assert np.all(losses.bernoulli_reconstruction(x, out, act) >= 0)
  exact = np.log(x) - np.log1p(-x)  # logits equal to the targets
  np.testing.assert_allclose(losses.bernoulli_reconstruction(x, exact, subtract_entropy=True),
                             0.0, atol=2e-3)
  with pytest.raises(ValueError, match="same shape"):
    losses.bernoulli_reconstruction(x, out[:, :4])
  with pytest.raises(ValueError, match="activation"):
    losses.bernoulli_reconstruction(x, out, "sigmoid")


def test_pairwise_kl_closed_forms():
  m, lv = jnp.array([[0.3, -1.0]]), jnp.array([[0.5, -2.0]])
  np.testing.assert_allclose(losses.pairwise_kl(m, lv, m, lv), 0.0, atol=1e-7)
  np.testing.assert_allclose(losses.symmetric_pairwise_kl(m, lv, m, lv), 0.0, atol=1e-7)
  # 2 KL(N(0,1) || N(1,2)) = log 2 + (1 + 1)/2 - 1 = log 2.
  d12 = losses.pairwise_kl(jnp.array([0.0]), jnp.array([0.0]), jnp.array([1.0]), jnp.array([LOG2]))
  np.testing.assert_allclose(d12, [LOG2], rtol=1e-6)
  # Reverse: -log 2 + (2 + 1)/1 - 1 = 2 - log 2, so the symmetric one is 1.
  sym = losses.symmetric_pairwise_kl(jnp.array([0.0]), jnp.array([0.0]), jnp.array([1.0]),
                                     jnp.array([LOG2]))
  np.testing.assert_allclose(sym, [1.0], rtol=1e-6)
  # It is twice the KL that gaussian_kl computes against N(0, I).
  np.testing.assert_allclose(losses.pairwise_kl(m, lv, 0 * m, 0 * lv).sum(),
                             2 * losses.gaussian_kl(m, lv)[0], rtol=1e-6)


def test_average_posteriors_by_hand():
  m1, m2 = jnp.array([1.0]), jnp.array([3.0])
  lv1, lv2 = jnp.log(jnp.array([1.0])), jnp.log(jnp.array([3.0]))
  m, lv = losses.average_posteriors(m1, lv1, m2, lv2, "gvae")
  np.testing.assert_allclose([m[0], np.exp(lv[0])], [2.0, 2.0], rtol=1e-6)
  m, lv = losses.average_posteriors(m1, lv1, m2, lv2, "mlvae")
  # var = 2·1·3/(1+3) = 1.5; mean = ½·1.5·(1/1 + 3/3) = 1.5
  np.testing.assert_allclose([m[0], np.exp(lv[0])], [1.5, 1.5], rtol=1e-6)
  for method in losses.AVERAGING:  # extreme variances stay finite
    m, lv = losses.average_posteriors(m1, jnp.array([-100.0]), m2, jnp.array([80.0]), method)
    assert np.isfinite(m).all() and np.isfinite(lv).all()
  with pytest.raises(ValueError, match="averaging"):
    losses.average_posteriors(m1, lv1, m2, lv2, "mean")


def _posteriors(b=3, l=5, seed=0):
  rng = np.random.default_rng(seed)
  return tuple(jnp.asarray(rng.normal(size=(b, l)), jnp.float32) for _ in range(4))


@pytest.mark.parametrize("averaging", losses.AVERAGING)
def test_labels_aggregation_keeps_exactly_the_label_dim(averaging):
  m1, lv1, m2, lv2 = _posteriors()
  labels = jnp.array([0, 2, 1])  # 3 factors, 5 latents: dims 3, 4 always shared
  m1t, lv1t, m2t, lv2t = losses.aggregate(m1, lv1, m2, lv2, aggregator="labels",
                                          labels=labels, num_latents=5, averaging=averaging)
  ma, lva = losses.average_posteriors(m1, lv1, m2, lv2, averaging)
  keep = np.eye(5, dtype=bool)[[0, 2, 1]]
  np.testing.assert_array_equal(m1t, np.where(keep, m1, ma))
  np.testing.assert_array_equal(lv2t, np.where(keep, lv2, lva))
  np.testing.assert_array_equal(m1t[:, 3:], m2t[:, 3:])
  np.testing.assert_array_equal(lv1t[:, 3:], lv2t[:, 3:])
  # dlib's [B, 1] label layout is accepted too.
  same = losses.aggregate(m1, lv1, m2, lv2, labels=labels[:, None], averaging=averaging)
  np.testing.assert_array_equal(same[0], m1t)


def test_dim_labels_give_a_factor_several_dims():
  m1, lv1, m2, lv2 = _posteriors(b=4, l=6)
  labels = jnp.array([2, 0, 4, 2])
  keep = losses.aggregation_mask(m1, lv1, m2, lv2, labels=labels,
                                 dim_labels=(0, 1, 2, 3, 4, 2))
  want = np.zeros((4, 6), bool)
  want[0, [2, 5]] = want[1, 0] = want[2, 4] = want[3, [2, 5]] = True
  np.testing.assert_array_equal(keep, want)
  # -1: always shared; empty: the identity (dim i belongs to factor i).
  keep = losses.aggregation_mask(m1, lv1, m2, lv2, labels=labels,
                                 dim_labels=(0, 1, 2, 3, 4, -1))
  np.testing.assert_array_equal(keep, np.eye(6, dtype=bool)[[2, 0, 4, 2]])
  np.testing.assert_array_equal(
      losses.aggregation_mask(m1, lv1, m2, lv2, labels=labels, dim_labels=()),
      np.eye(6, dtype=bool)[[2, 0, 4, 2]])
  with pytest.raises(ValueError, match="one per dim"):
    losses.aggregation_mask(m1, lv1, m2, lv2, labels=labels, dim_labels=(0, 1, 2))


def test_bad_labels_get_clear_errors_or_nan_under_jit():
  m1, lv1, m2, lv2 = _posteriors()
  with pytest.raises(ValueError, match=r"num_latents=5.*\[0, 7\]"):
    losses.aggregate(m1, lv1, m2, lv2, labels=jnp.array([0, 7, 1]))
  with pytest.raises(ValueError, match="needs labels"):
    losses.aggregate(m1, lv1, m2, lv2)
  with pytest.raises(ValueError, match="num_latents=6"):
    losses.aggregate(m1, lv1, m2, lv2, labels=jnp.array([0, 1, 1]), num_latents=6)
  out = jax.jit(lambda lab: losses.aggregate(m1, lv1, m2, lv2, labels=lab))(jnp.array([0, 7, 1]))
  assert np.isnan(out[0][1]).all() and np.isfinite(out[0][np.array([0, 2])]).all()


def test_argmax_thresholds_each_example_not_the_batch():
  # Equal variances: the dlib divergence is the squared mean difference.
  d = jnp.array([[0.0, 1.0, 2.0, 3.0],    # δ = 0, 1, 4, 9: midpoint 4.5 -> {3}
                 [0.0, 0.5, 0.6, 0.7]])   # δ = 0, .25, .36, .49: midpoint .245 -> {1,2,3}
  z = jnp.zeros_like(d)
  keep = losses.aggregation_mask(z, z, d, z, aggregator="argmax")
  np.testing.assert_array_equal(keep, [[0, 0, 0, 1], [0, 1, 1, 1]])
  # The authors' unused whole-batch binning (midpoint 4.5) would keep nothing
  # in the second pair.
  keep_b = losses.aggregation_mask(z, z, d, z, aggregator="argmax", threshold="batch")
  np.testing.assert_array_equal(keep_b, [[0, 0, 0, 1], [0, 0, 0, 0]])
  m1t, _, m2t, _ = losses.aggregate(z, z, d, z, aggregator="argmax")
  np.testing.assert_allclose(m1t, [[0, 0.5, 1, 0], [0, 0, 0, 0]])
  np.testing.assert_allclose(m2t, [[0, 0.5, 1, 3], [0, 0.5, 0.6, 0.7]])
  # Identical posteriors: all δ equal, nothing kept (averaging is a no-op).
  m1, lv1, _, _ = _posteriors()
  assert not losses.aggregation_mask(m1, lv1, m1, lv1, aggregator="argmax").any()


def test_argmax_divergence_choice_matters():
  # dim 0: var 1 vs 4 (2KL12 = 1/4 - 1 + log 4 = .636, symmetric 1.125);
  # dim 1: mean gap sqrt(2) (δ = 2 both ways); dim 2: identical.
  m1 = jnp.zeros((1, 3))
  m2 = jnp.array([[0.0, np.sqrt(2.0), 0.0]])
  lv1 = jnp.zeros((1, 3))
  lv2 = jnp.array([[np.log(4.0), 0.0, 0.0]])
  dlib = losses.aggregation_mask(m1, lv1, m2, lv2, aggregator="argmax", divergence="dlib")
  sym = losses.aggregation_mask(m1, lv1, m2, lv2, aggregator="argmax", divergence="symmetric")
  np.testing.assert_array_equal(dlib, [[0, 1, 0]])
  np.testing.assert_array_equal(sym, [[1, 1, 0]])


def test_paired_loss_by_hand():
  x1 = jnp.array([[1.0, 0.0]])
  x2 = jnp.array([[0.0, 0.0]])
  o1, o2 = jnp.array([[0.0, 0.0]]), jnp.array([[0.0, 0.0]])
  m, lv = jnp.array([[1.0]]), jnp.array([[0.0]])
  loss, aux = losses.paired_elbo_loss(x1, x2, o1, o2, m, lv, 0 * m, lv, beta=4.0)
  np.testing.assert_allclose(aux["recon"], 2 * LOG2, rtol=1e-6)  # ½·2log2 + ½·2log2
  np.testing.assert_allclose(aux["kl"], 0.25, rtol=1e-6)  # ½·½ + ½·0
  np.testing.assert_allclose(loss, 2 * LOG2 + 1.0, rtol=1e-6)
  np.testing.assert_allclose(aux["elbo"], 2 * LOG2 + 0.25, rtol=1e-6)
  loss, aux = losses.beta_vae_loss(x1, o1, m, lv, beta=4.0)
  np.testing.assert_allclose([aux["recon"], aux["kl"], loss], [2 * LOG2, 0.5, 2 * LOG2 + 2])


@functools.lru_cache(maxsize=None)
def _model(name, channels):
  vae = models.get_model(name, image_shape=(64, 64, channels))
  return vae, vae.init(jax.random.key(0))


@pytest.mark.parametrize("name,channels,train", [("dlib_conv", 1, False), ("dapueto", 3, True)])
def test_paired_loss_on_identical_images(name, channels, train):
  """x1 == x2 is NOT the β-VAE loss of one sample, but of two.

  Identical images have identical posteriors (with BatchNorm in training
  mode too: the statistics of cat(x, x) are those of x), so every aggregator
  keeps q̃ = q and the KL term is exactly β-VAE's. The two images still draw
  their own codes, so recon = ½(r(z1) + r(z2)) for two independent samples:
  equal to the β-VAE loss in expectation, not sample by sample.
  """
  vae, variables = _model(name, channels)
  x = np.random.default_rng(5).uniform(size=(3, 64, 64, channels)).astype(np.float32)
  key = jax.random.key(7)

  @jax.jit
  def run():
    out = {}
    for agg in losses.AGGREGATORS:
      batch = {"x1": x, "x2": x, "label": jnp.array([0, 4, 9])}
      out[agg] = losses.paired_elbo_forward(vae, variables, batch, key, 2.0,
                                            aggregator=agg, train=train)
    m, lv, _ = vae.encode(variables, x, train=train)
    z = models.sample_z(key, jnp.concatenate([m, m]), jnp.concatenate([lv, lv]))
    dec = vae.decode(variables, z)
    halves = [losses.beta_vae_loss(x, dec[i * 3:(i + 1) * 3], m, lv, beta=2.0,
                                   activation=vae.output_activation) for i in (0, 1)]
    return out, halves

  out, halves = run()
  for agg in losses.AGGREGATORS:
    loss, (aux, _) = out[agg]
    np.testing.assert_allclose(aux["kl"], halves[0][1]["kl"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(loss, 0.5 * (halves[0][0] + halves[1][0]), rtol=1e-5)
  # Labels keep one dim per pair. (argmax's choice is float noise here: the
  # divergences are ~0 and differ by rounding only, and keeping or averaging
  # two equal posteriors gives the same loss, which is what is checked above.)
  assert out["labels"][1][0]["kept_dims"] == 1.0
  # ... and not the loss of either single sample.
  assert not np.isclose(halves[0][1]["recon"], halves[1][1]["recon"], rtol=1e-7)


def test_paired_forward_encodes_both_halves_as_one_batch():
  vae, variables = _model("dapueto", 3)
  rng = np.random.default_rng(1)
  x1, x2 = rng.uniform(size=(2, 2, 64, 64, 3)).astype(np.float32)
  batch = {"x1": x1, "x2": x2, "label": jnp.array([1, 3])}

  @jax.jit
  def run(params):
    f = lambda p: losses.paired_elbo_forward(vae, {**variables, "params": p}, batch,
                                             jax.random.key(0), 1.0)
    (loss, (aux, state)), grads = jax.value_and_grad(f, has_aux=True)(params)
    _, _, joint = vae.encode(variables, jnp.concatenate([x1, x2]), train=True)
    return loss, aux, state, grads, joint

  loss, aux, state, grads, joint = run(variables["params"])
  jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-6),
               state, joint)
  assert np.isfinite(loss) and aux["kept_dims"] == 1.0
  np.testing.assert_allclose(loss, aux["recon"] + aux["kl"], rtol=1e-6)
  assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))
  assert float(jnp.abs(grads["encoder"]["fc_mu"]["kernel"]).max()) > 0


def test_beta_schedule_is_the_authors_linspace():
  got = [float(losses.beta_schedule(t, 2.0, 5)) for t in range(7)]
  np.testing.assert_allclose(got, list(np.linspace(0, 2.0, 5)) + [2.0, 2.0], rtol=1e-6)
  jitted = jax.jit(lambda t, b: losses.beta_schedule(t, b, 50_000))
  np.testing.assert_allclose(jitted(jnp.int32(25_000), 1.0), 25_000 / 49_999, rtol=1e-6)
  np.testing.assert_allclose(jitted(jnp.int32(400_000), 1.0), 1.0)
  assert float(losses.beta_schedule(0, 2.0, 0)) == 2.0  # no warm-up
  assert [float(losses.beta_schedule(t, 2.0, 1)) for t in (0, 1)] == [0.0, 2.0]
  with pytest.raises(ValueError, match="warmup_steps"):
    losses.beta_schedule(0, 1.0, -1)
