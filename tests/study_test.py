"""Study configs, run expansion, skip/resume after a kill, scheduling, one real tiny run."""

import json
import os
import subprocess
import sys

import pytest

from configs import study as study_cfg
from dtransfer import aggregate
from dtransfer import study
from tests import study_fixtures as fx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------
# Configs.

def test_every_paper_pair_and_the_paper_protocol():
  assert study_cfg.PAPER_PAIRS == tuple(str(i) for i in range(1, 16)) + ("shapes3d_isaac3d",)
  s = study_cfg.get_config("paper")
  assert list(s.pairs) == list(study_cfg.PAPER_PAIRS)
  assert list(s.betas) == [1.0, 2.0] and list(s.seeds) == list(range(10))
  specs = study.expand(s)
  assert len(specs) == 16 * 20
  sources = {x.source_id for x in specs}
  assert len(sources) == 5 * 20          # five source datasets, shared between pairs
  c = study_cfg.source_config(s, "color_dsprites", 2.0, 3)
  assert (c.train.num_steps, c.train.batch_size, c.model.beta_warmup_steps) == (400_000, 64, 50_000)
  assert (c.optim.learning_rate, c.model.beta, c.seed, c.model.name) == (1e-4, 2.0, 3, "dapueto")
  assert c.eval.num_samples == 15_008 and "mlp_pruned" in c.eval.metrics
  assert study_cfg.source_config(s, "shapes3d", 1.0, 0).model.beta_warmup_steps == 0
  coil = study_cfg.source_config(s, "coil100_augmented_binary", 1.0, 0)
  assert (coil.train.num_steps, coil.optim.weight_decay) == (300_000, 1e-11)
  assert coil.data.origin == "original"
  t = study_cfg.target_config(s, "3", 2.0, 3, "/src")
  assert (t.train.num_steps, t.train.batch_size, t.data.name) == (50_000, 64, "coil100_augmented")
  assert (t.model.beta, t.seed, t.transfer.source_workdir) == (2.0, 3, "/src")


def test_quick_study_is_offline_with_a_real_image_target():
  s = study_cfg.get_config("quick")
  assert len(s.pairs) >= 3
  targets = [study_cfg.PAIRS[p][1] for p in s.pairs]
  assert "real_objects" in targets
  for p in s.pairs:
    src, tgt, _ = study_cfg.PAIRS[p]
    assert not study_cfg.needs_originals(src) and not study_cfg.needs_originals(tgt)
  assert study.check_data(s, study.expand(s), study_cfg) == {}
  assert study_cfg.source_config(s, "dsprites", 1.0, 0).train.num_steps < 1000


def test_pairs_needing_original_files_say_so():
  s = study_cfg.get_config("tiny,pairs=3+6")
  problems = study.check_data(s, study.expand(s), study_cfg)
  assert list(problems) == ["3"]
  assert "coil100_augmented needs its original files" in problems["3"]
  assert "--study.data_dir" in problems["3"]


def test_arguments():
  s = study_cfg.get_config("quick,pairs=1+06+pair07+offline,betas=1+2,seeds=0-2+5")
  assert s.pairs[:3] == ["1", "6", "7"] and "dsprites_real_objects" in s.pairs
  assert len(s.pairs) == len(set(s.pairs))
  assert list(s.betas) == [1.0, 2.0] and list(s.seeds) == [0, 1, 2, 5]
  with pytest.raises(ValueError, match="unknown transfer pair '99'"):
    study_cfg.get_config("quick,pairs=99")


# ----------------------------------------------------------------------------
# Expansion, skipping, resuming.

