"""The host-allocator tuning removes the per-step page faults it is for.

Each case runs in a fresh Python process, since the setting only takes
effect before JAX's backend starts.
"""

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the allocator tuning is glibc-specific")

# Runs the dlib encoder's gradient on 64 images (XLA's temporaries: ~50 MB)
# and prints whether the tuning applied and the page faults of later calls.
_WORKER = """
import resource, sys
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
for _ in range(6):
  jax.block_until_ready(f(v["params"]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
  jax.block_until_ready(f(v["params"]))
print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 5)
"""


def _run(mode, **env):
  import os  # pylint: disable=g-import-not-at-top
  out = subprocess.run([sys.executable, "-c", _WORKER, mode],
                       capture_output=True, text=True, check=True,
                       env={**os.environ, **env})
  applied, faults = out.stdout.split()
  return applied == "True", int(faults), out.stderr


def test_tuned_allocator_reuses_memory_instead_of_faulting_pages():
  applied, faults, _ = _run("early")
  off_applied, off_faults, _ = _run("early", DTRANSFER_TUNE_ALLOCATOR="0")
  assert applied and not off_applied
  # Untuned, most temporaries come back as fresh 4 KiB pages on every call
  # (measured: ~12,000 faults per call; tuned ~2,000 or none).
  assert off_faults > 5_000, off_faults
  assert faults < off_faults / 3, (faults, off_faults)


def test_tuning_after_the_backend_started_is_refused_with_a_warning():
  applied, _, stderr = _run("late")
  assert not applied
  assert "before the first JAX computation" in stderr
