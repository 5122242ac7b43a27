"""Studies: many (pair, beta, seed) transfer runs, expanded, skipped, resumed, scheduled.

Why: a paper table pools 20 source models per (source, target) pair; a study
is the list of runs behind such tables (configs/study.py). The per-run
configs come from the caller: ``configs`` is any object with
``source_config(study, dataset, beta, seed)`` and ``target_config(study, pair,
beta, seed, source_workdir)`` (launch.sweep passes the module configs/study.py),
so the library does not import the config files. Layout under a root:

  <root>/study.json                          the study config (sweep workers read it)
  <root>/sources/<dataset>_beta<b>_seed<s>/  a weak source training, shared by every
      config.json checkpoints/ metrics.jsonl eval/ done.json    pair with that source
  <root>/<pair>/<source>_beta<b>_seed<s>/    one run = transfer of that source model
      run.json           the run and its resolved source and fine-tuning configs
      source -> ../../sources/...            (a link, for browsing)
      transfer/before/   zero-shot evaluation on the target (results.json, codes.npz)
      transfer/after/    fine-tuning: config.json checkpoints/ metrics.jsonl eval/
      distances.json     source vs target, under the source encoder
      done.json          the completion marker, written atomically last
  <root>/<pair>/pixel_distances.json         source vs target in pixel space
  <root>/logs/                               one log per unit run in a subprocess

A unit of work is a source training (``sources/...``) or a run (``<pair>/...``);
both are idempotent: finished stages are cached in JSON files written
atomically (dtransfer.workdir.cached_json), training resumes from its last
checkpoint, and a file lock keeps two processes off the same work directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import json
import logging
import os
import subprocess
import sys
import time

import ml_collections
import numpy as np

from dtransfer import distances
from dtransfer import evaluate as evaluate_lib
from dtransfer import group as group_lib
from dtransfer import train as train_lib
from dtransfer import transfer as transfer_lib
from dtransfer import transfer_pairs
from dtransfer import workdir as workdir_lib

DONE = "done.json"


@dataclasses.dataclass(frozen=True)
class RunSpec:
  """One transfer run: a source model (dataset, beta, seed) moved to a pair's target."""
  pair: str
  source: str
  target: str
  beta: float
  seed: int

  @property
  def source_id(self) -> str:
    return f"sources/{self.source}_beta{self.beta:g}_seed{self.seed}"

  @property
  def id(self) -> str:
    return (f"{transfer_pairs.pair_dirname(self.pair)}/"
            f"{self.source}_beta{self.beta:g}_seed{self.seed}")


def expand(study) -> list[RunSpec]:
  """The study's runs, pairs-major then beta then seed (the paper's model_num order)."""
  if not study.pairs or not study.betas or not study.seeds:
    raise ValueError("the study has no runs: pairs, betas and seeds must all be "
                     f"non-empty (got {list(study.pairs)}, {list(study.betas)}, "
                     f"{list(study.seeds)}).")
  out = []
  for name in study.pairs:
    key = transfer_pairs.pair_key(name)
    src, tgt, _ = transfer_pairs.PAIRS[key]
    out += [RunSpec(key, src, tgt, float(b), int(s))
            for b in study.betas for s in study.seeds]
  return out


def source_dir(root: str, spec: RunSpec) -> str:
  return os.path.join(root, spec.source_id)


def run_dir(root: str, spec: RunSpec) -> str:
  return os.path.join(root, spec.id)


def source_complete(root: str, spec: RunSpec) -> bool:
  return os.path.exists(os.path.join(source_dir(root, spec), DONE))


def run_complete(root: str, spec: RunSpec) -> bool:
  return os.path.exists(os.path.join(run_dir(root, spec), DONE))


def status(root: str, specs) -> dict[str, list[RunSpec]]:
  """Splits runs into ``complete`` and ``pending``."""
  out = {"complete": [], "pending": []}
  for s in specs:
    out["complete" if run_complete(root, s) else "pending"].append(s)
  return out


def units(root: str, specs) -> list[tuple[str, tuple[str, ...]]]:
  """(unit id, ids it waits for) of the pending work: sources first, then runs."""
  sources, runs = [], []
  for s in specs:
    if run_complete(root, s):
      continue
    deps = ()
    if not source_complete(root, s):
      deps = (s.source_id,)
      if s.source_id not in [u for u, _ in sources]:
        sources.append((s.source_id, ()))
    runs.append((s.id, deps))
  return sources + runs


# ----------------------------------------------------------------------------
# Study files.

def write_json(path: str, obj) -> None:
  """Writes a study file atomically (dtransfer.workdir.write_json), sorted keys."""
  workdir_lib.write_json(path, obj, indent=1, sort_keys=True)


