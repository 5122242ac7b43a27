"""The kill-then-resume check that the tests of every method run.

A run killed after ``kill_after`` steps and started again in the same work
directory must end where the uninterrupted run ends.
"""

import jax
import numpy as np

from dtransfer import checkpoint
from dtransfer import train as train_lib


def assert_trees_close(a, b, rtol: float = 1e-6, atol: float = 1e-6):
  """Leaf by leaf within tolerance; rtol=atol=0 asks for equality."""
  la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(la) == len(lb), (len(la), len(lb))
  for x, y in zip(la, lb):
    if rtol == 0 and atol == 0:
      np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    else:
      np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def straight_and_resumed(config, tmp_path, kill_after: int = 2, **train_kwargs):
  """(method, straight state, resumed state): ``config`` trained straight in
  ``tmp_path/a``, and in ``tmp_path/b`` stopped after ``kill_after`` steps (a
  checkpoint of that step is left) and resumed to the end."""
  _, straight = train_lib.train(config, str(tmp_path / "a"), **train_kwargs)
  train_lib.train(config, str(tmp_path / "b"), stop_after=kill_after, **train_kwargs)
  ckpt = checkpoint.Checkpointer(str(tmp_path / "b" / "checkpoints"))
  try:
    assert ckpt.latest_step() == kill_after
  finally:
    ckpt.close()
  method, resumed = train_lib.train(config, str(tmp_path / "b"), **train_kwargs)
  assert int(resumed["step"]) == int(config.train.num_steps)
  return method, straight, resumed
