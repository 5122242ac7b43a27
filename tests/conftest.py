"""Test set-up: absl flags parsed (grain and absltest read them), quiet logs,
and the host allocator tuned before JAX starts (dtransfer/runtime.py)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import flags  # pylint: disable=g-import-not-at-top

try:
  flags.FLAGS.mark_as_parsed()
except Exception:  # pylint: disable=broad-except
  pass

from dtransfer import runtime  # pylint: disable=g-import-not-at-top

runtime.tune_host_allocator()
