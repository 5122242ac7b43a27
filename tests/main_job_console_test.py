"""The main job from the command line: what the console shows, TensorBoard, the report.

One tiny run of ``python -m launch.main`` in a subprocess (as a user runs it,
absl logging included), then a rerun that finds everything done.
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _main(workdir, *extra):
  return subprocess.run(
      [sys.executable, "-m", "launch.main", "--config=configs/main_job.py:tiny",
       f"--workdir={workdir}", *extra], cwd=ROOT, capture_output=True, text=True,
      env=dict(os.environ, PYTHONPATH=ROOT), timeout=900, check=True)


@pytest.mark.slow
def test_console_tensorboard_and_report_of_the_main_job(tmp_path):
  run = _main(tmp_path)
  out, err = run.stdout, run.stderr
  # One progress line per log step (tiny: every step), each with the loss terms, printed once.
  steps = re.findall(r"^\[train\] step (\d)/2  loss \S+  recon \S+  kl \S+ .* steps/s  ETA ",
                     out, flags=re.M)
  assert steps == ["1", "2", "1", "2"], out           # source, then fine-tuning
  assert "step 1/2" not in err                         # not again through absl logging
  # Orbax's internals stay out of the console at the default verbosity.
  assert "checkpoint_manager" not in err and "orbax" not in (out + err).lower(), err[:2000]
  for stage in ("[main] source training + evaluation: started",
                "[eval] computing 1 metrics on 256 codes: omes",
                "[eval] warning: omes: ", "[untrained network] drawing figures",
                "[after fine-tuning on noisy_dsprites] evaluation written to",
                "[main] transfer: before, fine-tuning, after: done in"):
    assert stage in out, (stage, out)

  # TensorBoard lists the training scalars and the evaluation images.
  ea = pytest.importorskip("tensorboard.backend.event_processing.event_multiplexer")
  mux = ea.EventMultiplexer().AddRunsFromDirectory(str(tmp_path))
  mux.Reload()
  runs = mux.Runs()
  for run_name in ("source", "transfer/after"):
    assert {"train/loss", "train/recon", "train/kl", "train/beta", "train/grad_norm",
            "train/steps_per_sec"} <= set(runs[run_name]["scalars"]), runs
    assert [e.step for e in mux.Scalars(run_name, "train/loss")] == [1, 2]
  for run_name in ("source/eval", "source_untrained", "transfer/before", "transfer/after/eval"):
    assert {"eval/traversals", "eval/reconstructions"} <= set(runs[run_name]["images"]), runs
    assert "eval/omes.omes" in runs[run_name]["scalars"]
  assert mux.Images("source/eval", "eval/traversals")[0].step == 2

  # The report links every figure that exists, the curves and each stage's config.
  report = open(tmp_path / "report.md").read()
  for png in sorted(p for p in _files(tmp_path) if p.endswith(".png")):
    assert f"]({png})" in report, png
  assert "loss_curves.png" in report and "## Configs" in report
  assert "transfer.source_workdir = " in report and "## Wall time of each stage" in report

  # A rerun says what it skipped.
  again = _main(tmp_path).stdout
  assert again.count("already done") == 3 and "[train]" not in again, again


def _files(root):
  for d, _, names in os.walk(root):
    for n in names:
      yield os.path.relpath(os.path.join(d, n), root)
