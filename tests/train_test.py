"""Training loop: compiles once, resumes exactly, refuses a foreign workdir, guards NaN."""

import json
import os

import numpy as np
import pytest

from configs import source as source_cfg
from dtransfer import checkpoint
from dtransfer import losses
from dtransfer import methods
from dtransfer import train as train_lib
from dtransfer import workdir
from dtransfer.data import pairs
from dtransfer.data.factor_space import FactorSpace
from dtransfer.data.sources import ArraySource
from tests import kill_resume


def blob_source():
  """A 4x5 grid of Gaussian blobs at known positions: a tiny factor dataset."""
  space = FactorSpace(("x", "y"), (4, 5))
  yy, xx = np.mgrid[:64, :64]
  f = space.factors(np.arange(space.num_records))
  cx, cy = 12 + 13 * f[:, 0], 10 + 11 * f[:, 1]
  img = np.exp(-((xx[None] - cx[:, None, None]) ** 2 + (yy[None] - cy[:, None, None]) ** 2) / 30)
  return ArraySource((255 * img[..., None]).astype(np.uint8), space)


def tiny_config(**overrides):
  c = source_cfg.get_config("dsprites,tiny")
  c.train.num_steps = overrides.pop("num_steps", 4)
  c.train.batch_size = 4
  c.eval.num_samples = 64
  for k, v in overrides.items():
    node = c
    *path, last = k.split(".")
    for p in path:
      node = node[p]
    node[last] = v
  return c


@pytest.mark.slow
def test_train_step_compiles_once(monkeypatch):
  # The loss is Python code run only while jax traces the step: counting its
  # calls counts traces (hence compilations) through public behaviour.
  traces = []
  forward = losses.paired_elbo_forward
  monkeypatch.setattr(losses, "paired_elbo_forward",
                      lambda *a, **k: traces.append(1) or forward(*a, **k))
  c = tiny_config()
  src = blob_source()
  method = methods.get_method(c, workdir.build_model(c, src.image_shape))
  state = method.init(0)
  step = method.train_step()
  batches = pairs.WeakPairBatches(src, 4, seed=0)
  for i in range(3):
    b = batches[i]
    state, m = step(state, {k: b[k] for k in ("x1", "x2", "label")})
  assert int(state["step"]) == 3
  assert len(traces) == 1, f"the step was traced {len(traces)} times"
  assert np.isfinite(float(m["loss"]))


@pytest.mark.slow
def test_resume_after_kill_matches_uninterrupted(tmp_path):
  c = tiny_config(num_steps=4)
  # "kill" after 2 steps, then start again in the same workdir.
  _, straight, resumed = kill_resume.straight_and_resumed(c, tmp_path, images=blob_source())
  kill_resume.assert_trees_close(straight["params"], resumed["params"])
  kill_resume.assert_trees_close(straight["opt_state"], resumed["opt_state"])
  lines = [json.loads(l) for l in open(tmp_path / "b" / "metrics.jsonl")]
  assert [l["step"] for l in lines] == [1, 2, 3, 4]
  assert all("steps_per_sec" in l and "loss" in l for l in lines)


@pytest.mark.slow
def test_workdir_of_another_experiment_is_refused(tmp_path):
  src = blob_source()
  train_lib.train(tiny_config(num_steps=1), str(tmp_path), images=src)
  with pytest.raises(ValueError, match="different experiment.*model.beta"):
    train_lib.train(tiny_config(num_steps=1, **{"model.beta": 2.0}), str(tmp_path), images=src)
  # more steps is a resume, not another experiment
  train_lib.train(tiny_config(num_steps=2), str(tmp_path), images=src)


@pytest.mark.slow
def test_corrupt_checkpoint_falls_back_then_fails_clearly(tmp_path):
  src = blob_source()
  c = tiny_config(num_steps=2)
  train_lib.train(c, str(tmp_path), images=src)
  ck = tmp_path / "checkpoints"
  steps = sorted(int(p.name) for p in ck.iterdir() if p.name.isdigit())
  assert steps == [1, 2]
  def corrupt(step):
    for root, _, files in os.walk(ck / str(step)):
      for f in files:
        with open(os.path.join(root, f), "wb") as fh:
          fh.write(b"garbage")
  corrupt(2)
  _, state = workdir.load_trained(c, str(tmp_path), image_shape=src.image_shape)
  assert int(state["step"]) == 1
  corrupt(1)
  with pytest.raises(checkpoint.CheckpointError, match="no readable checkpoint"):
    workdir.load_trained(c, str(tmp_path), image_shape=src.image_shape)
  with pytest.raises(FileNotFoundError, match="not a dtransfer work directory"):
    workdir.load_trained(c, str(tmp_path / "nowhere"), image_shape=src.image_shape)


@pytest.mark.slow
def test_nan_guard_stops_with_a_clear_error(tmp_path):
  c = tiny_config(num_steps=3, **{"optim.learning_rate": 1e30, "optim.grad_clip_norm": 0.0})
  with pytest.raises(FloatingPointError, match="non-finite"):
    train_lib.train(c, str(tmp_path), images=blob_source())
