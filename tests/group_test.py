"""Groups of models in one program (dtransfer.group): each model is its own run."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from configs import source as source_configs
from dtransfer import group
from dtransfer import jsonl_writer
from dtransfer import train as train_lib
from dtransfer import workdir as workdir_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(num_steps=4, **train):
  c = source_configs.get_config("dsprites,tiny")
  c.train.num_steps = num_steps
  c.train.checkpoint_every = 2
  c.model.num_latents = 5
  c.data.kwargs.channels = 1
  for k, v in train.items():
    c.train[k] = v
  return c


def _close(a, b, tol=2e-4):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64),
                               rtol=tol, atol=tol)


def test_member_configs_seeds_betas_and_errors():
  c = _config(num_models=3, betas=(1.0, 2.0, 4.0))
  c.seed = 7
  members = group.member_configs(c)
  assert [m.seed for m in members] == [7, 8, 9]
  assert [m.model.beta for m in members] == [1.0, 2.0, 4.0]
  assert all(m.train.num_models == 1 and m.train.seeds == () for m in members)
  c.train.seeds = (3, 5, 11)
  assert [m.seed for m in group.member_configs(c)] == [3, 5, 11]
  c.train.betas = (1.0,)
  with pytest.raises(ValueError, match="train.betas lists 1 values"):
    group.member_configs(c)
  other = _config()
  other.optim.learning_rate = 1.0
  with pytest.raises(ValueError, match="optim.learning_rate"):
    group.check_groupable([_config(), other])


@pytest.mark.slow
def test_group_equals_single_runs_and_honours_seeds_and_betas(tmp_path):
  c = _config(num_models=2, seeds=(0, 3), betas=(1.0, 4.0))
  configs = group.member_configs(c)
  dirs = group.member_workdirs(str(tmp_path / "group"), 2)
  grouped = group.train_group(configs, dirs)
  for i, (cfg, wd) in enumerate(zip(configs, dirs)):
    _, alone = train_lib.train(cfg, str(tmp_path / f"alone{i}"))
    _close(grouped[i][1]["params"], alone["params"])
    _close(grouped[i][1]["opt_state"], alone["opt_state"])
    rows = jsonl_writer.read(os.path.join(wd, "metrics.jsonl"))
    ref = jsonl_writer.read(str(tmp_path / f"alone{i}" / "metrics.jsonl"))
    assert [r["step"] for r in rows] == [r["step"] for r in ref] == [1, 2, 3, 4]
    np.testing.assert_allclose([r["loss"] for r in rows], [r["loss"] for r in ref],
                               rtol=1e-4)
    assert {r["beta"] for r in rows} == {cfg.model.beta}
    # the member's directory is a single run's: same config, resumable alone
    saved = workdir_lib.read_config(wd)
    assert saved.seed == cfg.seed and saved.train.num_models == 1
  # different seeds give different models
  assert not np.allclose(jax.tree.leaves(grouped[0][1]["params"])[0],
                         jax.tree.leaves(grouped[1][1]["params"])[0])


@pytest.mark.slow
def test_one_diverging_model_does_not_stop_the_others(tmp_path):
  c = _config(num_models=2, betas=(1.0, float("nan")))
  configs = group.member_configs(c)
  dirs = group.member_workdirs(str(tmp_path), 2)
  (_, good), (_, bad) = group.train_group(configs, dirs)
  assert int(good["step"]) == 4 and int(bad["step"]) == 0
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(bad["params"]))
  failed = json.load(open(os.path.join(dirs[1], "failed.json")))
  assert failed["step"] == 1 and failed["last_finite_step"] == 0
  assert not os.path.exists(os.path.join(dirs[0], "failed.json"))
  _, alone = train_lib.train(configs[0], str(tmp_path / "alone"))
  _close(good["params"], alone["params"])
  with pytest.raises(ValueError, match="failed.json"):
    group.train_group(configs, dirs)


@pytest.mark.slow
def test_a_killed_group_resumes_to_the_same_models(tmp_path):
  configs = group.member_configs(_config(num_models=2))
  full = group.train_group(configs, group.member_workdirs(str(tmp_path / "full"), 2))
  dirs = group.member_workdirs(str(tmp_path / "killed"), 2)
  group.train_group(configs, dirs, stop_after=2)
  resumed = group.train_group(configs, dirs)
  for (_, a), (_, b) in zip(full, resumed):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
      np.testing.assert_array_equal(x, y)
  rows = jsonl_writer.read(os.path.join(dirs[0], "metrics.jsonl"))
  assert [r["step"] for r in rows] == [1, 2, 3, 4]


_SHARDED = textwrap.dedent("""
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    sys.path.insert(0, {root!r})
    import jax, numpy as np
    from configs import source
    from dtransfer import group
    assert len(jax.devices()) == 4
    c = source.get_config("dsprites,tiny")
    c.train.num_steps, c.model.num_latents, c.data.kwargs.channels = 3, 5, 1
    for n in (4, 2):  # mesh (4 models, 1 data) and (2 models, 2 data)
      c.train.num_models = n
      configs = group.member_configs(c)
      one = group.train_group(configs, group.member_workdirs({tmp!r} + f"/one{{n}}", n),
                              devices=jax.devices()[:1])
      four = group.train_group(configs, group.member_workdirs({tmp!r} + f"/four{{n}}", n))
      assert dict(group.group_mesh(n).shape) == {{"models": min(n, 4), "data": 4 // n}}
      for (_, a), (_, b) in zip(one, four):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
          np.testing.assert_allclose(np.asarray(x, float), np.asarray(y, float),
                                     rtol=2e-4, atol=2e-4)
    print("SHARDED OK")
""")


@pytest.mark.slow
def test_model_axis_sharded_on_four_fake_devices_equals_one_device(tmp_path):
  script = _SHARDED.format(root=ROOT, tmp=str(tmp_path))
  out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=600, cwd=ROOT)
  assert "SHARDED OK" in out.stdout, out.stderr[-3000:]


@pytest.mark.parametrize("mode", ["map", pytest.param("vmap", marks=pytest.mark.slow)])
def test_group_step_compiles_once(tmp_path, mode):
  configs = group.member_configs(_config(num_models=2))
  src = workdir_lib.image_source(configs[0])
  model = workdir_lib.build_model(configs[0], src.image_shape)
  from dtransfer import methods  # pylint: disable=g-import-not-at-top
  members = [methods.get_method(c, model) for c in configs]
  traces = []
  real = members[0].make_step

  def counting():
    step = real()
    def counted(*a):
      traces.append(1)
      return step(*a)
    return counted

  members[0].make_step = counting
  step = group.make_group_step(members[0], mode)
  state = group.stack([m.init(c.seed) for m, c in zip(members, configs)])
  hp = group.stack([m.hparams() for m in members])
  batches = group._StackedBatches(members, src, (0, 1))  # pylint: disable=protected-access
  alive = np.ones(2, bool)
  for i in range(3):
    state, alive, _ = step(state, alive, batches[i], hp)
  assert len(traces) == 1


@pytest.mark.slow
def test_map_and_vmap_give_the_same_models():
  """The CPU's ``lax.map`` and the accelerators' ``vmap`` are one computation."""
  configs = group.member_configs(_config(num_models=2, betas=(1.0, 2.0)))
  src = workdir_lib.image_source(configs[0])
  model = workdir_lib.build_model(configs[0], src.image_shape)
  from dtransfer import methods  # pylint: disable=g-import-not-at-top
  members = [methods.get_method(c, model) for c in configs]
  batches = group._StackedBatches(members, src, (0, 1))  # pylint: disable=protected-access
  hp = group.stack([m.hparams() for m in members])
  out = {}
  for mode in ("vmap", "map"):
    step = group.make_group_step(members[0], mode)
    state = group.stack([m.init(c.seed) for m, c in zip(members, configs)])
    alive = np.ones(2, bool)
    for i in range(2):
      state, alive, metrics = step(state, alive, batches[i], hp)
    out[mode] = (state, metrics)
  _close(out["vmap"], out["map"])


def test_group_mode_auto_is_map_on_one_cpu_device_and_checks_its_value():
  c = _config(num_models=2)
  mesh = group.group_mesh(2, jax.devices()[:1])
  assert group.group_mode(c, mesh) == ("map" if jax.default_backend() == "cpu" else "vmap")
  c.train.group_mode = "vmap"
  assert group.group_mode(c, mesh) == "vmap"
  c.train.group_mode = "scan"
  with pytest.raises(ValueError, match="group_mode"):
    group.group_mode(c, mesh)
  assert all(m.train.group_mode == "auto" for m in group.member_configs(c))
