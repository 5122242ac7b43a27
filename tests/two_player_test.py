"""The shared two-player step: each player moves only its own parameters, the
second sees the first's update, model state is threaded, one compile, NaN guard."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dtransfer.methods import two_player


def _players():
  """A 1-D game: the generator g pulls towards the batch mean plus the
  discriminator's d; the discriminator d pulls towards g. Plain SGD, so every
  update is a closed form."""
  def g_loss(g, d, model_state, batch, key):
    del key
    loss = jnp.sum((g["w"] - jnp.mean(batch["x"]) - d["w"]) ** 2)
    return loss, ({"w": g["w"][0]}, {"count": model_state["count"] + 1})

  def d_loss(d, g, model_state, batch, key):
    del batch, key
    loss = jnp.sum((d["w"] - g["w"]) ** 2)
    return loss, ({}, {"count": model_state["count"] + 10})

  return ("gen", g_loss, optax.sgd(0.25)), ("disc", d_loss, optax.sgd(0.5))


def _state(g=0.0, d=1.0):
  first, second = _players()
  params = {"gen": {"w": jnp.array([g])}, "disc": {"w": jnp.array([d])}}
  return two_player.init_state(params, {"count": jnp.zeros((), jnp.int32)},
                               {"gen": first[2], "disc": second[2]})


def test_one_step_matches_closed_form():
  first, second = _players()
  step = two_player.make_step(first, second, seed=0)
  state, metrics = step(_state(g=0.0, d=1.0), {"x": jnp.array([2.0, 4.0])})
  # gen: grad 2 (g - 3 - d) = -8, g' = 0 + 0.25 * 8 = 2 (d held at 1).
  # disc then sees g' = 2: grad 2 (d - 2) = -2, d' = 1 + 0.5 * 2 = 2.
  np.testing.assert_allclose(state["params"]["gen"]["w"], [2.0])
  np.testing.assert_allclose(state["params"]["disc"]["w"], [2.0])
  assert int(state["model_state"]["count"]) == 11   # threaded: gen +1, then disc +10
  assert int(state["step"]) == 1
  np.testing.assert_allclose(metrics["gen/loss"], 16.0)
  np.testing.assert_allclose(metrics["disc/loss"], 1.0)
  np.testing.assert_allclose(metrics["gen/w"], 0.0)
  assert bool(metrics["finite"])


def test_each_player_moves_only_its_own_parameters():
  """With the other player's learning rate at zero, its parameters stay put."""
  (n1, l1, _), (n2, l2, _) = _players()
  frozen = optax.sgd(0.0)
  step = two_player.make_step((n1, l1, optax.sgd(0.25)), (n2, l2, frozen), seed=0)
  state, _ = step(_state(), {"x": jnp.array([2.0, 4.0])})
  np.testing.assert_allclose(state["params"]["disc"]["w"], [1.0])
  step = two_player.make_step((n1, l1, frozen), (n2, l2, optax.sgd(0.5)), seed=0)
  state, _ = step(_state(), {"x": jnp.array([2.0, 4.0])})
  np.testing.assert_allclose(state["params"]["gen"]["w"], [0.0])


def test_optimiser_states_are_separate():
  (n1, l1, _), (n2, l2, _) = _players()
  txs = {"gen": optax.adam(0.1), "disc": optax.sgd(0.5)}
  params = {"gen": {"w": jnp.array([0.0])}, "disc": {"w": jnp.array([1.0])}}
  state = two_player.init_state(params, {"count": jnp.zeros((), jnp.int32)}, txs)
  step = two_player.make_step((n1, l1, txs["gen"]), (n2, l2, txs["disc"]), seed=0)
  state, _ = step(state, {"x": jnp.array([2.0, 4.0])})
  assert isinstance(state["opt_state"]["gen"][0], optax.ScaleByAdamState)
  # Adam's first moment holds the generator's gradient (-8) only.
  np.testing.assert_allclose(state["opt_state"]["gen"][0].mu["w"], [-0.8], rtol=1e-6)


def test_compiles_once():
  traces = []
  (n1, l1, t1), second = _players()

  def counted(*args):
    traces.append(1)
    return l1(*args)

  step = two_player.make_step((n1, counted, t1), second, seed=0)
  state = _state()
  for i in range(4):
    state, _ = step(state, {"x": jnp.array([float(i), 1.0])})
  assert len(traces) == 1


def test_non_finite_step_keeps_the_state():
  first, second = _players()
  step = two_player.make_step(first, second, seed=0)
  state, _ = step(_state(), {"x": jnp.array([2.0, 4.0])})
  before = jax.device_get(state)
  state, metrics = step(state, {"x": jnp.array([np.nan, 1.0])})
  assert not bool(metrics["finite"])
  np.testing.assert_array_equal(state["params"]["gen"]["w"], before["params"]["gen"]["w"])
  np.testing.assert_array_equal(state["params"]["disc"]["w"], before["params"]["disc"]["w"])
  assert int(state["model_state"]["count"]) == int(before["model_state"]["count"])


def test_players_need_distinct_names():
  first, second = _players()
  with pytest.raises(ValueError, match="different names"):
    two_player.make_step(first, ("gen",) + second[1:], seed=0)
