"""The two-player step shared by the adversarial methods (DIDD, CDRD).

Both train two players with their own parameters and their own optax state:
an autoencoder or generator ("first") and a discriminator ("second"). One
jitted step updates the first player against the discriminator's current
parameters, then the second player against the *updated* first player, whose
parameters it sees only under ``stop_gradient`` (the discriminator recomputes
codes or fakes from them, as the official DIDD and CDRD code do).

The state is the method interface's pytree::

  {"step": int32,
   "params":      {first: ..., second: ...},
   "model_state": {...},                 # e.g. spectral-norm vectors, BatchNorm
   "opt_state":   {first: ..., second: ...}}

A player's loss is a pure function::

  loss(own_params, other_params, model_state, batch, key)
      -> (loss, (metrics: dict, new_model_state))

differentiated with respect to ``own_params`` only, so a player's step can
never change the other player's parameters. ``model_state`` is threaded: the
first player's new state is what the second player starts from. A step where
either player's loss or gradient, or any updated parameter or optimiser
state, is not finite leaves the whole state as it was (the NaN guard).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from dtransfer.methods import base

PlayerLoss = Callable[..., tuple]


def init_state(params: dict, model_state: dict, txs: dict) -> dict:
  """The step-0 state: ``params`` and ``txs`` are keyed by player name."""
  return {"step": jnp.zeros((), jnp.int32), "params": params, "model_state": model_state,
          "opt_state": {name: txs[name].init(params[name]) for name in params}}


def _all_finite(tree) -> jnp.ndarray:
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _play(loss_fn, tx, own, other, opt_state, model_state, batch, key):
  (loss, (metrics, model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      own, jax.lax.stop_gradient(other), model_state, batch, key)
  updates, opt_state = tx.update(grads, opt_state, own)
  own = optax.apply_updates(own, updates)
  norm = optax.global_norm(grads)
  finite = (jnp.isfinite(loss) & jnp.isfinite(norm) & _all_finite(own)
            & _all_finite(opt_state))
  return own, opt_state, model_state, loss, norm, finite, metrics


def make_step(first: tuple[str, PlayerLoss, optax.GradientTransformation],
              second: tuple[str, PlayerLoss, optax.GradientTransformation],
              seed: int, jit: bool = True):
  """The ``(state, batch) -> (state, metrics)`` step of two players.

  Args:
    first, second: ``(name, loss_fn, optax transform)`` of each player, in the
      order they move (e.g. ``("ae", ae_loss, ae_tx)``, ``("disc", d_loss, d_tx)``).
    seed: the run's seed; each step's keys are ``fold_in(seed key, step)``.
    jit: return the step jitted with the state donated (the default).

  Metrics are the players' own, prefixed ``<name>/``, plus ``loss`` (the first
  player's), ``<name>/loss``, ``<name>/grad_norm`` and ``finite``.
  """
  (n1, loss1, tx1), (n2, loss2, tx2) = first, second
  if n1 == n2:
    raise ValueError(f"the two players need different names, got '{n1}' twice.")
  base_key = jax.random.fold_in(jax.random.PRNGKey(seed), 2)

  def step(state, batch):
    k1, k2 = jax.random.split(jax.random.fold_in(base_key, state["step"]))
    params, opt = state["params"], state["opt_state"]
    p1, o1, ms, l1, g1, f1, m1 = _play(loss1, tx1, params[n1], params[n2], opt[n1],
                                       state["model_state"], batch, k1)
    p2, o2, ms, l2, g2, f2, m2 = _play(loss2, tx2, params[n2], p1, opt[n2],
                                       ms, batch, k2)
    finite = f1 & f2 & _all_finite(ms)
    new = {"step": state["step"] + 1,
           "params": {n1: p1, n2: p2},
           "model_state": ms,
           "opt_state": {n1: o1, n2: o2}}
    kept = base.keep_if_finite(finite, {k: v for k, v in new.items() if k != "step"},
                               {k: v for k, v in state.items() if k != "step"})
    metrics = {"loss": l1, f"{n1}/loss": l1, f"{n2}/loss": l2,
               f"{n1}/grad_norm": g1, f"{n2}/grad_norm": g2, "finite": finite,
               **{f"{n1}/{k}": v for k, v in m1.items()},
               **{f"{n2}/{k}": v for k, v in m2.items()}}
    return {"step": new["step"], **kept}, metrics

  return jax.jit(step, donate_argnums=(0,)) if jit else step
