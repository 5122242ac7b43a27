"""Fault injection on checkpoints: every corruption is detected and falls back.

A small opaque pytree (two "optimisers", an int step) is saved at steps 1 and
2; the latest checkpoint is then damaged in every way we could think of, and
a restore must either return step 2 bit-identically (damage that changes no
value, e.g. a deleted files.sha256) or step 1 with a warning naming the file
and step (never changed values); with ``quarantine`` the damaged step is moved
aside and saving it again works.
"""

import os
import shutil

import jax.numpy as jnp
import numpy as np
import pytest

from dtransfer import checkpoint


def _state(step):
  r = np.random.default_rng(step)
  return {"step": jnp.asarray(step, jnp.int32),
          "params": {"w": jnp.asarray(r.normal(size=(64, 32)), jnp.float32),
                     "b": jnp.asarray(r.normal(size=(32,)), jnp.float32)},
          "opt_state": {"gen": (jnp.asarray(r.normal(size=(64, 32)), jnp.float32),),
                        "disc": {"mu": jnp.asarray(r.normal(size=(7,)), jnp.float32)}}}


def _same(a, b):
  for x, y in zip(jax_leaves(a), jax_leaves(b)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def jax_leaves(t):
  import jax  # pylint: disable=g-import-not-at-top
  return jax.tree.leaves(t)


def _files(step_dir, under=""):
  out = []
  for root, _, names in os.walk(os.path.join(step_dir, under)):
    out += [os.path.join(root, n) for n in names]
  return sorted(out)


def _flip(path, offset=None):
  data = bytearray(open(path, "rb").read())
  i = len(data) // 2 if offset is None else offset
  data[i] ^= 0x01
  open(path, "wb").write(bytes(data))


def _overwrite4k(path):
  size = os.path.getsize(path)
  with open(path, "r+b") as f:
    f.seek(0)
    f.write(os.urandom(min(4096, size)))


def _truncate(path):
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
  d = tmp_path_factory.mktemp("ck")
  ck = checkpoint.Checkpointer(str(d / "checkpoints"), keep=2)
  ck.save(1, _state(1))
  ck.save(2, _state(2))
  ck.close()
  return d / "checkpoints"


def _corruptions(step_dir):
  """(name, function) pairs, each damaging step_dir in one way."""
  out = []
  data_files = [p for p in _files(step_dir, "state") if "/d/" in p]
  for p in data_files:
    rel = os.path.relpath(p, step_dir)
    out.append((f"bit flip {rel}", lambda p=p: _flip(p)))
    out.append((f"4 KB overwrite {rel}", lambda p=p: _overwrite4k(p)))
  first = data_files[0]
  out += [
      ("truncate data file", lambda: _truncate(first)),
      ("delete data file", lambda: os.remove(first)),
      ("bit flip in state/_METADATA", lambda: _flip(os.path.join(step_dir, "state", "_METADATA"))),
      ("bit flip in state/manifest.ocdbt",
       lambda: _flip(os.path.join(step_dir, "state", "manifest.ocdbt"))),
      ("delete state/ (the item directory)", lambda: shutil.rmtree(os.path.join(step_dir, "state"))),
      ("delete digest/", lambda: shutil.rmtree(os.path.join(step_dir, "digest"))),
      ("bit flip in the digest", lambda: _flip(_files(step_dir, "digest")[0], 20)),
      ("bit flip in files.sha256", lambda: _flip(os.path.join(step_dir, "files.sha256"), 10)),
      ("files.sha256 deleted, then a data bit flipped",
       lambda: (os.remove(os.path.join(step_dir, "files.sha256")), _flip(first))),
      ("empty step directory", lambda: [shutil.rmtree(os.path.join(step_dir, n))
                                        if os.path.isdir(os.path.join(step_dir, n))
                                        else os.remove(os.path.join(step_dir, n))
                                        for n in os.listdir(step_dir)]),
  ]
  return out


@pytest.mark.slow
def test_every_corruption_of_the_latest_is_detected_and_falls_back(pristine, tmp_path, capsys):
  names = [n for n, _ in _corruptions(str(pristine / "2"))]
  assert len(names) >= 16
  outcomes = {}
  for i, name in enumerate(names):
    d = tmp_path / f"c{i}"
    shutil.copytree(pristine, d)
    dict(_corruptions(str(d / "2")))[name]()
    ck = checkpoint.Checkpointer(str(d), keep=2)
    step, state = ck.restore(_state(0), quarantine=True)
    ck.close()
    if step == 2:
      outcomes[name] = "restored step 2" + (
          "" if all(np.array_equal(x, y) for x, y in zip(jax_leaves(state), jax_leaves(_state(2))))
          else " WITH CHANGED VALUES")
    else:
      assert step == 1, name
      _same(state, _state(1))
      out = capsys.readouterr().out
      assert "checkpoint step 2" in out, (name, out)
      assert not (d / "2").exists(), f"{name}: the corrupt step was not moved aside"
      assert any(p.name.startswith("2-") for p in (tmp_path / f"c{i}_corrupt").iterdir())
      outcomes[name] = "detected"
      # Saving the moved-aside step again works and verifies.
      ck = checkpoint.Checkpointer(str(d), keep=2)
      ck.save(2, _state(2))
      assert ck.restore(_state(0)) [0] == 2
      ck.close()
  assert set(outcomes.values()) == {"detected"}, outcomes


def test_lost_file_list_alone_is_harmless(pristine, tmp_path):
  d = tmp_path / "c"
  shutil.copytree(pristine, d)
  os.remove(d / "2" / "files.sha256")  # e.g. a kill just after Orbax's rename
  ck = checkpoint.Checkpointer(str(d))
  step, state = ck.restore(_state(0), quarantine=True)
  ck.close()
  assert step == 2
  _same(state, _state(2))


def test_bit_flip_is_named_with_file_and_step(pristine, tmp_path):
  d = tmp_path / "c"
  shutil.copytree(pristine, d)
  data = [p for p in _files(str(d / "2"), "state") if "/d/" in p][0]
  _flip(data)
  ck = checkpoint.Checkpointer(str(d))
  with pytest.raises(checkpoint.CorruptCheckpointError,
                     match=r"checkpoint step 2 .*: file state/\S*d/\w+ changed"):
    ck.verify(2, _state(0))
  ck.close()


def test_changed_array_without_file_list_is_named_by_its_key(pristine, tmp_path):
  d = tmp_path / "c"
  shutil.copytree(pristine, d)
  os.remove(d / "2" / "files.sha256")
  ck = checkpoint.Checkpointer(str(d))
  ck.verify(2, _state(0))  # intact without the list: arrays match their digest
  # Rewrite step 2's arrays behind the digest's back: a value changes.
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  bad = _state(2)
  bad["opt_state"]["disc"]["mu"] = bad["opt_state"]["disc"]["mu"].at[3].add(1e-3)
  shutil.rmtree(d / "2" / "state")
  with ocp.StandardCheckpointer() as w:
    w.save(str(d / "2" / "state"), bad)
  with pytest.raises(checkpoint.CorruptCheckpointError,
                     match=r"step 2 .*array \['opt_state'\]\['disc'\]\['mu'\] differs"):
    ck.verify(2, _state(0))
  ck.close()


def test_all_corrupt_fails_clearly_and_keeps_newest_good_on_prune(tmp_path):
  ck = checkpoint.Checkpointer(str(tmp_path / "ck"), keep=1)
  ck.save(1, _state(1))
  ck.save(2, _state(2))
  assert ck.steps() == [2]  # pruned only after step 2 verified
  bad = _state(3)
  bad["params"]["w"] = bad["params"]["w"].at[0, 0].set(jnp.nan)
  with pytest.raises(FloatingPointError, match=r"refusing to checkpoint step 3.*\['params'\]\['w'\]"):
    ck.save(3, bad)
  assert ck.steps() == [2]
  _flip([p for p in _files(str(tmp_path / "ck" / "2"), "state") if "/d/" in p][0])
  with pytest.raises(checkpoint.CheckpointError, match="(?s)no readable checkpoint.*step 2"):
    ck.restore(_state(0))
  ck.close()
