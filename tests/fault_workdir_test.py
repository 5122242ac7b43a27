"""Fault injection, fast tier: the work-directory lock, the NaN guard of the
whole state, metrics.jsonl after resumes, and config / path validation."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from configs import common as common_cfg
from configs import main_job as main_job_cfg
from configs import source as source_cfg
from dtransfer import config_check
from dtransfer import jsonl_writer
from dtransfer import workdir as workdir_lib
from dtransfer import workdir_lock
from dtransfer.methods import base

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_HOLDER = """
import sys, time
sys.path.insert(0, {root!r})
from dtransfer import workdir_lock
lock = workdir_lock.WorkdirLock({wd!r}).acquire()
print("locked", flush=True)
time.sleep(60)
"""


def _hold_lock(wd):
  p = subprocess.Popen([sys.executable, "-c", _HOLDER.format(root=ROOT, wd=str(wd))],
                       stdout=subprocess.PIPE, text=True)
  assert p.stdout.readline().strip() == "locked"
  return p


# Work-directory lock --------------------------------------------------------
def test_second_process_is_refused_with_pid_and_host_then_stale_lock_taken_over(tmp_path):
  holder = _hold_lock(tmp_path)
  try:
    with pytest.raises(workdir_lock.WorkdirLockedError,
                       match=rf"in use by process {holder.pid} on host {socket.gethostname()}"):
      workdir_lock.WorkdirLock(tmp_path).acquire()
  finally:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
  # The dead holder's file is still there; its lock went with it.
  assert json.load(open(tmp_path / ".lock"))["pid"] == holder.pid
  with workdir_lock.WorkdirLock(tmp_path) as lock:
    assert lock.took_over["pid"] == holder.pid
    assert json.load(open(tmp_path / ".lock"))["pid"] == os.getpid()
  assert not (tmp_path / ".lock").exists()  # released cleanly: nothing left


def test_lock_is_reentrant_within_a_process_but_exclusive_per_open(tmp_path):
  with workdir_lock.WorkdirLock(tmp_path):
    with workdir_lock.WorkdirLock(tmp_path):  # a nested stage of the same run
      pass
    assert (tmp_path / ".lock").exists()
  assert not (tmp_path / ".lock").exists()


# NaN guard ------------------------------------------------------------------
def test_guard_keeps_whole_state_when_the_update_is_not_finite():
  """Loss and gradient finite, but the optimiser state overflows: kept, step too."""
  def step(state, scale):
    new = {"step": state["step"] + 1, "params": {"w": state["params"]["w"] + 1.0},
           "opt_state": ({"nu": state["opt_state"][0]["nu"] * scale},)}
    return base.guard_state(jnp.isfinite(scale), new, state)

  step = jax.jit(step)
  s0 = {"step": jnp.int32(3), "params": {"w": jnp.ones(4)},
        "opt_state": ({"nu": jnp.full(4, 1e30, jnp.float32)},)}
  s1, ok = step(s0, jnp.float32(2.0))
  assert bool(ok) and int(s1["step"]) == 4
  s2, ok = step(s0, jnp.float32(1e10))  # 1e40 overflows float32 to inf
  assert not bool(ok)
  assert int(s2["step"]) == 3  # no step without training
  for a, b in zip(jax.tree.leaves(s2), jax.tree.leaves(s0)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# metrics.jsonl ----------------------------------------------------------------
def test_metrics_have_one_row_per_step_after_any_number_of_resumes(tmp_path):
  path = tmp_path / "metrics.jsonl"
  # Run 1 logs 1..5 and is killed (torn last line) with its checkpoint at 3.
  w = jsonl_writer.MetricWriter(str(tmp_path))
  for s in range(1, 6):
    w.write(s, loss=float(s))
  with open(path, "a") as f:
    f.write('{"step": 6, "lo')
  # Run 2 resumes at 3, logs 4..7, is killed; checkpoint at 6.
  w = jsonl_writer.MetricWriter(str(tmp_path), resume_step=3)
  for s in range(4, 8):
    w.write(s, loss=float(s))
  # Run 3 resumes at 6 and finishes at 9.
  w = jsonl_writer.MetricWriter(str(tmp_path), resume_step=6)
  for s in range(7, 10):
    w.write(s, loss=float(s))
  rows = jsonl_writer.read(str(path))
  assert [r["step"] for r in rows] == list(range(1, 10))


# Config and paths -------------------------------------------------------------
BAD_VALUES = [
    ("train.batch_size", -4), ("train.batch_size", 0), ("train.batch_size", 2.5),
    ("train.num_steps", 0), ("train.log_every", 0), ("train.checkpoint_every", -1),
    ("train.keep_checkpoints", 0), ("eval.batch_size", -1), ("eval.num_samples", 0),
    ("optim.learning_rate", -1e-3), ("optim.learning_rate", float("nan")),
    ("optim.b1", 1.0), ("optim.schedule", "cosin"), ("optim.grad_clip_norm", -1.0),
    ("model.num_latents", 0), ("model.beta", -1.0), ("model.name", "dlib_con"),
    ("data.name", "dsprite"), ("data.k", 0), ("data.pair_mode", "exactly"),
    ("method.name", "weak_va"), ("loss.aggregator", "label"), ("seed", -1),
    ("seed", "0"), ("eval.metrics", "omes,mig"), ("eval.metrics", ["omes", "migg"]),
]


@pytest.mark.parametrize("field,value", BAD_VALUES)
def test_every_bad_value_names_its_field(field, value):
  c = ml_collections.ConfigDict(source_cfg.get_config("dsprites,tiny").to_dict(),
                                type_safe=False)
  *path, last = field.split(".")
  node = c
  for p in path:
    node = node[p]
  node[last] = value
  with pytest.raises(config_check.ConfigError, match=field.replace(".", r"\.")):
    config_check.validate(c)


def test_unknown_fields_and_divisibility_and_main_job_parts():
  c = source_cfg.get_config("dsprites,tiny")
  c.train.batchsize = 3
  with pytest.raises(config_check.ConfigError, match=r"train\.batchsize.*'batch_size'"):
    config_check.validate(c)
  c = source_cfg.get_config("dsprites,tiny")
  c.train.batch_size = 6
  with pytest.raises(config_check.ConfigError, match=r"batch_size=6 must divide.*4"):
    config_check.validate(c, num_devices=4)
  m = main_job_cfg.get_config("tiny")
  m.target.eval.batch_size = -1
  with pytest.raises(config_check.ConfigError, match=r"target\.eval\.batch_size"):
    config_check.validate(m)
  config_check.validate(main_job_cfg.get_config("quick"))
  config_check.validate(source_cfg.get_config("shapes3d,paper"))


def test_preset_typo_is_an_error_with_a_suggestion():
  with pytest.raises(ValueError, match=r"'quik'.*did you mean 'quick'"):
    source_cfg.get_config("dsprites,quik")
  with pytest.raises(ValueError, match=r"'dsprite'.*did you mean 'dsprites'"):
    source_cfg.get_config("dsprite,quick")
  assert common_cfg.parse_arg("noisy_dsprites,tiny", dataset="x", preset="paper").preset == "tiny"


def test_bad_workdirs_are_one_line_errors(tmp_path):
  f = tmp_path / "file"
  f.write_text("x")
  for bad, match in ((str(f), "is a file"), ("", "empty"), (str(f / "sub"), "is a file"),
                     (None, "empty")):
    with pytest.raises(config_check.ConfigError, match=match) as e:
      config_check.check_workdir(bad)
    assert "\n" not in str(e.value)
  assert config_check.check_workdir(str(tmp_path / "new" / "dir")) == str(tmp_path / "new" / "dir")
  assert not (tmp_path / "new").exists()  # checking creates nothing


def test_a_workdir_with_nothing_trained_takes_the_corrected_config(tmp_path):
  bad = source_cfg.get_config("dsprites,tiny")
  bad.model.beta = 3.0
  workdir_lib.prepare_workdir(bad, str(tmp_path))
  good = source_cfg.get_config("dsprites,tiny")
  workdir_lib.prepare_workdir(good, str(tmp_path))  # no checkpoint yet: accepted
  assert json.load(open(tmp_path / "config.json"))["model"]["beta"] == 1.0
  os.makedirs(tmp_path / "checkpoints" / "1")
  with pytest.raises(ValueError, match="different experiment"):
    workdir_lib.prepare_workdir(bad, str(tmp_path))


@pytest.mark.slow
def test_command_line_bad_input_is_one_line_and_leaves_nothing(tmp_path):
  f = tmp_path / "a_file"
  f.write_text("x")
  base = [sys.executable, "-m", "launch.train", "--config=configs/source.py:dsprites,tiny"]
  cases = [
      (["--workdir=" + str(tmp_path / "w1"), "--config.train.batchsize=3"],
       r"^error: bad --config argument: no config field 'batchsize' Did you mean \"batch_size\""),
      (["--config=configs/source.py:dsprites,quik", "--workdir=" + str(tmp_path / "w2")],
       r"^error: unknown config argument 'quik' in 'dsprites,quik': did you mean 'quick'\?"),
      (["--workdir=" + str(f)], r"^error: --workdir .*a_file is a file"),
      (["--workdir=" + str(tmp_path / "w3"), "--config.train.batch_size=-4"],
       r"^error: config field train\.batch_size must be > 0, got -4"),
      (["--workdir=" + str(tmp_path / "w4"), "--config.eval.batch_size=-1"],
       r"^error: config field eval\.batch_size must be > 0, got -1"),
  ]
  for args, pattern in cases:
    p = subprocess.run(base + args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = [l for l in p.stderr.splitlines() if l.startswith("error:")]
    assert p.returncode == 2 and len(lines) == 1, (args, p.stderr[-2000:])
    assert "Traceback" not in p.stderr, (args, p.stderr[-2000:])
    import re  # pylint: disable=g-import-not-at-top
    assert re.match(pattern, lines[0]), (args, lines[0])
  assert sorted(os.listdir(tmp_path)) == ["a_file"]  # no work directory was created
