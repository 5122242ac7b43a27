"""Fine-tuning's optimiser: the target's chain, the source's Adam moments carried over,
for every combination of clipping and weight decay on either side."""

import itertools
import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from configs import source as source_cfg
from configs import transfer as transfer_cfg
from dtransfer import train as train_lib
from dtransfer import transfer

_PARAMS = {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.ones(3)}
_CHAINS = list(itertools.product((0.0, 1.0), (0.0, 1e-11)))  # (clip, weight decay)


def _optim(clip, wd, lr=1e-4):
  return ml_collections.ConfigDict({"learning_rate": lr, "b1": 0.9, "b2": 0.999,
                                    "eps": 1e-8, "weight_decay": wd, "grad_clip_norm": clip})


def _adam(state):
  (adam,) = [s for s in transfer._stateful_parts(state)]
  assert isinstance(adam, optax.ScaleByAdamState)
  return adam


def _trained_state(optimizer, steps=3):
  state = optimizer.init(_PARAMS)
  params = _PARAMS
  for i in range(steps):
    grads = jax.tree.map(lambda p: jnp.sin(p + i), params)
    updates, state = optimizer.update(grads, state, params)
    params = optax.apply_updates(params, updates)
  return state


@pytest.mark.parametrize("src,tgt", list(itertools.product(_CHAINS, _CHAINS)))
def test_moments_carry_between_any_two_chains(src, tgt):
  source_state = _trained_state(train_lib.make_optimizer(_optim(*src)))
  target = train_lib.make_optimizer(_optim(*tgt))
  state = transfer.carry_optimizer_state(source_state, target, _PARAMS)
  # The target's structure, the source's moments.
  assert jax.tree.structure(state) == jax.tree.structure(target.init(_PARAMS))
  got, want = _adam(state), _adam(source_state)
  assert int(got.count) == 3
  for a, b in ((got.mu, want.mu), (got.nu, want.nu)):
    jax.tree.map(np.testing.assert_array_equal, a, b)
  # and the target's chain runs on it (the crash of the issue was here).
  updates, _ = target.update(jax.tree.map(jnp.ones_like, _PARAMS), state, _PARAMS)
  assert all(np.all(np.isfinite(u)) for u in jax.tree.leaves(updates))


def test_incompatible_state_names_the_fix():
  sgd_state = optax.sgd(0.1, momentum=0.9).init(_PARAMS)
  with pytest.raises(ValueError, match="reset_optimizer=True"):
    transfer.carry_optimizer_state(sgd_state, train_lib.make_optimizer(_optim(1.0, 0.0)),
                                   _PARAMS)
  other = optax.adam(1e-4).init({"w": jnp.zeros((5,))})
  with pytest.raises(ValueError, match="does not fit"):
    transfer.carry_optimizer_state(other, optax.adam(1e-4), {"w": jnp.zeros((6,))})


def _source_state(optim):
  optimizer = train_lib.make_optimizer(optim)
  return {"step": jnp.asarray(3), "params": _PARAMS, "model_state": {},
          "opt_state": _trained_state(optimizer)}


@pytest.mark.parametrize("reset", [False, True])
def test_initial_state_of_fine_tuning(reset):
  c = transfer_cfg.get_config("noisy_dsprites,tiny")
  c.optim = _optim(0.0, 0.0)
  c.transfer.reset_optimizer = reset
  init = transfer.initial_state(c, _source_state(_optim(1.0, 1e-11)))
  assert int(init["step"]) == 0
  assert int(_adam(init["opt_state"]).count) == (0 if reset else 3)
  assert jax.tree.structure(init["opt_state"]) == jax.tree.structure(
      train_lib.make_optimizer(c.optim).init(_PARAMS))


def test_reference_overrides_take_the_sources_optimiser_settings():
  src = source_cfg.get_config("coil100_augmented_binary,paper")
  tgt = transfer_cfg.get_config("rgbd_objects,paper")
  src.optim.learning_rate = 3e-4
  tuned = transfer.fine_tune_config(tgt, src)
  assert (tuned.optim.learning_rate, tuned.optim.weight_decay) == (1e-4, 0.0)
  assert tuned.optim.grad_clip_norm == 0.0      # the authors' EFFICIENTVAE target
  tgt.transfer.reference_overrides = True
  tuned = transfer.fine_tune_config(tgt, src)
  assert (tuned.optim.learning_rate, tuned.optim.weight_decay) == (3e-4, 1e-11)
  assert tuned.optim.grad_clip_norm == 0.0      # clipping stays the target method's
  assert (tuned.model.beta, tuned.seed) == (1.0, 0)


