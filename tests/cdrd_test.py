"""CDRD / E-CDRD: losses against hand-computed values, where shared and
per-domain parameters live, target labels never reach training, each
player's step moves only its own parameters, one compile, resume after a kill,
E-CDRD's encoder learns from L_vae only, and the launch writes the UDA scores."""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import cdrd as cdrd_cfg
from dtransfer import methods
from dtransfer import train as train_lib
from dtransfer import workdir
from dtransfer.data import domains
from dtransfer.data.factor_space import FactorSpace
from dtransfer.methods import cdrd
from dtransfer.methods import cdrd_losses as L
from dtransfer.methods import cdrd_nets as nets
from dtransfer.methods import two_player
from tests import kill_resume


# Losses ---------------------------------------------------------------------
def test_rf_and_class_cross_entropies_match_hand_values():
  logits = jnp.array([[0.0, 0.0], [0.0, math.log(3.0)]])
  # softmax rows: (1/2, 1/2), (1/4, 3/4); real = index 1.
  np.testing.assert_allclose(L.rf_ce(logits, True), -(math.log(.5) + math.log(.75)) / 2,
                             rtol=1e-6)
  np.testing.assert_allclose(L.rf_ce(logits, False), -(math.log(.5) + math.log(.25)) / 2,
                             rtol=1e-6)
  cls = jnp.array([[math.log(2.0), 0.0, 0.0], [0.0, 0.0, 0.0]])   # (1/2, 1/4, 1/4); 1/3 each
  np.testing.assert_allclose(L.class_ce(cls, jnp.array([0, 2])),
                             -(math.log(.5) + math.log(1 / 3)) / 2, rtol=1e-6)


def _out(rf, cls):
  return {"rf": jnp.array(rf, jnp.float32), "cls": jnp.array(cls, jnp.float32)}


def test_discriminator_and_generator_losses_match_the_official_formula():
  ln2, ln3 = math.log(2.0), math.log(3.0)
  even = [[0.0, 0.0]]                    # real/fake CE = ln 2 either way
  sure_real = [[0.0, ln3]]               # p(real) = 3/4
  real_s = _out(sure_real, [[ln3, 0.0]])      # p(class 0) = 3/4
  fake_s = _out(even, [[0.0, 0.0]])           # p = 1/2
  real_t = _out(even, [[0.0, 0.0]])           # its class logits must not matter
  fake_t = _out(sure_real, [[0.0, ln3]])      # p(class 1) = 3/4
  ls, lf = jnp.array([0]), jnp.array([1])
  lam = 0.5
  loss, parts = L.discriminator_loss(real_s, fake_s, real_t, fake_t, ls, lf, lam)
  adv = (-math.log(.75) + ln2) / 2 + (ln2 - math.log(.25)) / 2
  dis = (-math.log(.75) + ln2) / 2 + (-math.log(.75)) / 2
  np.testing.assert_allclose(parts["adv"], adv, rtol=1e-6)
  np.testing.assert_allclose(parts["dis"], dis, rtol=1e-6)
  np.testing.assert_allclose(loss, adv + lam * dis, rtol=1e-6)
  # Target labels cannot enter: any class logits on real target give the same loss.
  poisoned = _out(even, [[9.0, -9.0]])
  np.testing.assert_allclose(L.discriminator_loss(real_s, fake_s, poisoned, fake_t, ls, lf,
                                                  lam)[0], loss, rtol=1e-6)
  gloss, gparts = L.generator_loss(fake_s, fake_t, lf, lam)
  np.testing.assert_allclose(gparts["adv"], ln2 - math.log(.75), rtol=1e-6)
  np.testing.assert_allclose(gparts["dis"], ln2 / 2 - math.log(.75) / 2, rtol=1e-6)
  np.testing.assert_allclose(gloss, gparts["adv"] + lam * gparts["dis"], rtol=1e-6)


def test_vae_loss_matches_hand_values():
  x = jnp.zeros((2, 2, 1, 1))
  rec = jnp.array([1.0, 1.0, 0.0, 2.0]).reshape(2, 2, 1, 1)     # SSE 2 and 4
  mean = jnp.array([[1.0], [0.0]])
  logvar = jnp.array([[0.0], [math.log(2.0)]])   # KL 0.5 and 0.5 (2 - ln2 - 1)
  kl1, kl2 = 0.5, 0.5 * (2.0 - math.log(2.0) - 1.0)
  loss, parts = L.vae_loss(x, rec, mean, logvar)
  np.testing.assert_allclose(loss, ((2 + kl1) + (4 + kl2)) / 2 / 2, rtol=1e-6)
  np.testing.assert_allclose(parts["rec"], 3 / 2, rtol=1e-6)


