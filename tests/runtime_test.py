"""The host-allocator tuning applies before JAX starts and is refused after.

Each case runs in a fresh Python process, since the setting only takes
effect before JAX's backend starts.
"""

import os
import platform
import subprocess
import sys

import pytest

pytestmark = [
    pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                       reason="the allocator tuning is glibc-specific"),
    pytest.mark.slow,   # fresh JAX processes
]

# Runs the dlib encoder's gradient on 64 images (XLA's temporaries: ~50 MB)
# and prints whether the tuning applied and whether the results are finite.
# (The page faults it saves depend on the machine's allocator and load, so
# they are not asserted here; dtransfer/runtime.py's docstring has the numbers.)
_WORKER = """
import sys
from dtransfer import runtime
import jax, jax.numpy as jnp
if sys.argv[1] == "late":
  jnp.zeros(1).block_until_ready()
applied = runtime.tune_host_allocator()
from dtransfer import models
m = models.get_model("dlib_conv", image_shape=(64, 64, 1))
v = m.init(jax.random.PRNGKey(0))
x = jnp.ones((64, 64, 64, 1), jnp.float32)
f = jax.jit(jax.grad(lambda p: jnp.sum(m.encode({**v, "params": p}, x)[0] ** 2)))
for _ in range(3):
  g = jax.block_until_ready(f(v["params"]))
print(applied, all(bool(jnp.all(jnp.isfinite(l))) for l in jax.tree.leaves(g)))
"""


def _run(mode, **env):
  out = subprocess.run([sys.executable, "-c", _WORKER, mode],
                       capture_output=True, text=True, check=True,
                       env={**os.environ, **env})
  applied, finite = out.stdout.split()
  return applied == "True", finite == "True", out.stderr


def test_tuning_applies_before_the_backend_starts_and_can_be_turned_off():
  applied, finite, _ = _run("early")
  off_applied, off_finite, _ = _run("early", DTRANSFER_TUNE_ALLOCATOR="0")
  assert applied and not off_applied
  assert finite and off_finite  # only where memory comes from changes


def test_tuning_after_the_backend_started_is_refused_with_a_warning():
  applied, _, stderr = _run("late")
  assert not applied
  assert "before the first JAX computation" in stderr
