"""The notebooks execute (tiny settings) in a Jupyter kernel, and are kept without outputs.

After each notebook's cell tagged ``parameters`` a cell is injected (as papermill
does) that sets test-sized settings and a temporary work directory, then the notebook runs
top to bottom with nbclient, from notebooks/ as a reader in a clone would. The
executed copy is written to ``$DTRANSFER_NOTEBOOK_OUT`` when set (to look at
its figures).
"""

import base64
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "notebooks")
PARAMETERS = {
    "quickstart.ipynb": 'PRESET = "tiny"\nWORKDIR = {workdir!r}\nNUM_PAIRS = 64\n',
    "metrics.ipynb": 'NUM_SAMPLES = 1500\nOUTDIR = {workdir!r}\n',
}


def _read(name):
  nbformat = pytest.importorskip("nbformat")
  return nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_notebook_is_stripped_and_has_parameters_and_colab_install(name):
  nb = _read(name)
  for cell in nb.cells:
    if cell.cell_type == "code":
      assert not cell.outputs and cell.execution_count is None, (
          f"{name} has outputs saved; clear them before committing "
          "(jupyter nbconvert --clear-output --inplace notebooks/*.ipynb)")
  tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
  assert len(tagged) == 1, f"{name}: one cell must be tagged 'parameters'"
  assert "google.colab" in nb.cells[1].source and "pip" in nb.cells[1].source
  assert "colab.research.google.com" in nb.cells[0].source


def execute(name, workdir):
  """Runs notebook ``name`` with test parameters; returns the executed notebook."""
  nbclient = pytest.importorskip("nbclient")
  nbformat = pytest.importorskip("nbformat")
  pytest.importorskip("ipykernel")
  nb = _read(name)
  at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
  nb.cells.insert(at + 1, nbformat.v4.new_code_cell(
      PARAMETERS[name].format(workdir=str(workdir))))
  client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                   resources={"metadata": {"path": NOTEBOOKS}})
  try:
    client.execute()
  finally:
    out = os.environ.get("DTRANSFER_NOTEBOOK_OUT")
    if out:
      os.makedirs(out, exist_ok=True)
      nbformat.write(nb, os.path.join(out, name))
  return nb


def _outputs(nb, kind):
  return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
          if kind in o.get("data", {})]


def _text(nb):
  return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                 for o in c.outputs)


@pytest.mark.slow
def test_quickstart_runs(tmp_path):
  nb = execute("quickstart.ipynb", tmp_path / "runs")
  text = _text(nb)
  assert "[train] step 2/2  loss" in text            # the progress line with loss terms
  assert "source OMES (alpha=0.5, avg):" in text and "OMES from 64 pairs" in text
  pngs = _outputs(nb, "image/png")
  # 3 association matrices, 2 x (traversals + reconstructions), the loss curves
  assert len(pngs) >= 8
  for o in pngs:
    assert base64.b64decode(o["data"]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
  assert _outputs(nb, "text/markdown")              # the before/after table
  assert (tmp_path / "runs" / "transfer" / "after" / "eval" / "results.json").exists()


@pytest.mark.slow
def test_metrics_notebook_runs(tmp_path):
  nb = execute("metrics.ipynb", tmp_path / "codes")
  text = _text(nb)
  assert "OMES" in text and "| metric | value |" in text
  assert len(_outputs(nb, "image/png")) == 2
  assert (tmp_path / "codes" / "eval" / "results.json").exists()