def save_study(study, root: str) -> str:
  path = os.path.join(root, "study.json")
  write_json(path, study.to_dict())
  return path


def load_study(root: str):
  """The study config a sweep stored in ``root``."""
  path = os.path.join(root, "study.json")
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"no study.json in {root}: start the study there first with "
        f"python -m launch.sweep --study=configs/study.py:quick --root={root}, or "
        "pass --study=... here.")
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


@contextlib.contextmanager
def locked(path: str):
  """An exclusive lock on ``path`` (released when the process dies, e.g. killed)."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "a") as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      logging.info("waiting for another process holding %s", path)
      fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------
# Running one unit.

def _factor_names(config) -> list[str]:
  return list(workdir_lib.image_source(config).space.names)


def run_source(study, root: str, spec: RunSpec, configs) -> dict:
  """Trains and evaluates the source model of ``spec`` unless already done."""
  sdir = source_dir(root, spec)
  marker = os.path.join(sdir, DONE)
  if os.path.exists(marker):
    return _read(marker)
  config = configs.source_config(study, spec.source, spec.beta, spec.seed)
  with locked(sdir + ".lock"):
    return workdir_lib.cached_json(marker, lambda: {
        "source_id": spec.source_id, "dataset": spec.source, "beta": spec.beta,
        "seed": spec.seed, "factor_names": _factor_names(config),
        "results": train_lib.train_and_evaluate(config, sdir)})


def run_one(study, root: str, spec: RunSpec, configs) -> dict:
  """Source (if needed), transfer, fine-tuning, evaluations and distances of one run."""
  rdir = run_dir(root, spec)
  marker = os.path.join(rdir, DONE)
  if os.path.exists(marker):
    return _read(marker)
  started = time.time()
  run_source(study, root, spec, configs)
  src_config, config = _run_configs(study, root, spec, configs)
  with locked(rdir + ".lock"):
    if os.path.exists(marker):
      return _read(marker)
    _start_run(root, spec, src_config, config)
    workdir_lib.cached_json(
        os.path.join(rdir, "transfer_eval.json"),
        lambda: transfer_lib.transfer_and_evaluate(config, os.path.join(rdir, "transfer")))
    return _finish_run(study, root, spec, src_config, config, started)


def _run_configs(study, root, spec, configs):
  """(source config, fine-tuning config) of a run."""
  return (configs.source_config(study, spec.source, spec.beta, spec.seed),
          configs.target_config(study, spec.pair, spec.beta, spec.seed,
                                source_dir(root, spec)))


def _start_run(root, spec, src_config, config) -> None:
  rdir, sdir = run_dir(root, spec), source_dir(root, spec)
  write_json(os.path.join(rdir, "run.json"), {
      "run_id": spec.id, **dataclasses.asdict(spec), "source_dir": sdir,
      "source_config": src_config.to_dict(), "finetune_config": config.to_dict()})
  _link(os.path.relpath(sdir, rdir), os.path.join(rdir, "source"))


def _finish_run(study, root, spec, src_config, config, started) -> dict:
  """Distances and the completion marker of a run whose transfer is evaluated."""
  rdir, sdir = run_dir(root, spec), source_dir(root, spec)
  num = int(study.distance_samples)
  pixel = workdir_lib.cached_json(
      os.path.join(root, transfer_pairs.pair_dirname(spec.pair), "pixel_distances.json"),
      lambda: distances.pixel_distances(workdir_lib.image_source(src_config),
                                        workdir_lib.image_source(config), num=num))

  def encoding():
    a = np.load(os.path.join(sdir, "eval", "codes.npz"))["codes"]
    b = np.load(os.path.join(rdir, "transfer", "before", "codes.npz"))["codes"]
    return {"encoding": distances.encoding_distances(a, b, num=max(num, 2))}

  dist = workdir_lib.cached_json(os.path.join(rdir, "encoding_distances.json"), encoding)
  write_json(os.path.join(rdir, "distances.json"), {**dist, "pixel": pixel})
  meta = {"run_id": spec.id, **dataclasses.asdict(spec), "source_dir": sdir,
          "factor_names": _factor_names(config),
          "finetune_steps": int(config.train.num_steps),
          "seconds": round(time.time() - started, 1)}
  write_json(os.path.join(rdir, DONE), meta)
  return meta


# ----------------------------------------------------------------------------
# Running many units as groups of models (dtransfer.group).

def _locked_all(paths):
  stack = contextlib.ExitStack()
  for p in sorted(paths):
    stack.enter_context(locked(p + ".lock"))
  return stack


def run_source_group(study, root: str, specs, configs) -> None:
  """Trains the pending sources of ``specs`` that share a dataset as one group
  each (their configs differ only in seed and beta), then evaluates each."""
  by_dataset: dict[str, list[RunSpec]] = {}
  for s in specs:
    if not source_complete(root, s) and s.source_id not in [
        x.source_id for x in by_dataset.get(s.source, [])]:
      by_dataset.setdefault(s.source, []).append(s)
  for dataset, members in by_dataset.items():
    if len(members) < 2:
      continue
    cfgs = [configs.source_config(study, s.source, s.beta, s.seed) for s in members]
    dirs = [source_dir(root, s) for s in members]
    with _locked_all(dirs):
      todo = [i for i, s in enumerate(members) if not source_complete(root, s)]
      if len(todo) < 2:
        continue
      src = workdir_lib.image_source(cfgs[0])
      trained = group_lib.train_group([cfgs[i] for i in todo], [dirs[i] for i in todo],
                                      images=src)
      for i, (method, state) in zip(todo, trained):
        if os.path.exists(os.path.join(dirs[i], "failed.json")):
          continue   # left pending; run_one reports it
        s = members[i]
        results = evaluate_lib.evaluate_model(method, state, src, cfgs[i],
                                              os.path.join(dirs[i], "eval"))
        workdir_lib.cached_json(os.path.join(dirs[i], DONE), lambda s=s, r=results: {
            "source_id": s.source_id, "dataset": s.source, "beta": s.beta,
            "seed": s.seed, "factor_names": list(src.space.names), "results": r})
    logging.info("trained %d %s sources as one group", len(todo), dataset)


def run_transfer_group(study, root: str, specs, configs) -> None:
  """Runs the pending runs of each pair whose sources are trained as one group
  of fine-tunings (their configs differ only in seed, beta and source)."""
  by_pair: dict[str, list[RunSpec]] = {}
  for s in specs:
    if not run_complete(root, s) and source_complete(root, s):
      by_pair.setdefault(s.pair, []).append(s)
  for members in by_pair.values():
    if len(members) < 2:
      continue
    started = time.time()
    both = [_run_configs(study, root, s, configs) for s in members]
    dirs = [run_dir(root, s) for s in members]
    with _locked_all(dirs):
      todo = [i for i, s in enumerate(members) if not run_complete(root, s)]
      if len(todo) < 2:
        continue
      for i in todo:
        _start_run(root, members[i], *both[i])
      results = transfer_lib.transfer_group([both[i][1] for i in todo],
                                            [os.path.join(dirs[i], "transfer") for i in todo])
      for i, r in zip(todo, results):
        if os.path.exists(os.path.join(dirs[i], "transfer", "after", "failed.json")):
          continue
        workdir_lib.write_json(os.path.join(dirs[i], "transfer_eval.json"), r)
        _finish_run(study, root, members[i], *both[i], started)


def _link(target: str, path: str) -> None:
  try:
    if not os.path.lexists(path):
      os.symlink(target, path)
  except OSError:  # file systems without links: run.json has the path
    pass


def _read(path):
  with open(path) as f:
    return json.load(f)


def run_unit(study, root: str, unit_id: str, configs) -> dict:
  """Runs the unit named ``unit_id`` (a source id or a run id) of the study."""
  specs = expand(study)
  for s in specs:
    if s.id == unit_id:
      return run_one(study, root, s, configs)
  for s in specs:
    if s.source_id == unit_id:
      return run_source(study, root, s, configs)
  known = sorted({s.id for s in specs} | {s.source_id for s in specs})
  raise ValueError(f"'{unit_id}' is not a run of this study; known ids: "
                   f"{known[:8]}{' ...' if len(known) > 8 else ''}.")


def run_pending(study, root: str, specs, runner=None, echo=print,
                configs=None, group: bool = False) -> list[str]:
  """Runs the incomplete runs of ``specs`` one after the other, in this process.

  With ``group``, the sources of one dataset are first trained as one group of
  models, and the fine-tunings of one pair likewise (dtransfer.group); what is
  left (a single run, a failed model) then runs one by one.

  ``runner(study, root, spec)`` runs one (default: ``run_one`` with ``configs``).
  A failing run is reported and the others go on; returns the failed run ids.
  An interruption (KeyboardInterrupt, a kill) stops everything: running the
  same sweep again resumes where it stopped.
  """
  if group and runner is None:
    try:
      run_source_group(study, root, specs, configs)
      run_transfer_group(study, root, specs, configs)
    except ValueError as e:   # not groupable (e.g. sources of other shapes)
      echo(f"[sweep] running one by one: {e}")
  runner = runner or functools.partial(run_one, configs=configs)
  pending = status(root, specs)["pending"]
  failed = []
  for i, s in enumerate(pending):
    echo(f"[sweep] run {i + 1}/{len(pending)}: {s.id}")
    try:
      runner(study, root, s)
    except Exception as e:  # pylint: disable=broad-except
      logging.exception("run %s failed", s.id)
      echo(f"[sweep] FAILED {s.id}: {type(e).__name__}: {e}")
      failed.append(s.id)
  return failed


# ----------------------------------------------------------------------------
# Data availability.

def check_data(study, specs, configs) -> dict[str, str]:
  """{pair: why it cannot run} for pairs whose files are missing (none: all fine)."""
  problems, seen = {}, {}
  for s in specs:
    if s.pair in problems:
      continue
    for ds in (s.source, s.target):
      cfg = configs.source_config(study, ds, 1.0, 0)
      if cfg.data.origin == "procedural":
        continue
      if ds not in seen:
        try:
          workdir_lib.image_source(cfg)
          seen[ds] = ""
        except (FileNotFoundError, ValueError, OSError) as e:
          seen[ds] = (f"{ds} needs its original files ({e}) Put them under a "
                      "folder and pass --study.data_dir=<folder>.")
      if seen[ds]:
        problems[s.pair] = seen[ds]
        break
  return problems


# ----------------------------------------------------------------------------
# Scheduling.

# One thread per process: N processes share the cores instead of fighting; on
# a GPU, each process takes memory as it needs it instead of 75% up front.
SINGLE_THREAD_ENV = {
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def unit_command(root: str, unit_id: str) -> list[str]:
  """The command that runs one unit (the study is read from <root>/study.json)."""
  return [sys.executable, "-m", "launch.sweep", f"--root={os.path.abspath(root)}",
          f"--only={unit_id}", "--noreport"]


def log_path(root: str, unit_id: str) -> str:
  return os.path.join(root, "logs", unit_id.replace("/", "__") + ".log")


def schedule(work, launch, parallel: int, poll: float = 0.5,
             echo=print) -> dict[str, int]:
  """Runs units with dependencies, at most ``parallel`` at a time.

  Args:
    work: [(unit id, ids it waits for)], in launch order.
    launch: unit id -> a started ``subprocess.Popen``.
    parallel: most units running at once.
    poll: seconds between checks.
    echo: progress printer.

  Returns:
    {unit id: exit code}; -1 for units skipped because a dependency failed.
  """
  ids = {uid for uid, _ in work}
  waiting = [(uid, tuple(d for d in deps if d in ids)) for uid, deps in work]
  running: dict[str, subprocess.Popen] = {}
  codes: dict[str, int] = {}
  total = len(work)
  try:
    while waiting or running:
      for uid, proc in list(running.items()):
        rc = proc.poll()
        if rc is not None:
          codes[uid] = rc
          del running[uid]
          echo(f"[sweep] {'done' if rc == 0 else f'FAILED (exit {rc})'}: {uid} "
               f"({len(codes)}/{total})")
      for item in list(waiting):
        uid, deps = item
        if any(codes.get(d, 0) != 0 for d in deps if d in codes):
          waiting.remove(item)
          codes[uid] = -1
          echo(f"[sweep] skipped {uid}: {[d for d in deps if codes.get(d)]} failed")
          continue
        if len(running) >= parallel:
          break
        if all(codes.get(d) == 0 for d in deps):
          waiting.remove(item)
          running[uid] = launch(uid)
          echo(f"[sweep] started: {uid}")
      if running:
        time.sleep(poll)
      elif waiting and all(any(d not in codes for d in deps) for _, deps in waiting):
        raise RuntimeError(f"schedule: {[u for u, _ in waiting]} wait for units that "
                           "never run; list every dependency before its dependents.")
  except BaseException:
    # Interrupted (Ctrl-C, SIGTERM): stop the children too; a re-run resumes them.
    for proc in running.values():
      proc.terminate()
    for proc in running.values():
      try:
        proc.wait(timeout=10)
      except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    raise
  return codes


def launch_subprocess(root: str, unit_id: str, single_thread: bool = True):
  """Starts one unit as ``python -m launch.sweep --only=...``, logging to <root>/logs."""
  env = dict(os.environ)
  if single_thread:
    for key, value in SINGLE_THREAD_ENV.items():
      if key == "XLA_FLAGS" and env.get(key):
        value = f"{env[key]} {value}"
      env[key] = value
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
  path = log_path(root, unit_id)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  log = open(path, "a")  # pylint: disable=consider-using-with
  proc = subprocess.Popen(unit_command(root, unit_id), stdout=log,
                          stderr=subprocess.STDOUT, cwd=repo, env=env)
  log.close()
  return proc
