"""Fault injection on training runs: SIGKILL, a corrupt latest checkpoint,
NaN, a concurrent run. Each resumed run must match an uninterrupted one
bit for bit, and the work directory must end with verified checkpoints only."""

import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from dtransfer import checkpoint
from dtransfer import jsonl_writer
from dtransfer import train as train_lib
from dtransfer import workdir_lock
from tests.train_test import blob_source
from tests.train_test import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 5
_RUN = """
import sys
sys.path.insert(0, {root!r})
from tests import conftest
from tests.fault_train_test import _config
from tests.train_test import blob_source
from dtransfer import train
train.train(_config(), {wd!r}, images=blob_source())
"""


def _config(**kw):
  return tiny_config(num_steps=kw.pop("num_steps", STEPS), **kw)


def _equal(a, b):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _verified_steps(wd, state):
  ck = checkpoint.Checkpointer(os.path.join(wd, "checkpoints"))
  try:
    for s in ck.steps():
      ck.verify(s, state)
    return ck.steps()
  finally:
    ck.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  wd = str(tmp_path_factory.mktemp("ref"))
  _, state = train_lib.train(_config(), wd, images=blob_source())
  return state


@pytest.mark.slow
def test_sigkill_mid_training_or_mid_write_resumes_bit_identically(reference, tmp_path):
  wd = str(tmp_path / "w")
  p = subprocess.Popen([sys.executable, "-c", _RUN.format(root=ROOT, wd=wd)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  ck = os.path.join(wd, "checkpoints")
  deadline = time.time() + 300
  killed_at = None
  while time.time() < deadline and p.poll() is None:
    names = os.listdir(ck) if os.path.isdir(ck) else []
    # Kill while a checkpoint is being written, or at the latest after step 2.
    if any("tmp" in n for n in names) or "2" in names:
      p.send_signal(signal.SIGKILL)
      killed_at = sorted(names)
      break
    time.sleep(0.005)
  p.wait()
  assert killed_at is not None, "the run ended before it could be killed"
  # The killed run's lock is stale and is taken over; the run resumes and finishes.
  _, resumed = train_lib.train(_config(), wd, images=blob_source())
  _equal(resumed, reference)
  rows = jsonl_writer.read(os.path.join(wd, "metrics.jsonl"))
  assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
  assert _verified_steps(wd, reference) == [STEPS - 1, STEPS]


@pytest.mark.slow
def test_corrupt_latest_falls_back_moves_aside_and_finishes_identically(reference, tmp_path):
  wd = str(tmp_path / "w")
  train_lib.train(_config(), wd, images=blob_source(), stop_after=3)
  step_dir = os.path.join(wd, "checkpoints", "3", "state")
  data = sorted(os.path.join(r, f) for r, _, fs in os.walk(step_dir) for f in fs
                if os.sep + "d" + os.sep in os.path.join(r, f))[0]
  with open(data, "r+b") as f:  # a 4 KB overwrite, as a disk fault would
    f.write(os.urandom(min(4096, os.path.getsize(data))))
  _, resumed = train_lib.train(_config(), wd, images=blob_source())
  _equal(resumed, reference)
  assert os.listdir(os.path.join(wd, "checkpoints_corrupt"))[0].startswith("3-")
  assert _verified_steps(wd, reference) == [STEPS - 1, STEPS]
  rows = jsonl_writer.read(os.path.join(wd, "metrics.jsonl"))
  assert [r["step"] for r in rows] == list(range(1, STEPS + 1))


@pytest.mark.slow
def test_nan_keeps_the_good_checkpoints_and_a_rerun_trains_again(tmp_path):
  c = _config(num_steps=6, **{"optim.learning_rate": 1e30, "optim.grad_clip_norm": 0.0,
                              "train.keep_checkpoints": 1})
  wd = str(tmp_path / "w")
  with pytest.raises(FloatingPointError, match=r"non-finite .* at step (\d+)") as first:
    train_lib.train(c, wd, images=blob_source())
  ck = checkpoint.Checkpointer(os.path.join(wd, "checkpoints"))
  before = ck.steps()
  ck.close()
  # Every checkpoint left is intact and finite (verify checks both).
  target = train_lib.methods.get_method(
      c, train_lib.workdir_lib.build_model(c, blob_source().image_shape)).init(0)
  assert _verified_steps(wd, target) == before
  with pytest.raises(FloatingPointError) as second:
    train_lib.train(c, wd, images=blob_source())
  # The rerun resumed from the same checkpoint and failed at the same step:
  # no step was counted without training.
  assert str(second.value).split("(loss")[0] == str(first.value).split("(loss")[0]
  ck = checkpoint.Checkpointer(os.path.join(wd, "checkpoints"))
  assert ck.steps() == before
  ck.close()


def test_concurrent_training_run_is_refused_before_writing(tmp_path):
  holder = subprocess.Popen(
      [sys.executable, "-c", f"import sys; sys.path.insert(0, {ROOT!r});"
       f"from dtransfer import workdir_lock; workdir_lock.WorkdirLock({str(tmp_path)!r})"
       ".acquire(); print('locked', flush=True); import time; time.sleep(60)"],
      stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(workdir_lock.WorkdirLockedError, match=f"process {holder.pid}"):
      train_lib.train(_config(), str(tmp_path), images=blob_source())
    assert os.listdir(tmp_path) == [".lock"]
  finally:
    holder.kill()
    holder.wait()
