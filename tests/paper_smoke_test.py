"""Every pair of the paper preset, at paper settings except step counts and sample sizes.

Why: a pair that would crash after 300k source steps (an optimiser chain that
does not fit, a channel mismatch, a metric that cannot handle a dataset) must
fail here instead. Datasets without a renderer read their builders' dummy
files in the original formats.
"""

import os

import pytest

from configs import study as study_cfg
from dtransfer import study

DATASETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "dtransfer", "datasets")
# Original-format dummy files of the datasets the paper pairs read from disk.
DUMMY = {"coil100": "coil-100.zip", "rgbd_objects": "rgbd-dataset",
         "isaac3d": "Isaac3D_down128"}

# Sample sizes only: every metric of the paper's list runs, on small samples.
SMALL_METRICS = {
    "dci_n_estimators": 5, "downstream_n_estimators": 5, "downstream_num_train": 200,
    "downstream_num_test": 100, "beta_vae_num_train": 100, "beta_vae_num_eval": 50,
    "factor_vae_num_train": 100, "factor_vae_num_eval": 50,
    "downstream_max_iter": 20,   # the MLPs' epochs: they took 2/3 of each evaluation
}


def originals(tmp_path) -> str:
  """One data_dir holding every dummy original, as a user's download folder would."""
  root = tmp_path / "originals"
  root.mkdir()
  for name, entry in DUMMY.items():
    os.symlink(os.path.join(DATASETS, name, f"dtransfer_{name}", "dummy_data", entry),
               root / entry)
  return str(root)


def smoke_study(tmp_path):
  s = study_cfg.get_config("paper,betas=2,seeds=1")
  s.data_dir = originals(tmp_path)
  s.source_steps = 2
  s.finetune_steps = 2
  s.eval_samples = 2000   # OMES needs intervention pairs: ~5 per dSprites shape at 2000
  s.distance_samples = 64
  s.metric_kwargs.update(SMALL_METRICS)
  return s


def test_smoke_study_keeps_every_paper_setting_but_sizes(tmp_path):
  s = smoke_study(tmp_path)
  paper = study_cfg.get_config("paper")
  assert list(s.pairs) == list(study_cfg.PAPER_PAIRS) and list(s.metrics) == list(paper.metrics)
  for key in study_cfg.PAPER_PAIRS:
    src, tgt, _ = study_cfg.PAIRS[key]
    a, b = study_cfg.source_config(s, src, 2.0, 1), study_cfg.source_config(paper, src, 2.0, 1)
    assert a.model.to_dict() == b.model.to_dict() and a.optim.to_dict() == b.optim.to_dict()
    assert a.loss.to_dict() == b.loss.to_dict() and a.train.batch_size == b.train.batch_size
    assert a.model.name == "dapueto"
    a, b = (study_cfg.target_config(x, key, 2.0, 1, "/src") for x in (s, paper))
    assert a.optim.to_dict() == b.optim.to_dict() and a.train.batch_size == 64


@pytest.fixture
def compilation_cache(tmp_path):
  """JAX's persistent cache: the 21 trainings share a handful of distinct steps."""
  import jax  # pylint: disable=g-import-not-at-top
  old = (jax.config.jax_compilation_cache_dir,
         jax.config.jax_persistent_cache_min_compile_time_secs)
  jax.config.update("jax_compilation_cache_dir", str(tmp_path / "jax_cache"))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  yield
  jax.config.update("jax_compilation_cache_dir", old[0])
  jax.config.update("jax_persistent_cache_min_compile_time_secs", old[1])


@pytest.mark.slow
def test_every_paper_pair_trains_transfers_and_fine_tunes(tmp_path, compilation_cache):
  del compilation_cache
  s = smoke_study(tmp_path)
  specs = study.expand(s)
  assert len(specs) == 16
  assert study.check_data(s, specs, study_cfg) == {}
  root = str(tmp_path / "study")
  failed = study.run_pending(s, root, specs, echo=print, configs=study_cfg)
  assert failed == []
  for spec in specs:
    rdir = study.run_dir(root, spec)
    for stage in ("transfer/before/results.json", "transfer/after/eval/results.json"):
      assert os.path.exists(os.path.join(rdir, stage)), (spec.id, stage)