def test_expansion_ids_and_shared_sources(tmp_path):
  s = study_cfg.get_config("tiny,pairs=1+2,betas=1+2,seeds=0")
  specs = study.expand(s)
  assert [x.id for x in specs] == [
      "pair01/color_dsprites_beta1_seed0", "pair01/color_dsprites_beta2_seed0",
      "pair02/color_dsprites_beta1_seed0", "pair02/color_dsprites_beta2_seed0"]
  assert specs[0].source_id == specs[2].source_id == "sources/color_dsprites_beta1_seed0"
  root = str(tmp_path)
  work = study.units(root, specs)
  assert work == [("sources/color_dsprites_beta1_seed0", ()),
                  ("sources/color_dsprites_beta2_seed0", ()),
                  (specs[0].id, (specs[0].source_id,)), (specs[1].id, (specs[1].source_id,)),
                  (specs[2].id, (specs[2].source_id,)), (specs[3].id, (specs[3].source_id,))]
  # A finished run is skipped; a finished source is no longer waited for.
  fx.write_run(root, specs[0], fx.results([.5]), fx.results([.5]))
  study.write_json(os.path.join(study.source_dir(root, specs[1]), "done.json"), {})
  assert study.status(root, specs)["complete"] == [specs[0]]
  assert study.units(root, specs) == [
      ("sources/color_dsprites_beta1_seed0", ()), (specs[1].id, ()),
      (specs[2].id, (specs[2].source_id,)), (specs[3].id, ())]
  # Partial files without the final marker: still pending.
  os.makedirs(os.path.join(study.run_dir(root, specs[1]), "transfer", "before"))
  study.write_json(os.path.join(study.run_dir(root, specs[1]), "transfer_eval.json"), {})
  assert specs[1] in study.status(root, specs)["pending"]


def _fake_runner(calls, kill_at=None):
  """Writes a run's result files with numbers fixed by the spec; 'killed' at call kill_at."""

  def run(unused_study, root, spec):
    calls.append(spec.id)
    if kill_at is not None and len(calls) == kill_at:
      raise KeyboardInterrupt  # what a kill looks like to the sweep
    acc = 0.3 + 0.1 * spec.seed + 0.05 * spec.beta + (0.02 if spec.pair == "6" else 0.0)
    fx.write_run(root, spec, fx.results([acc, acc / 2], os_=[acc, .5], mes=[.4, acc]),
                 fx.results([acc + .1, acc / 2], os_=[acc, .6], mes=[.4, acc]))

  return run


def test_kill_then_resume_completes_only_missing_runs_and_same_tables(tmp_path):
  s = study_cfg.get_config("tiny,pairs=6+5,betas=1+2,seeds=0+1")
  specs = study.expand(s)
  once, killed = str(tmp_path / "once"), str(tmp_path / "killed")
  calls = []
  assert study.run_pending(s, once, specs, runner=_fake_runner(calls), echo=lambda m: None) == []
  assert len(calls) == 8
  calls = []
  with pytest.raises(KeyboardInterrupt):
    study.run_pending(s, killed, specs, runner=_fake_runner(calls, kill_at=4),
                      echo=lambda m: None)
  assert len(study.status(killed, specs)["complete"]) == 3
  calls = []
  study.run_pending(s, killed, specs, runner=_fake_runner(calls), echo=lambda m: None)
  assert calls == [x.id for x in specs[3:]]          # only the missing ones
  calls = []
  study.run_pending(s, killed, specs, runner=_fake_runner(calls), echo=lambda m: None)
  assert not calls                                     # nothing left
  tables = []
  for root in (once, killed):
    cells = aggregate.aggregate(aggregate.flat_table(aggregate.collect(root)))
    tables.append((aggregate.markdown_tables(cells), aggregate.csv_text(cells),
                   aggregate.latex_tables(cells), aggregate.summary_table(cells)))
  assert tables[0] == tables[1]
  cells = aggregate.aggregate(aggregate.flat_table(aggregate.collect(killed)))
  assert {c["n"] for c in cells if c["metric"] == "GBT"} == {4}


def test_a_failing_run_does_not_stop_the_others(tmp_path):
  s = study_cfg.get_config("tiny,pairs=6,seeds=0+1")
  specs = study.expand(s)
  calls = []
  ok = _fake_runner(calls)

  def runner(st, root, spec):
    if spec.seed == 0:
      raise ValueError("boom")
    ok(st, root, spec)

  failed = study.run_pending(s, str(tmp_path), specs, runner=runner, echo=lambda m: None)
  assert failed == [specs[0].id] and calls == [specs[1].id]