# Networks -------------------------------------------------------------------
def _config(pair="digits_to_rendered", method="cdrd", **over):
  c = cdrd_cfg.get_config(f"{pair},tiny,method={method}")
  c.method.target.kwargs.instances = 2        # 400 rendered targets: fast
  for k, v in over.items():
    node = c
    *path, last = k.split(".")
    for p in path:
      node = node[p]
    node[last] = v
  return c


def _method(c, source=None):
  source = source or workdir.image_source(c)
  return methods.get_method(c, workdir.build_model(c, source.image_shape)), source


def test_shared_and_per_domain_parameters_land_where_the_architecture_says():
  m, _ = _method(_config())
  params = m.init_params(0)
  g, d = params["gen"]["generator"], params["disc"]
  # Generator: shared high-level trunk, one output layer per domain (1 vs 3 channels).
  assert {nets.domain_of(k) for k in g} == {"shared", "source", "target"}
  assert [k for k in g if nets.domain_of(k) != "shared"] == ["heads_source", "heads_target"]
  assert g["heads_source"]["kernel"].shape[-1] == 1 and g["heads_target"]["kernel"].shape[-1] == 3
  # Discriminator: per-domain first conv, the rest (both heads too) shared.
  assert sorted(k for k in d if nets.domain_of(k) != "shared") == ["stems_source", "stems_target"]
  assert d["stems_source"]["kernel"].shape[2] == 1 and d["stems_target"]["kernel"].shape[2] == 3
  assert {"rf_head", "cls_head", "trunk_embed"} <= set(d)


@pytest.mark.slow
def test_gradients_reach_only_the_domain_that_was_used():
  m, _ = _method(_config())
  params = m.init_params(0)
  g, d = params["gen"]["generator"], params["disc"]
  norm = lambda t: float(optax.global_norm(t))
  # A source-only loss reaches the shared trunk and the source stem, never the target's.
  x = jnp.ones((2, 28, 28, 1)) * .3
  grads = jax.jit(jax.grad(lambda p: jnp.sum(m.model.discriminator.apply(
      {"params": p}, x, "source")["cls"] ** 2)))(d)
  assert norm(grads["stems_target"]) == 0.0
  assert norm(grads["stems_source"]) > 0 and norm(grads["trunk_conv2"]) > 0
  z, onehot = jnp.ones((2, 8)), jax.nn.one_hot(jnp.array([1, 2]), 10)
  ggrads = jax.jit(jax.grad(lambda p: jnp.sum(m.model.generator.apply(
      {"params": p}, z, onehot, "target"))))(g)
  assert norm(ggrads["heads_source"]) == 0.0
  assert norm(ggrads["heads_target"]) > 0 and norm(ggrads["trunk_0"]) > 0


def test_bad_settings_fail_clearly():
  with pytest.raises(ValueError, match="28x28 only"):
    nets.check_arch("digits", 32)
  with pytest.raises(ValueError, match="power-of-two"):
    nets.check_arch("dcgan", 48)
  with pytest.raises(ValueError, match="mnist_to_svhn.*digits_to_rendered"):
    cdrd_cfg.get_config("mnist_to_svhn,tiny")
  with pytest.raises(ValueError, match="no factor 'colour'"):
    domains.factor_index(FactorSpace(("digit",), (10,)), "colour")
  assert cdrd_cfg.get_config("tiny").method.target.name == "rendered_digits"
  assert cdrd_cfg.get_config("dsprites_to_color,quick").method.image_size == 32


# Data -----------------------------------------------------------------------
def test_split_is_disjoint_and_covers_the_source():
  src = workdir.image_source(_config())
  train, test = domains.split(src, "train", .3), domains.split(src, "test", .3)
  assert not set(train.available) & set(test.available)
  assert len(train.available) + len(test.available) == src.space.num_records
  assert 0.2 < len(test.available) / src.space.num_records < 0.4


def test_two_domain_batches_carry_no_target_labels_and_repeat():
  c = _config()
  m, src = _method(c)
  b = m.batches(src, (0, 1))
  first, again = b[3], b[3]
  assert set(first) == {"xs", "ls", "xt", "z", "lf"}
  for k in first:
    np.testing.assert_array_equal(first[k], again[k])
  assert first["xs"].shape == (4, 28, 28, 1) and first["xt"].shape == (4, 28, 28, 3)


# Training (slow: XLA compiles the coupled GAN) --------------------------------
class _PoisonedSpace(FactorSpace):
  """The same grid, but factor 0 (the attribute) reads back as another class."""

  def factors(self, index):
    f = super().factors(index)
    f[:, 0] = (f[:, 0] + 1 + np.asarray(index) % 7) % self.sizes[0]
    return f


