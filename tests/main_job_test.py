"""A 2-step train -> transfer -> evaluate run on a tiny config, and the main job's report."""

import json
import os

import pytest

from configs import main_job as main_job_cfg
from dtransfer import main_job
from dtransfer import transfer


def tiny_main_config():
  c = main_job_cfg.get_config("tiny")
  for part in (c.source, c.target):
    part.train.num_steps = 2
    part.train.batch_size = 4
    part.eval.num_samples = 200
  return c


@pytest.mark.slow
def test_main_job_end_to_end_on_tiny_config(tmp_path):
  c = tiny_main_config()
  out = main_job.run_main_job(c, str(tmp_path))
  assert set(out) == {"source", "untrained", "before", "after"}
  for r in out.values():
    assert 0.0 <= r["omes"]["omes"] <= 1.0
  for f in ("report.md", "source/eval/association.png", "source/eval/traversals.png",
            "source/eval/reconstructions.png", "source_untrained/association.png",
            "transfer/before/results.json", "transfer/after/eval/results.json",
            "transfer/transfer.md", "source/metrics.jsonl", "transfer/after/metrics.jsonl"):
    assert os.path.exists(tmp_path / f), f
  text = open(tmp_path / "report.md").read()
  assert "OMES (a=0.5, avg)" in text and "before" in text and "after" in text
  # every stage's wall time, and each evaluation's inside it
  assert "## Wall time of each stage" in text and "evaluation: after" in text
  timings = json.load(open(tmp_path / "timings.json"))
  assert set(timings) == {"source training + evaluation", "untrained baseline evaluation",
                          "transfer: before, fine-tuning, after"}
  # re-running finds everything done
  again = main_job.run_main_job(c, str(tmp_path))
  assert json.dumps(again["after"], sort_keys=True) == json.dumps(out["after"], sort_keys=True)


def test_transfer_needs_a_source_and_matching_shapes(tmp_path):
  c = tiny_main_config().target
  with pytest.raises(ValueError, match="source_workdir is empty"):
    transfer.transfer_and_evaluate(c, str(tmp_path / "t"))
  c.transfer.source_workdir = str(tmp_path / "missing")
  with pytest.raises(FileNotFoundError, match="not a dtransfer work"):
    transfer.transfer_and_evaluate(c, str(tmp_path / "t"))


def test_fine_tuning_keeps_its_own_beta_and_seed_unless_asked():
  c = tiny_main_config()
  src, tgt = c.source, c.target
  src.model.beta, src.seed, src.model.num_latents = 2.0, 7, 12
  tgt.model.beta, tgt.seed = 4.0, 3
  tuned = transfer.fine_tune_config(tgt, src)
  assert (tuned.model.beta, tuned.seed, tuned.model.num_latents) == (4.0, 3, 12)
  assert tuned.method.name == "beta_vae"
  tgt.transfer.reference_overrides = True
  tuned = transfer.fine_tune_config(tgt, src)
  assert (tuned.model.beta, tuned.seed) == (1.0, 0)
