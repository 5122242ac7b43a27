"""SIGKILL at every stage of the main job, then resume: is the result identical?

  python benchmarks/fault_kills.py [--out=/tmp/fault_kills]

Runs the tiny main job (``configs/main_job.py:tiny`` with 6 source and 6
fine-tuning steps, a checkpoint every step) once uninterrupted, then once
more killed with SIGKILL at each stage in turn (mid source training, during a
checkpoint write, during the source evaluation, during fine-tuning, during the
final evaluation), rerunning the same command after each kill. Compares the
evaluation results, the newest checkpoints' array digests and the metrics
rows of the resumed job with the uninterrupted one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = ["--config=configs/main_job.py:tiny", "--config.source.train.num_steps=6",
        "--config.target.train.num_steps=6"]
# (stage, predicate on the work directory that says the stage is under way)
STAGES = [
    ("mid source training", lambda w: os.path.isdir(f"{w}/source/checkpoints/2")),
    ("during a checkpoint write", lambda w: any(
        "tmp" in n for n in _ls(f"{w}/source/checkpoints"))),
    ("during the source evaluation", lambda w: os.path.isdir(f"{w}/source/eval")),
    ("during fine-tuning", lambda w: os.path.isdir(f"{w}/transfer/after/checkpoints/2")),
    ("during the final evaluation", lambda w: os.path.isdir(f"{w}/transfer/after/eval")),
]


def _ls(d):
  try:
    return os.listdir(d)
  except FileNotFoundError:
    return []


def _run(workdir, until=None, timeout=1800):
  cmd = [sys.executable, "-m", "launch.main", f"--workdir={workdir}"] + ARGS
  p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + timeout
  while p.poll() is None and time.time() < deadline:
    if until is not None and until(workdir):
      p.send_signal(signal.SIGKILL)
      p.wait()
      return "killed"
    time.sleep(0.002)
  if p.poll() is None:
    p.kill()
    return "timeout"
  return f"exit {p.returncode}"


def _fingerprint(w):
  out = {}
  for name in ("source_eval.json", "transfer_eval.json", "untrained_eval.json"):
    with open(os.path.join(w, name)) as f:
      out[name] = json.load(f)
  for sub in ("source", "transfer/after"):
    ck = os.path.join(w, sub, "checkpoints")
    last = max(int(n) for n in os.listdir(ck) if n.isdigit())
    with open(os.path.join(ck, str(last), "digest", "metadata")) as f:
      out[f"{sub} checkpoint {last}"] = json.load(f)
    with open(os.path.join(w, sub, "metrics.jsonl")) as f:
      rows = [json.loads(l) for l in f if l.strip()]
    out[f"{sub} metrics steps"] = [r["step"] for r in rows]
    out[f"{sub} losses"] = [r.get("loss") for r in rows]
  return out


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--out", default="/tmp/fault_kills")
  args = ap.parse_args()
  shutil.rmtree(args.out, ignore_errors=True)
  ref, victim = os.path.join(args.out, "ref"), os.path.join(args.out, "killed")
  t0 = time.time()
  print("uninterrupted:", _run(ref), f"({time.time() - t0:.0f} s)", flush=True)
  kills = []
  for stage, pred in STAGES:
    outcome = _run(victim, until=pred)
    kills.append((stage, outcome))
    print(f"{stage}: {outcome}", flush=True)
  print("final rerun:", _run(victim), flush=True)
  a, b = _fingerprint(ref), _fingerprint(victim)
  same = {k: a[k] == b[k] for k in a}
  print(json.dumps(same, indent=1))
  killed = sum(o == "killed" for _, o in kills)
  print(f"{killed} kills; resumed job identical to the uninterrupted one: {all(same.values())}")


if __name__ == "__main__":
  main()