class _Poisoned:
  def __init__(self, base):
    self.base, self.image_shape = base, base.image_shape
    self.space = _PoisonedSpace(base.space.names, base.space.sizes)

  def images(self, index, rng=None):
    return self.base.images(index, rng)


@pytest.mark.slow
def test_step_compiles_once_and_each_player_moves_only_its_own(monkeypatch):
  traces = []
  g = L.generator_loss
  monkeypatch.setattr(L, "generator_loss", lambda *a, **k: traces.append(1) or g(*a, **k))
  m, src = _method(_config())
  batches = m.batches(src, (0, 1))
  step = m.train_step()
  state = m.init(0)
  for i in range(3):
    state, metrics = step(state, m.device_batch(batches[i]))
  assert len(traces) == 1 and int(state["step"]) == 3 and bool(metrics["finite"])
  # With one player's learning rate at 0 its parameters stay exactly put.
  adam, frozen = m.optimizer(), optax.sgd(0.0)
  for moving, still in (("gen", "disc"), ("disc", "gen")):
    txs = {moving: adam, still: frozen}
    st = two_player.init_state(m.init_params(1), {}, txs)
    before = jax.device_get(st["params"])
    step = two_player.make_step(("gen", m.gen_loss, txs["gen"]),
                                ("disc", m.disc_loss, txs["disc"]), seed=0, jit=False)
    st, _ = step(st, m.device_batch(batches[0]))
    kill_resume.assert_trees_close(st["params"][still], before[still], rtol=0, atol=0)
    assert float(optax.global_norm(jax.tree.map(lambda a, b: a - b, st["params"][moving],
                                                before[moving]))) > 0


@pytest.mark.slow
def test_ecdrd_encoder_learns_from_the_vae_term_only():
  grads = {}
  for w in (0.0, 1.0):
    m, src = _method(_config(method="ecdrd", **{"method.translation_weight": w}))
    params = m.init_params(0)
    batch = jax.tree.map(jnp.asarray, m.device_batch(m.batches(src, (0, 1))[0]))
    grads[w] = jax.grad(lambda p: m.gen_loss(p, params["disc"], {}, batch,
                                             jax.random.PRNGKey(3))[0])(params["gen"])
  # Translations add GAN terms for the generator, nothing for the encoder.
  for x, y in zip(jax.tree.leaves(grads[0.0]["encoder"]), jax.tree.leaves(grads[1.0]["encoder"])):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-7)
  diff = jax.tree.map(lambda a, b: a - b, grads[0.0]["generator"], grads[1.0]["generator"])
  assert float(optax.global_norm(diff)) > 0
  assert float(optax.global_norm(grads[0.0]["encoder"])) > 0


@pytest.mark.slow
def test_resume_and_poisoned_target_labels_then_results_hold_the_uda_scores(
    tmp_path, monkeypatch):
  """One straight run is the reference for both: a run killed after 2 steps and
  resumed, and a run whose target labels are poisoned, end bit-identical."""
  c = _config(**{"train.num_steps": 3})
  _, straight, resumed = kill_resume.straight_and_resumed(c, tmp_path)
  kill_resume.assert_trees_close(straight["params"], resumed["params"], rtol=0, atol=0)
  kill_resume.assert_trees_close(straight["opt_state"], resumed["opt_state"], rtol=0, atol=0)
  results = train_lib.train_and_evaluate(c, str(tmp_path / "b"))
  uda = results["uda"]
  assert 0 <= uda["target_accuracy"] <= 1 and 0 <= uda["source_only_accuracy"] <= 1
  with open(tmp_path / "b" / "eval" / "results.json") as f:
    assert json.load(f)["uda"]["target_accuracy"] == uda["target_accuracy"]
  for name in ("generations.png", "embedding_tsne.png"):
    assert os.path.getsize(tmp_path / "b" / "eval" / name) > 0
  # Poisoned target labels: identical parameters ...
  clean = cdrd.target_source(c)
  monkeypatch.setattr(cdrd, "target_source", lambda config: _Poisoned(clean))
  _, poisoned = train_lib.train(c, str(tmp_path / "c"))
  kill_resume.assert_trees_close(straight["params"], poisoned["params"], rtol=0, atol=0)
  # ... while the poison is real: the scorer reads the (poisoned) labels.
  m, _ = _method(c)
  assert not np.array_equal(m.target.space.factors(np.arange(50)),
                            clean.space.factors(np.arange(50)))
