"""Data parallelism: 4 fake devices and 2 processes over loopback equal 1 device."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "distributed_worker.py")


def _run(args, **kw):
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.Popen([sys.executable, WORKER, *args], env=env, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def _params(workdir):
  data = np.load(os.path.join(workdir, "params.npz"))
  return [data[k] for k in sorted(data.files, key=lambda s: int(s.split("_")[1]))]


def _finish(proc):
  out, _ = proc.communicate(timeout=600)
  assert proc.returncode == 0, out[-3000:]
  return out


def _assert_close(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5)


@pytest.mark.slow
def test_four_devices_and_two_processes_match_one_device(tmp_path):
  one = str(tmp_path / "one")
  four = str(tmp_path / "four")
  _finish(_run([one, "--devices", "1"]))
  out = _finish(_run([four, "--devices", "4"]))
  assert "devices 4" in out
  _assert_close(_params(one), _params(four))
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  two = str(tmp_path / "two")
  procs = [_run([two, "--processes", "2", "--process", str(i), "--port", str(port)])
           for i in range(2)]
  outs = [_finish(p) for p in procs]
  assert "processes 2" in outs[0]
  _assert_close(_params(one), _params(two))
  assert sorted(os.listdir(os.path.join(two, "checkpoints")))[-1] == "2"
