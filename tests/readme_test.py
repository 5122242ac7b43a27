"""Every Python block of the README runs, so the README cannot drift from the code.

Blocks run in order in one namespace, as a reader pastes them into one session,
from a temporary directory (the training block writes ``runs/notebook`` there),
with the repository root on the path for ``configs``. One substitution keeps
the test short: the API block's ``quick`` preset runs as ``tiny``.
"""

import os
import re
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (README text, what the test runs instead): presets sized for a test.
SUBSTITUTIONS = (('source.get_config("dsprites,quick")', 'source.get_config("dsprites,tiny")'),)


def python_blocks(path=os.path.join(ROOT, "README.md")) -> list[str]:
  with open(path) as f:
    return re.findall(r"^```python\n(.*?)^```", f.read(), flags=re.S | re.M)


def test_readme_has_python_blocks_and_substitutions_apply():
  blocks = python_blocks()
  assert len(blocks) >= 4
  text = "\n".join(blocks)
  for old, _ in SUBSTITUTIONS:
    assert old in text, f"README no longer contains {old!r}; update SUBSTITUTIONS"


@pytest.mark.slow
def test_every_readme_python_block_runs(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  monkeypatch.syspath_prepend(ROOT)
  namespace = {"__name__": "__readme__"}
  for i, block in enumerate(python_blocks()):
    for old, new in SUBSTITUTIONS:
      block = block.replace(old, new)
    start = time.perf_counter()
    try:
      exec(compile(block, f"README.md python block {i}", "exec"), namespace)  # pylint: disable=exec-used
    except Exception as e:  # pylint: disable=broad-except
      pytest.fail(f"README python block {i} failed: {type(e).__name__}: {e}\n{block}")
    print(f"block {i}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
  assert 0.0 <= namespace["results"]["omes"]["omes"] <= 1.0
  assert namespace["S"].shape == (namespace["codes"].shape[1], namespace["labels"].shape[1])
  assert namespace["logits"].shape == (2, 64, 64, 3)
