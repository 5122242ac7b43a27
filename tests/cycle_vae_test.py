"""The cycle-consistent VAE: losses, networks, pairs, the two-objective step,
resume, transfer and the config file."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import cycle_vae as cycle_cfg
from configs import transfer as transfer_cfg
from dtransfer import evaluate
from dtransfer import methods
from dtransfer import models
from dtransfer import optim
from dtransfer import transfer
from dtransfer import workdir
from dtransfer.data import pairs
from dtransfer.data.factor_space import FactorSpace
from dtransfer.data.sources import ArraySource
from dtransfer.methods import cycle_vae
from tests import kill_resume


# ------------------------------------------------------------- losses ---


def test_forward_cycle_loss_by_hand():
  x1 = jnp.asarray([[0.0, 1.0]])          # B=1, 2 pixels
  x2 = jnp.asarray([[1.0, 1.0]])
  p1 = jnp.asarray([[0.5, 0.5]])          # squared errors .25 .25 -> mean .25
  p2 = jnp.asarray([[1.0, 0.0]])          # 0, 1 -> mean .5
  mu1, lv1 = jnp.asarray([[1.0, 0.0]]), jnp.zeros((1, 2))     # KL = .5 * 1 = .5
  mu2, lv2 = jnp.zeros((1, 2)), jnp.asarray([[jnp.log(2.0), 0.0]])
  kl2 = 0.5 * (2.0 - np.log(2.0) - 1.0)
  loss, aux = cycle_vae.forward_cycle_loss(x1, x2, p1, p2, mu1, lv1, mu2, lv2,
                                           w_rec=2.0, w_kl=3.0)
  # Each KL is divided by B*H*W*C = 2 (per pixel), like the MSE.
  np.testing.assert_allclose(float(aux["rec"]), 0.75, rtol=1e-6)
  np.testing.assert_allclose(float(aux["kl"]), 0.5 / 2 + kl2 / 2, rtol=1e-6)
  np.testing.assert_allclose(float(loss), 2 * 0.75 + 3 * (0.25 + kl2 / 2), rtol=1e-6)


def test_kl_is_normalised_per_pixel_not_per_example():
  mu, lv = jnp.ones((4, 3)), jnp.zeros((4, 3))   # KL = 1.5 per example
  x = jnp.zeros((4, 5, 5, 2))
  np.testing.assert_allclose(float(cycle_vae.per_pixel_kl(mu, lv, x)),
                             4 * 1.5 / (4 * 5 * 5 * 2), rtol=1e-6)


def test_reverse_cycle_loss_by_hand():
  mu_a = jnp.asarray([[1.0, 2.0], [0.0, -1.0]])
  mu_b = jnp.asarray([[0.0, 0.0], [0.0, 1.0]])   # |d| = 1, 2, 0, 2 -> mean 1.25
  np.testing.assert_allclose(float(cycle_vae.reverse_cycle_loss(mu_a, mu_b, w_rev=10.0)),
                             12.5, rtol=1e-6)


def test_step_schedule_decays_at_the_fraction():
  cfg = cycle_cfg.get_config("digits,paper")
  lr = optim.learning_rate(cfg.optim, 100)
  assert float(lr(79)) == pytest.approx(1e-4)
  assert float(lr(80)) == pytest.approx(1e-5)


# ------------------------------------------------------------ networks ---


def test_authors_mnist_network_shapes_and_parameter_count():
  m = models.get_model("cycle_mnist", num_latents=32, image_shape=(28, 28, 1), s_dim=16)
  shapes = jax.eval_shape(m.init, jax.random.PRNGKey(0))
  n = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(shapes["params"]))
  enc = (1 * 16 * 25 + 16) + (16 * 32 * 25 + 32) + (32 * 64 * 25 + 64) + 3 * (256 * 16 + 16)
  dec = 2 * (16 * 256 + 256) + (128 * 32 * 16 + 32) + (32 * 16 * 16 + 16) + (16 * 16 + 1)
  assert n == enc + dec == 159_585
  out = jax.eval_shape(lambda v: m.decode(v, m.encode(v, jnp.zeros((2, 28, 28, 1)))[0]),
                       shapes)
  assert out.shape == (2, 28, 28, 1)


def test_bad_split_and_shapes_name_the_fix():
  with pytest.raises(ValueError, match="s_dim"):
    models.get_model("cycle_conv", num_latents=4, image_shape=(64, 64, 1), s_dim=4)
  with pytest.raises(ValueError, match="28x28"):
    models.get_model("cycle_mnist", num_latents=4, image_shape=(64, 64, 1), s_dim=2)


# --------------------------------------------------------------- pairs ---


def test_share_mode_pairs_share_the_factor_and_draw_the_rest_independently():
  space = FactorSpace(("a", "b", "c"), (3, 4, 5))
  f1, f2, label = pairs.sample_weak_factors(space, np.random.default_rng(0), 4000,
                                            mode="share", shared=("b",))
  assert np.all(f1[:, 1] == f2[:, 1]) and np.all(label == 1)
  # Independent draws: a factor of size n coincides with probability 1/n.
  assert np.mean(f1[:, 0] == f2[:, 0]) == pytest.approx(1 / 3, abs=0.03)
  assert np.mean(f1[:, 2] == f2[:, 2]) == pytest.approx(1 / 5, abs=0.03)


def test_share_mode_on_an_incomplete_grid_stays_among_existing_records():
  space = FactorSpace(("a", "b"), (4, 6))
  available = np.asarray([0, 1, 2, 7, 8, 13, 19, 20, 23])
  f1, f2, _ = pairs.sample_weak_factors(space, np.random.default_rng(1), 500,
                                        mode="share", available=available, shared=(0,))
  assert np.all(f1[:, 0] == f2[:, 0])
  assert np.all(np.isin(space.index(f1), available))
  assert np.all(np.isin(space.index(f2), available))
  assert np.any(f1[:, 1] != f2[:, 1])


def _digit_like_source(n_classes=3, n_inst=4, size=28):
  space = FactorSpace(("cls", "inst"), (n_classes, n_inst))
  rng = np.random.default_rng(0)
  return ArraySource(rng.integers(0, 256, (space.num_records, size, size, 1), np.uint8),
                     space)


def test_cycle_batches_are_a_pure_function_of_the_index():
  src = _digit_like_source()
  b = cycle_vae.CycleBatches(src, 6, seed=3, shared=(0,))
  one, again = b[5], b[5]
  for k in ("x1", "x2", "xa", "xb", "f1", "f2"):
    np.testing.assert_array_equal(one[k], again[k])
  assert one["xa"].shape == (6, 28, 28, 1)
  np.testing.assert_array_equal(one["f1"][:, 0], one["f2"][:, 0])
  with pytest.raises(ValueError, match="not a factor"):
    cycle_vae.CycleBatches(src, 6, seed=3, shared=("shape",))


# -------------------------------------------------------------- config ---


def test_config_presets_and_default_dataset():
  c = cycle_cfg.get_config("tiny")
  assert c.data.name == "dsprites" and c.data.shared == "shape"
  assert c.model.name == "cycle_conv" and c.model.num_latents == 32
  p = cycle_cfg.get_config("digits,paper")
  assert (p.cycle.w_rec, p.cycle.w_kl, p.cycle.w_rev) == (2.0, 3.0, 10.0)
  assert p.optim.learning_rate == 1e-4 and p.optim.grad_clip_norm == 0
  assert p.train.batch_size == 64 and p.model.name == "cycle_mnist"
  q = cycle_cfg.get_config("shapes3d,quick,z=8,s=4")
  assert q.data.shared == "object_hue" and q.model.num_latents == 12
  assert q.model.kwargs.s_dim == 4


def test_missing_specified_factor_names_the_fix():
  c = cycle_cfg.get_config("noisy_dsprites,tiny")
  c.data.shared = ""
  src = _digit_like_source()
  m = methods.get_method(c, models.get_model("cycle_mnist", num_latents=4,
                                             image_shape=(28, 28, 1), s_dim=2))
  with pytest.raises(ValueError, match="data.shared"):
    m.check_images(src)


# ---------------------------------------------------------------- step ---


def _method(**cycle):
  c = cycle_cfg.get_config("digits,tiny,z=3,s=2")
  c.train.batch_size = 4
  c.data.shared = "cls"
  c.model.kwargs.conv_impl = "native"
  c.cycle.update(cycle)
  src = _digit_like_source()
  model = models.get_model(c.model.name, num_latents=5, image_shape=(28, 28, 1),
                           **dict(c.model.kwargs))
  return c, src, methods.get_method(c, model)


def _batch(method, src, i=0):
  return method.device_batch(method.batches(src, (0, 1))[i])


def _floats(batch):
  return {k: jnp.asarray(v, jnp.float32) / 255.0 for k, v in batch.items()}


@pytest.mark.slow
def test_reverse_cycle_stops_the_gradient_through_s_and_never_reaches_the_decoder():
  _, src, m = _method()
  params = m.init(0)["params"]
  x = _floats(_batch(m, src))
  key = jax.random.PRNGKey(7)
  grad, dec_grad = jax.grad(m.reverse_loss, argnums=(0, 1))(
      params["encoder"], params["decoder"], x["xa"], x["xb"], key)
  assert all(float(jnp.abs(g).max()) == 0.0 for g in jax.tree.leaves(dec_grad))
  # Reference: s computed beforehand and fed in as a constant.
  _, _, s = m._encode(params, jnp.concatenate([x["xa"], x["xb"]]))

  def with_constant_s(enc):
    p = {"encoder": enc, "decoder": params["decoder"]}
    z = jax.random.normal(key, (4, m.z_dim))
    mu, _, _ = m._encode(p, m._pixels(p, jnp.concatenate([z, z]), s))
    return cycle_vae.reverse_cycle_loss(mu[:4], mu[4:], w_rev=10.0)

  want = jax.grad(with_constant_s)(params["encoder"])
  for a, b in zip(jax.tree.leaves(grad), jax.tree.leaves(want)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-8)
  # Without the stop-gradient the s head would get a gradient as well.
  leak = jax.grad(m.reverse_loss)(params["encoder"], params["decoder"], x["xa"],
                                  x["xb"], key, stop_s=False)
  assert float(jnp.abs(grad["s"]["kernel"]).max()) == 0.0
  assert float(jnp.abs(leak["s"]["kernel"]).max()) > 0.0


@pytest.mark.slow
def test_one_step_compiles_once_and_the_reverse_cycle_has_its_own_adam(monkeypatch):
  monkeypatch.setattr(cycle_vae, "_STEPS", {})
  _, src, m = _method()
  traces = []
  forward = m.forward_loss
  monkeypatch.setattr(m, "forward_loss",
                      lambda *a, **k: traces.append(1) or forward(*a, **k))
  step = m.train_step()
  assert m.train_step() is step
  state = m.init(0)
  for i in range(3):
    state, metrics = step(state, _batch(m, src, i))
  assert int(state["step"]) == 3 and len(traces) == 1
  assert np.isfinite(float(metrics["loss"])) and float(metrics["reverse/loss"]) > 0
  # The same state and batch through the full step and the ablation (w_rev=0):
  # the forward update is the same, so the decoder (which the reverse cycle
  # never updates) and the forward Adam come out equal; only the encoder and
  # the reverse Adam differ.
  _, _, ablated = _method(w_rev=0.0)
  batch = _batch(m, src, 5)
  full, _ = step(jax.tree.map(jnp.copy, state), batch)
  only_fwd, metrics = ablated.train_step()(jax.tree.map(jnp.copy, state), batch)
  assert "reverse/loss" not in metrics
  kill_resume.assert_trees_close(full["params"]["decoder"], only_fwd["params"]["decoder"])
  kill_resume.assert_trees_close(full["opt_state"]["forward"], only_fwd["opt_state"]["forward"])
  assert any(not np.allclose(a, b) for a, b in zip(
      jax.tree.leaves(full["params"]["encoder"]),
      jax.tree.leaves(only_fwd["params"]["encoder"])))
  fwd_mu = _adam_mu(full["opt_state"]["forward"])
  rev_mu = _adam_mu(full["opt_state"]["reverse"])
  assert set(fwd_mu) == {"encoder", "decoder"}
  assert set(rev_mu) == set(full["params"]["encoder"])
  assert np.all(np.asarray(rev_mu["s"]["kernel"]) == 0)   # s is stop-gradiented there
  assert not np.allclose(rev_mu["z_mean"]["kernel"], fwd_mu["encoder"]["z_mean"]["kernel"])
  kill_resume.assert_trees_close(_adam_mu(only_fwd["opt_state"]["reverse"]),
                _adam_mu(state["opt_state"]["reverse"]))   # untouched by the ablation


def _tiny_config(tmp_steps=4):
  c = cycle_cfg.get_config("digits,tiny,z=3,s=2")
  c.train.num_steps = tmp_steps
  c.train.batch_size = 4
  c.model.kwargs.conv_impl = "native"
  c.eval.num_samples = 64
  return c


def _adam_mu(opt_state):
  (adam,) = [x for x in jax.tree.leaves(
      opt_state, is_leaf=lambda n: hasattr(n, "mu") and hasattr(n, "nu"))
             if hasattr(x, "mu")]
  return adam.mu


@pytest.mark.slow
def test_resume_after_kill_then_evaluate_and_transfer(tmp_path):
  c = _tiny_config()
  method, straight, resumed = kill_resume.straight_and_resumed(c, tmp_path)
  kill_resume.assert_trees_close(straight["params"], resumed["params"])
  kill_resume.assert_trees_close(straight["opt_state"], resumed["opt_state"])
  # Evaluation: the shared metrics, the probes and the swap grids.
  src = workdir.image_source(c)
  results = evaluate.evaluate_model(method, resumed, src, c, str(tmp_path / "a" / "eval"))
  for part in ("z", "s"):
    assert set(results["probe"][part]) == {"train", "test"}
    assert 0.0 <= results["probe"][part]["test"] <= 1.0
  assert results["probe"]["factor"] == "digit" and "omes" in results
  saved = json.load(open(tmp_path / "a" / "eval" / "results.json"))
  assert saved["probe"]["s"] == results["probe"]["s"]
  for name in ("swap.png", "swap_factor.png"):
    assert os.path.exists(tmp_path / "a" / "eval" / name)
  # Transfer: fine-tune on a target with the unsupervised cycle objective.
  tgt = transfer_cfg.get_config("digits,tiny")
  tgt.data.kwargs = {"size": 28}
  tgt.train.num_steps = 2
  tgt.eval.num_samples = 64
  tgt.transfer.source_workdir = str(tmp_path / "a")
  out = transfer.transfer_and_evaluate(tgt, str(tmp_path / "t"))
  assert set(out) == {"before", "after"}
  cfg = json.load(open(tmp_path / "t" / "after" / "config.json"))
  assert cfg["method"]["name"] == "cycle_vae_finetune"
  assert cfg["model"]["name"] == "cycle_mnist" and cfg["cycle"]["w_rev"] == 10.0
  lines = [json.loads(l) for l in open(tmp_path / "t" / "after" / "metrics.jsonl")]
  assert [l["step"] for l in lines] == [1, 2] and "reverse/loss" in lines[-1]
