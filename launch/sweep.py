"""Runs a transfer study (pairs x betas x seeds), then writes its report.

  # all runs of the quick study on this machine, two at a time, then the report
  python -m launch.sweep --study=configs/study.py:quick --root=runs/quick --parallel=2
  # the paper's study: print one command per run for a cluster scheduler
  python -m launch.sweep --study=configs/study.py:paper --root=/big/paper \
      --study.data_dir=/data --emit_commands > commands.txt
  # one run (what each emitted command does); the study is read from <root>/study.json
  python -m launch.sweep --root=/big/paper --only=pair06/dsprites_beta2_seed3

Runs already complete are skipped, interrupted ones resume from their last
checkpoint: after a kill, run the same command again.
"""

import os
import signal
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from configs import study as study_cfg

STUDY = config_flags.DEFINE_config_file(
    "study", None, "Study config, e.g. configs/study.py:quick; default: the "
    "study.json stored in --root by an earlier sweep.", lock_config=False)
ROOT = flags.DEFINE_string("root", None, "Directory of the study's runs.")
PARALLEL = flags.DEFINE_integer(
    "parallel", 1, "Runs at once on this machine; above 1 each run is a "
    "single-threaded subprocess (logs in <root>/logs).")
EMIT = flags.DEFINE_bool("emit_commands", False,
                         "Print one shell command per pending run and exit, for a "
                         "cluster scheduler (each command is self-contained).")
ONLY = flags.DEFINE_string("only", None, "Run only this unit: a run id "
                           "(<pair>/<source>_beta<b>_seed<s>) or a source id "
                           "(sources/<dataset>_beta<b>_seed<s>).")
SKIP_UNAVAILABLE = flags.DEFINE_bool(
    "skip_unavailable", False, "Run the pairs whose data is there and skip those "
    "whose original files are missing (default: stop and say which).")
GROUP = flags.DEFINE_bool(
    "group", None, "With --parallel=1, train the sources of one dataset, and the "
    "fine-tunings of one pair, as one group of models in one program "
    "(dtransfer.group); --nogroup runs them one by one. Default: group on a GPU or "
    "TPU, one by one on a CPU, where a group (train.group_mode=map) measured as "
    "fast per model as sequential runs, not faster (benchmarks/many_models.py).")
REPORT = flags.DEFINE_bool("report", True, "Write <root>/report/ at the end.")
flags.mark_flags_as_required(["root"])


def _study(root):
  from dtransfer import study as study_lib  # pylint: disable=g-import-not-at-top
  if STUDY.value is not None:
    return STUDY.value
  return study_lib.load_study(root)


def _interrupt(signum, frame):
  """SIGTERM acts like Ctrl-C on the coordinator: its workers are stopped too."""
  del signum, frame
  raise KeyboardInterrupt


def _group() -> bool:
  if GROUP.value is not None:
    return GROUP.value
  import jax  # pylint: disable=g-import-not-at-top
  return jax.default_backend() != "cpu"


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments {argv[1:]}; use --flag=value.")
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # checkpoint chatter; -v=0 brings it back
  from dtransfer import runtime  # pylint: disable=g-import-not-at-top
  runtime.tune_host_allocator()  # before JAX starts (dtransfer/runtime.py)
  from dtransfer import study as study_lib  # pylint: disable=g-import-not-at-top
  root = os.path.abspath(ROOT.value)
  study = _study(root)
  if ONLY.value:
    # A worker keeps the default SIGTERM (exit at once): everything it has
    # finished is already on disk (atomic checkpoints and JSON markers).
    study_lib.run_unit(study, root, ONLY.value, study_cfg)
    return
  specs = study_lib.expand(study)
  problems = study_lib.check_data(study, specs, study_cfg)
  if problems:
    text = "\n".join(f"  pair {p}: {why}" for p, why in problems.items())
    if not SKIP_UNAVAILABLE.value:
      raise app.UsageError(f"some pairs cannot run yet:\n{text}\nAdd "
                           "--skip_unavailable to run the other pairs now.")
    print(f"[sweep] skipping pairs without data:\n{text}", file=sys.stderr)
    specs = [s for s in specs if s.pair not in problems]
  os.makedirs(root, exist_ok=True)
  study_lib.save_study(study, root)
  state = study_lib.status(root, specs)
  print(f"[sweep] {len(specs)} runs: {len(state['complete'])} complete, "
        f"{len(state['pending'])} to run.", file=sys.stderr)
  if EMIT.value:
    import shlex  # pylint: disable=g-import-not-at-top
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for s in state["pending"]:
      cmd = study_lib.unit_command(root, s.id)
      print(f"cd {shlex.quote(repo)} && " + " ".join(shlex.quote(c) for c in
                                                   ["python"] + cmd[1:]))
    return
  failed = []
  if PARALLEL.value <= 1:
    failed = study_lib.run_pending(study, root, specs, configs=study_cfg,
                                   echo=lambda m: print(m, file=sys.stderr),
                                   group=_group())
  else:
    # This process only coordinates: on SIGTERM it stops its workers first.
    signal.signal(signal.SIGTERM, _interrupt)
    work = study_lib.units(root, state["pending"])
    codes = study_lib.schedule(
        work, lambda uid: study_lib.launch_subprocess(root, uid), PARALLEL.value,
        echo=lambda m: print(m, file=sys.stderr))
    failed = [u for u, rc in codes.items() if rc != 0]
    if failed:
      print(f"[sweep] logs: {os.path.join(root, 'logs')}", file=sys.stderr)
  if REPORT.value:
    from dtransfer import study_report  # pylint: disable=g-import-not-at-top
    path = study_report.write_report(root, study)
    print(f"report: {path}")
  if failed:
    raise SystemExit(f"[sweep] {len(failed)} unit(s) failed: {failed}; fix the cause "
                     "and run the same command again to finish them.")


if __name__ == "__main__":
  app.run(main)
