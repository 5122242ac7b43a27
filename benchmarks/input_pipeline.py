"""Input pipeline and training throughput: weak pairs/s and train steps/s.

  PYTHONPATH=. python benchmarks/input_pipeline.py --what=pairs [--dataset=dsprites] \
      [--batches=200] [--rounds=5]
  PYTHONPATH=. python benchmarks/input_pipeline.py --what=steps [--steps=60] [--rounds=3] \
      [--repo=/path/to/another/checkout]

``pairs``: batches of the quick preset's weak pairs (32 pairs of ``--dataset``) read
serially, through the hand-written prefetch thread training used before grain
(copied here as the baseline), and through ``dtransfer.train.input_pipeline``
(grain) with 1 and 2 threads; each reader consumes the batches as fast as it
can, so this is the pipeline's ceiling. ``steps``: train steps/s of the quick
source training (``train.train``, no evaluation) timed from its metrics.jsonl
(steps 10..N, compilation excluded), in this checkout or in ``--repo`` (an
older commit, for before/after). Medians over rounds; the load average is
printed since the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def _load() -> str:
  return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _thread_prefetch(it, size: int):
  """The pre-grain reader of dtransfer/train.py: one thread, ``size`` batches ahead."""
  q: queue.Queue = queue.Queue(maxsize=size)
  done = object()

  def work():
    for item in it:
      q.put(item)
    q.put(done)

  threading.Thread(target=work, daemon=True).start()
  while True:
    item = q.get()
    if item is done:
      return
    yield item


def pairs_per_second(dataset: str, batches: int, rounds: int) -> None:
  from configs import source as source_cfg  # pylint: disable=g-import-not-at-top
  from dtransfer import methods  # pylint: disable=g-import-not-at-top
  from dtransfer import train  # pylint: disable=g-import-not-at-top
  from dtransfer import workdir  # pylint: disable=g-import-not-at-top
  c = source_cfg.get_config(f"{dataset},quick")
  src = workdir.image_source(c)
  method = methods.get_method(c, None)
  bs = int(c.train.batch_size)
  readers = {
      "serial": lambda s: (method.batches(src, (0, 1))[i] for i in range(s, s + batches)),
      "thread prefetch 2 (before)": lambda s: _thread_prefetch(
          (method.batches(src, (0, 1))[i] for i in range(s, s + batches)), 2),
  }
  for threads in (1, 2):
    data = c.data.copy_and_resolve_references()
    data.num_threads = threads
    readers[f"grain {threads} thread(s), prefetch 2 (after)"] = (
        lambda s, data=data: iter(train.input_pipeline(method, src, s, s + batches, data)))
  times = {k: [] for k in readers}
  print(f"load average before: {_load()}")
  for r in range(rounds):
    for name, make in readers.items():   # interleaved: load hits every reader
      t = time.perf_counter()
      n = sum(1 for _ in make(1000 * r))
      times[name].append(n * bs / (time.perf_counter() - t))
  print(f"load average after: {_load()}")
  print(f"{dataset}, {batches} batches of {bs} pairs per round")
  print(f"| reader | weak pairs/s (median of {rounds}) | rounds |\n|---|---|---|")
  for name, v in times.items():
    print(f"| {name} | {statistics.median(v):.0f} | {', '.join(f'{x:.0f}' for x in v)} |")


_TRAIN = """
import json, sys
from dtransfer import runtime
runtime.tune_host_allocator()
from configs import source as source_cfg
from dtransfer import train
c = source_cfg.get_config("dsprites,quick")
c.train.num_steps = int(sys.argv[2])
c.train.log_every = 10
c.train.checkpoint_every = 10 ** 6
train.train(c, sys.argv[1])
"""


def steps_per_second(repo: str, steps: int, rounds: int) -> None:
  out = []
  print(f"repo: {repo}\nload average before: {_load()}")
  for _ in range(rounds):
    with tempfile.TemporaryDirectory() as wd:
      subprocess.run([sys.executable, "-c", _TRAIN, wd, str(steps)], cwd=repo, check=True,
                     env={**os.environ, "PYTHONPATH": repo}, capture_output=True)
      with open(os.path.join(wd, "metrics.jsonl")) as f:
        lines = [json.loads(l) for l in f]
    first = next(l for l in lines if l["step"] >= 10)
    out.append((lines[-1]["step"] - first["step"]) / (lines[-1]["time"] - first["time"]))
  print(f"load average after: {_load()}")
  print(f"train steps/s (quick dSprites source, steps 10..{steps}): median "
        f"{statistics.median(out):.2f}; rounds {', '.join(f'{x:.2f}' for x in out)}")


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--what", choices=("pairs", "steps"), default="pairs")
  p.add_argument("--dataset", default="dsprites")
  p.add_argument("--batches", type=int, default=200)
  p.add_argument("--steps", type=int, default=60)
  p.add_argument("--rounds", type=int, default=5)
  p.add_argument("--repo", default=os.getcwd())
  a = p.parse_args()
  if a.what == "pairs":
    pairs_per_second(a.dataset, a.batches, a.rounds)
  else:
    steps_per_second(os.path.abspath(a.repo), a.steps, a.rounds)


if __name__ == "__main__":
  main()
