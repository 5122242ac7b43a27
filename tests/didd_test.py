"""DIDD: losses against hand values, spectral norm, the two-domain data and its
ground truth, image similarity; (slow) the two players, the zero loss, one
compile, resume after a kill, train + evaluate + transfer end to end."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import didd as didd_cfg
from configs import transfer as transfer_cfg
from dtransfer import datasets
from dtransfer import methods
from dtransfer import train as train_lib
from dtransfer import transfer as transfer_lib
from dtransfer import workdir
from dtransfer.methods import didd_losses as L
from dtransfer.methods import two_player
from dtransfer.metrics import image_similarity
from dtransfer.models import didd as didd_net
from tests import kill_resume

LOG2 = float(np.log(2.0))


# Losses ----------------------------------------------------------------------
def test_losses_match_hand_computed_values():
  a = jnp.array([[0.0, 1.0], [-1.0, 0.5]])
  rec = jnp.array([[0.5, 1.0], [-1.0, -0.5]])
  assert float(L.l1(rec, a)) == pytest.approx((0.5 + 0 + 0 + 1.0) / 4)
  assert float(L.reconstruction_loss(rec, a, a, a)) == pytest.approx(0.375)
  # |E^s_B(a)| mean 0.25, |E^s_A(b)| mean 1.0
  assert float(L.zero_loss(jnp.array([0.5, -0.5, 0.0, 0.0]),
                           jnp.array([[1.0, -1.0]]))) == pytest.approx(1.25)
  # BCE at logit 0 is log 2 for either label; logit log(3): p = 3/4.
  assert float(L.bce_with_logits(jnp.zeros(3), 1.0)) == pytest.approx(LOG2)
  l3 = float(np.log(3.0))
  assert float(L.bce_with_logits(jnp.array([l3]), 1.0)) == pytest.approx(-np.log(0.75), rel=1e-5)
  assert float(L.bce_with_logits(jnp.array([l3]), 0.0)) == pytest.approx(-np.log(0.25), rel=1e-5)
  la, lb = jnp.array([l3]), jnp.array([-l3])     # d says A (p=.75) for a, B for b
  assert float(L.discriminator_loss(la, lb)) == pytest.approx(-2 * np.log(0.75), rel=1e-5)
  # The code's one-sided confusion: both towards label 0 (B).
  assert float(L.confusion_loss(la, lb, "one_sided")) == pytest.approx(
      -np.log(0.25) - np.log(0.75), rel=1e-5)
  assert float(L.confusion_loss(la, lb, "symmetric")) == pytest.approx(
      -2 * np.log(0.25), rel=1e-5)
  assert float(L.domain_accuracy(jnp.array([1.0, -1.0]), jnp.array([-1.0, -2.0]))) == 0.75
  with pytest.raises(ValueError, match="confusion mode"):
    L.confusion_loss(la, lb, "both")


def test_spectral_normalize_is_one_power_iteration():
  w = jnp.array([[3.0, 0.0], [0.0, 1.0]])
  # Starting at the top singular vector, sigma is exact after one step.
  w_sn, u = didd_net.spectral_normalize(w, jnp.array([1.0, 0.0]))
  np.testing.assert_allclose(w_sn, w / 3.0, rtol=1e-6)
  np.testing.assert_allclose(u, [1.0, 0.0], atol=1e-6)
  # From elsewhere: v = normalize(w^T u), u' = normalize(w v), sigma = u'.(w v).
  u0 = jnp.array([0.6, 0.8])
  v = np.array([1.8, 0.8]) / np.linalg.norm([1.8, 0.8])
  u1 = np.array([3 * v[0], v[1]]) / np.linalg.norm([3 * v[0], v[1]])
  sigma = u1 @ (np.asarray(w) @ v)
  w_sn, u = didd_net.spectral_normalize(w, u0)
  np.testing.assert_allclose(u, u1, rtol=1e-5)
  np.testing.assert_allclose(w_sn, np.asarray(w) / sigma, rtol=1e-5)
  # Many iterations converge to the largest singular value.
  rng = np.random.default_rng(0)
  m = jnp.asarray(rng.normal(size=(5, 7)), jnp.float32)
  w_sn, _ = didd_net.spectral_normalize(m, jnp.ones(5), n_steps=200)
  assert float(jnp.linalg.norm(w_sn, 2)) == pytest.approx(1.0, rel=1e-4)


def test_instance_norm_per_example_and_channel():
  x = jnp.asarray(np.random.default_rng(0).normal(2.0, 3.0, (2, 4, 4, 3)), jnp.float32)
  y = didd_net.instance_norm(x)
  np.testing.assert_allclose(jnp.mean(y, axis=(1, 2)), 0.0, atol=1e-5)
  np.testing.assert_allclose(jnp.var(y, axis=(1, 2)), 1.0, rtol=1e-3)


def test_network_shapes_and_code_layout():
  net = didd_net.build((32, 32, 3), channels=(4, 8), dim=16, sep=2)
  assert (net.code_size, net.common_dims, net.specific_dims) == (2, 48, 8)
  # [common | A | B] as channels of G's [dim, 2, 2] input (PyTorch's view).
  c, a, b = jnp.ones((1, 48)), 2 * jnp.ones((1, 8)), 3 * jnp.ones((1, 8))
  z = np.asarray(net.join(c, a, b)).reshape(16, 2, 2)
  assert (z[:12] == 1).all() and (z[12:14] == 2).all() and (z[14:] == 3).all()
  official = didd_net.build((128, 128, 3))
  assert (official.common_dims, official.specific_dims) == (1848, 100)
  with pytest.raises(ValueError, match="divisible by 16"):
    didd_net.build((24, 24, 3), channels=(4, 8))


def test_specific_codes_keep_their_scale_only_with_a_2x2_map():
  # The quick preset's codes are 2x2 so that E^s keeps its last instance norm: a
  # code is then unit-variance per channel over the map, and E^s can meet the zero
  # loss only with a constant map, not by shrinking its output on both domains.
  # With 1x1 codes that norm is dropped and E^s's output scale is free (the quick
  # 1x1 run shrank E^s to RMS 1e-3 on its own domain too and G ignored it).
  q = didd_cfg.get_config("quick")
  net = didd_net.build((32, 32, 3), **dict(q.model.kwargs))
  assert net.code_size == 2 and net.specific_dims == 4 * q.model.kwargs.sep
  v = net.init(jax.random.PRNGKey(0))
  x = jax.random.uniform(jax.random.PRNGKey(1), (4, 32, 32, 3))
  last = sorted(v["params"]["ae"]["enc_a"])[-1]
  for scale in (1.0, 1e-3):
    w = jax.tree.map(lambda t: t, v)
    w["params"]["ae"]["enc_a"][last] = jax.tree.map(
        lambda t: t * scale, v["params"]["ae"]["enc_a"][last])
    s = np.asarray(net.apply("enc_a", w, x)[0]).reshape(4, q.model.kwargs.sep, 4)
    pre = np.where(s >= 0, s, s / 0.2)                 # undo LeakyReLU(0.2)
    np.testing.assert_allclose(pre.mean(-1), 0.0, atol=1e-4)
    np.testing.assert_allclose(pre.var(-1), 1.0, rtol=0.02)
  one = didd_net.build((32, 32, 3), **dict(didd_cfg.get_config("quick,code=1").model.kwargs))
  assert one.code_size == 1


# Data --------------------------------------------------------------------------
def test_domain_pair_and_its_ground_truth():
  pair = datasets.get_dataset("shapes3d_domains", pair="wall_floor", size=32)
  assert pair.space.names == ("object_hue", "scale", "shape", "orientation")
  assert pair.a.space.names[0] == "wall_hue" and pair.b.space.names[0] == "floor_hue"
  fa = np.array([[3, 7, 1, 2, 9]])            # wall hue 3, common (7, 1, 2, 9)
  fb = np.array([[5, 0, 4, 0, 1]])            # floor hue 5
  a = pair.a.images(pair.a.space.index(fa))
  np.testing.assert_array_equal(a, pair.render(fa[:, 1:], fa[:, 0], None))
  # a -> B guided by b is the B image with a's common content and b's floor.
  target = pair.b.images(pair.b.space.index(np.array([[5, 7, 1, 2, 9]])))
  np.testing.assert_array_equal(pair.render(fa[:, 1:], None, fb[:, 0]), target)
  # Grey surfaces differ from every hue; A and B never share an image.
  assert not np.array_equal(pair.render(fa[:, 1:], None, None), a)
  # The mixed source is labelled by the shared factors only, and reproducible.
  x1 = pair.images(np.arange(6), np.random.default_rng(1))
  x2 = pair.images(np.arange(6), np.random.default_rng(1))
  np.testing.assert_array_equal(x1, x2)
  with pytest.raises(ValueError, match="unknown domain pair"):
    datasets.get_dataset("shapes3d_domains", pair="wall_wall")


def test_image_similarity():
  rng = np.random.default_rng(0)
  x = rng.uniform(size=(2, 16, 16, 3)).astype(np.float32)
  np.testing.assert_allclose(image_similarity.ssim(x, x), 1.0, rtol=1e-5)
  np.testing.assert_allclose(image_similarity.mse(x, x + 0.1), 0.01, rtol=1e-4)
  # Constant images: SSIM = (2 mx my + C1) / (mx^2 + my^2 + C1).
  c1 = 0.01 ** 2
  a, b = np.full((1, 16, 16, 1), 0.2, np.float32), np.full((1, 16, 16, 1), 0.6, np.float32)
  expect = (2 * 0.2 * 0.6 + c1) / (0.04 + 0.36 + c1)
  np.testing.assert_allclose(image_similarity.ssim(a, b), expect, rtol=1e-4)


def test_configs():
  c = didd_cfg.get_config("tiny")
  assert c.data.kwargs.pair == "wall_floor" and c.method.name == "didd"
  q = didd_cfg.get_config("object_wall,quick")
  assert q.data.kwargs.pair == "object_wall" and q.train.num_steps == 1500
  p = didd_cfg.get_config("paper")
  assert dict(p.model.kwargs) == {"channels": (32, 64, 128, 256), "dim": 512, "sep": 25}
  assert (p.optim.learning_rate, p.optim.b1, p.optim.grad_clip_norm, p.loss.adv_weight) == (
      2e-4, 0.5, 5.0, 1e-3)


# Training (slow: each compiles the DIDD step) -----------------------------------
def _method(**overrides):
  c = didd_cfg.get_config("tiny")
  c.update_from_flattened_dict(overrides)
  src = workdir.image_source(c)
  model = workdir.build_model(c, src.image_shape)
  return c, src, methods.get_method(c, model)


def _changed(x, y) -> bool:
  return any(not np.allclose(a, b) for a, b in zip(jax.tree.leaves(x), jax.tree.leaves(y)))


@pytest.mark.slow
def test_players_spectral_state_and_one_compile(monkeypatch):
  _, src, m = _method()
  batches = m.batches(src, (0, 1))
  state0 = jax.device_get(m.init(0))
  ae_loss, disc_loss = m.losses()
  # Each player moves only its own parameters: freeze the other's optimiser.
  frozen = optax.set_to_zero()
  tx = m.optimizer()
  for first_tx, second_tx, moved, kept in ((tx, frozen, "ae", "disc"),
                                           (frozen, tx, "disc", "ae")):
    step = two_player.make_step(("ae", ae_loss, first_tx), ("disc", disc_loss, second_tx),
                                seed=0)
    state, _ = step(jax.tree.map(jnp.asarray, state0), m.device_batch(batches[0]))
    assert _changed(state["params"][moved], state0["params"][moved])
    assert not _changed(state["params"][kept], state0["params"][kept])
  # The discriminator's loss has no gradient into the autoencoder.
  g = jax.grad(lambda ae: disc_loss(state0["params"]["disc"], ae, state0["model_state"],
                                    m.device_batch(batches[0]), None)[0])(
                                        state0["params"]["ae"])
  assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree.leaves(g))
  # One compile for many steps; the spectral vectors move every step, unit norm.
  traces = []
  real = m.losses
  monkeypatch.setattr(m, "losses", lambda: tuple(
      (lambda f: (lambda *a: traces.append(1) or f(*a)))(f) for f in real()))
  step = m.train_step()
  state = jax.tree.map(jnp.asarray, state0)
  for i in range(3):
    state, metrics = step(state, m.device_batch(batches[i]))
    assert bool(metrics["finite"])
  assert len(traces) == 2          # one trace of each player's loss
  for part in ("enc_c", "enc_a", "enc_b", "dec"):
    for u_new, u_old in zip(jax.tree.leaves(state["model_state"]["spectral"][part]),
                            jax.tree.leaves(state0["model_state"]["spectral"][part])):
      assert not np.allclose(u_new, u_old)
      assert float(jnp.linalg.norm(u_new)) == pytest.approx(1.0, rel=1e-4)
  assert {"ae/recon", "ae/zero", "ae/adv", "disc/accuracy"} <= set(metrics)


@pytest.mark.slow
def test_zero_loss_drives_other_domains_specific_code_to_zero():
  # Zero loss alone (no reconstruction to keep the codes busy): |E^s_B(a)|, |E^s_A(b)| -> 0.
  # 1x1 codes (quick,code=1): on a 2x2 map (the official net, the quick preset) the
  # last instance norm keeps a code at unit variance unless its map is constant,
  # which plain descent reaches only slowly.
  _, src, m = _method(**{"loss.recon_weight": 0.0, "loss.adv_weight": 0.0,
                         "model.kwargs.channels": (4, 8, 8),
                         "optim.learning_rate": 3e-2, "optim.grad_clip_norm": 0.0})
  batches = m.batches(src, (0, 1))
  state = m.init(0)
  net = m.model

  def other_codes(state, batch):
    v = m.variables(state)
    _, _, s_b, _ = net.encode(v, batch["a"].astype(jnp.float32) / 255)
    _, s_a, _, _ = net.encode(v, batch["b"].astype(jnp.float32) / 255)
    return float(jnp.mean(jnp.abs(s_b)) + jnp.mean(jnp.abs(s_a)))

  probe = m.device_batch(batches[10_000])
  before = other_codes(state, probe)
  step = m.train_step()
  for i in range(200):
    state, metrics = step(state, m.device_batch(batches[i]))
  after = other_codes(state, probe)
  assert before > 0.1
  assert after < 0.2 * before, (before, after)
  assert float(metrics["ae/zero"]) < 0.2 * before


@pytest.mark.slow
def test_resume_after_kill_matches_uninterrupted(tmp_path):
  c = didd_cfg.get_config("tiny")
  c.train.num_steps = 4
  _, straight, resumed = kill_resume.straight_and_resumed(c, tmp_path)
  for part in ("params", "model_state", "opt_state"):
    kill_resume.assert_trees_close(straight[part], resumed[part], rtol=1e-5)


@pytest.mark.slow
def test_train_evaluate_and_transfer_tiny(tmp_path):
  c = didd_cfg.get_config("tiny")
  src_dir = str(tmp_path / "src")
  results = train_lib.train_and_evaluate(c, src_dir)
  for kind in ("a2b", "b2a", "intersection", "union"):
    for key in ("mse", "ssim"):
      assert np.isfinite(results["translation"][kind][key])
      assert np.isfinite(results["translation_identity"][kind][key])
  probes = results["probes"]["logreg"]
  assert 0.0 <= probes["specific_from_specific"] <= 1.0
  assert "omes" in results
  saved = json.load(open(os.path.join(src_dir, "eval", "results.json")))
  assert saved["translation"]["a2b"]["mse"] == results["translation"]["a2b"]["mse"]
  for png in ("translation.png", "reconstructions.png"):
    assert os.path.getsize(os.path.join(src_dir, "eval", png)) > 0
  # E^c moves to the real-photograph target (at the source's 32x32) and is tuned there.
  t = transfer_cfg.get_config("real_objects,tiny,size=32")
  t.transfer.source_workdir = src_dir
  out = transfer_lib.transfer_and_evaluate(t, str(tmp_path / "transfer"))
  assert "omes" in out["before"] and "omes" in out["after"]
  tuned = workdir.read_config(str(tmp_path / "transfer" / "after"))
  assert tuned.method.name == "didd_ae" and tuned.model.name == "didd"