def test_schedule_respects_dependencies_failures_and_the_limit(tmp_path):
  log = tmp_path / "log.txt"

  def launch(uid):
    code = ("import sys, time\n"
            f"open({str(log)!r}, 'a').write('start {uid}\\n')\n"
            "time.sleep(0.2)\n"
            f"open({str(log)!r}, 'a').write('end {uid}\\n')\n"
            f"sys.exit(1 if {uid!r} == 'bad' else 0)\n")
    return subprocess.Popen([sys.executable, "-c", code])

  work = [("src", ()), ("bad", ()), ("r1", ("src",)), ("r2", ("src",)), ("r3", ("bad",))]
  codes = study.schedule(work, launch, parallel=2, poll=0.05, echo=lambda m: None)
  assert codes == {"src": 0, "bad": 1, "r1": 0, "r2": 0, "r3": -1}
  events = log.read_text().split("\n")[:-1]
  assert events.index("end src") < events.index("start r1")
  running = peak = 0
  for e in events:
    running += 1 if e.startswith("start") else -1
    peak = max(peak, running)
  assert peak <= 2


def test_emit_commands_lists_one_command_per_pending_run(tmp_path):
  root = str(tmp_path)
  s = study_cfg.get_config("tiny,pairs=6+5,seeds=0+1")
  fx.write_run(root, study.expand(s)[0], fx.results([.5]), fx.results([.5]))
  out = subprocess.run(
      [sys.executable, "-m", "launch.sweep", "--study=configs/study.py:tiny,pairs=6+5,seeds=0+1",
       f"--root={root}", "--emit_commands"],
      cwd=REPO, capture_output=True, text=True, check=True)
  lines = out.stdout.strip().split("\n")
  assert len(lines) == 3
  assert all(f"--root={root}" in l and "--only=" in l for l in lines)
  assert "--only=pair06/dsprites_beta1_seed1" in lines[0]
  assert "3 to run" in out.stderr
  assert json.load(open(os.path.join(root, "study.json")))["pairs"] == ["6", "5"]


# ----------------------------------------------------------------------------
# One real run on the tiny preset.

@pytest.mark.slow
def test_real_tiny_run_end_to_end(tmp_path):
  root = str(tmp_path)
  s = study_cfg.get_config("tiny,pairs=6")
  s.metrics = ["omes", "gbt"]
  spec = study.expand(s)[0]
  meta = study.run_one(s, root, spec, study_cfg)
  rdir = study.run_dir(root, spec)
  for f in ("done.json", "run.json", "distances.json", "transfer/before/results.json",
            "transfer/after/eval/results.json", "transfer/after/config.json",
            "transfer/after/metrics.jsonl", "source/eval/codes.npz"):
    assert os.path.exists(os.path.join(rdir, f)), f
  dist = json.load(open(os.path.join(rdir, "distances.json")))
  assert dist["encoding"]["mmd2"] >= 0 and dist["pixel"]["frechet"] >= 0
  assert meta["factor_names"] == ["shape", "scale", "orientation", "posX", "posY"]
  assert study.run_one(s, root, spec, study_cfg) == meta          # done: nothing re-run
  rec, = aggregate.collect(root)
  assert rec["pair"] == "6" and "gbt" in rec["after"]


@pytest.mark.slow
def test_grouped_sweep_trains_sources_and_fine_tunings_as_groups(tmp_path, monkeypatch):
  from dtransfer import group as group_lib  # pylint: disable=g-import-not-at-top
  calls = []
  real = group_lib.train_group

  def counting(configs, workdirs, **kw):
    calls.append([os.path.relpath(w, str(tmp_path)) for w in workdirs])
    return real(configs, workdirs, **kw)

  monkeypatch.setattr(group_lib, "train_group", counting)
  root = str(tmp_path)
  s = study_cfg.get_config("tiny,pairs=6,seeds=0+1")
  s.metrics = ["omes"]
  specs = study.expand(s)
  assert study.run_pending(s, root, specs, configs=study_cfg, echo=lambda m: None,
                           group=True) == []
  assert calls == [["sources/dsprites_beta1_seed0", "sources/dsprites_beta1_seed1"],
                   ["pair06/dsprites_beta1_seed0/transfer/after",
                    "pair06/dsprites_beta1_seed1/transfer/after"]]
  recs = aggregate.collect(root)
  assert sorted(r["seed"] for r in recs) == [0, 1]
  for spec in specs:   # each member's directory is a single run's
    cfg = json.load(open(os.path.join(study.run_dir(root, spec), "transfer", "after",
                                      "config.json")))
    assert cfg["seed"] == spec.seed and cfg["train"]["num_models"] == 1
    assert os.path.exists(os.path.join(study.source_dir(root, spec), "eval", "codes.npz"))