def test_paper_fine_tuning_clips_as_the_authors_per_target():
  clipped = {t for t in ("color_dsprites", "shapes3d", "noisy_dsprites",
                         "noisy_color_dsprites", "coil100_augmented",
                         "coil100_augmented_binary", "rgbd_objects", "rgbd_objects_depth",
                         "isaac3d")
             if transfer_cfg.get_config(f"{t},paper").optim.grad_clip_norm > 0}
  assert clipped == {"color_dsprites", "shapes3d"}


@pytest.mark.slow
@pytest.mark.parametrize("src_wd,src_clip,tgt_clip,reset", [
    (1e-11, 1.0, 0.0, False),   # the reproduction: Coil100-like source
    (0.0, 0.0, 1.0, False),
    (1e-11, 1.0, 1.0, True),
])
def test_transfer_runs_when_the_chains_differ(tmp_path, src_wd, src_clip, tgt_clip, reset):
  src = source_cfg.get_config("dsprites,tiny")
  src.optim.weight_decay, src.optim.grad_clip_norm = src_wd, src_clip
  src.eval.num_samples = 128
  train_lib.train(src, str(tmp_path / "src"))
  tgt = transfer_cfg.get_config("noisy_dsprites,tiny")
  tgt.optim.grad_clip_norm = tgt_clip
  tgt.transfer.reset_optimizer = reset
  tgt.transfer.source_workdir = str(tmp_path / "src")
  tgt.eval.num_samples = 128
  out = transfer.transfer_and_evaluate(tgt, str(tmp_path / "t"))
  assert set(out) == {"before", "after"}
  with open(tmp_path / "t" / "after" / "config.json") as f:
    saved = json.load(f)
  assert saved["optim"]["grad_clip_norm"] == tgt_clip
  assert saved["optim"]["weight_decay"] == 0.0
  text = open(tmp_path / "t" / "transfer.md").read()
  assert ("fresh Adam state" if reset else "Adam moments carried") in text
  # a killed fine-tuning resumes onto the target's chain
  assert os.path.isdir(tmp_path / "t" / "after" / "checkpoints")


def test_cosine_schedule_and_carry_across_schedules():
  """A cosine source carries its Adam moments into a constant target and back;
  the schedule's counter is the target's own (starts at 0)."""
  cos = ml_collections.ConfigDict(dict(_optim(1.0, 0.0).to_dict(), schedule="cosine",
                                       warmup_steps=2, end_lr_fraction=0.1))
  lr = train_lib.learning_rate(cos, 10)
  assert float(lr(0)) == 0.0 and abs(float(lr(2)) - cos.learning_rate) < 1e-9
  assert abs(float(lr(10)) - 0.1 * cos.learning_rate) < 1e-9
  with pytest.raises(ValueError, match="number of steps"):
    train_lib.make_optimizer(cos)
  bad = ml_collections.ConfigDict(dict(cos.to_dict(), schedule="linear"))
  with pytest.raises(ValueError, match="unknown optim.schedule"):
    train_lib.make_optimizer(bad, 10)
  src = _trained_state(train_lib.make_optimizer(cos, 10))
  for target in (train_lib.make_optimizer(_optim(0.0, 0.0)),
                 train_lib.make_optimizer(cos, 10)):
    carried = transfer.carry_optimizer_state(src, target, _PARAMS)
    adam_src = transfer._stateful_parts(src)[0]
    adam_dst = transfer._stateful_parts(carried)[0]
    np.testing.assert_array_equal(adam_src.count, adam_dst.count)
    for a, b in zip(jax.tree.leaves(adam_src.mu), jax.tree.leaves(adam_dst.mu)):
      np.testing.assert_array_equal(a, b)
    schedules = [p for p in jax.tree.leaves(carried, is_leaf=transfer._is_part)
                 if isinstance(p, optax.ScaleByScheduleState)]
    assert all(int(p.count) == 0 for p in schedules)
