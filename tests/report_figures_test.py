"""Report figures: marked association matrices, labelled traversals, loss curves, configs."""

import json

import ml_collections
import numpy as np
from PIL import Image

from dtransfer import curves
from dtransfer import evaluate
from dtransfer import report
from dtransfer.metrics import plots


def test_association_figure_marks_inactive_dims_and_excluded_factors(tmp_path):
  s = np.full((3, 2), 0.9)
  plain = np.asarray(Image.open(plots.save_association_heatmap(s, str(tmp_path / "a.png"))))
  marked = np.asarray(Image.open(plots.save_association_heatmap(
      s, str(tmp_path / "b.png"), inactive_dims=[1], excluded_factors=[0])))
  assert plain.shape != marked.shape or np.any(plain != marked)


def test_traversal_rows_are_labelled(tmp_path):
  grid = evaluate._grid(np.ones((3 * 2, 8, 8, 1), np.float32) * 0.5, 3, 2)
  out = evaluate.label_rows(grid, ["z0", "z1", "z2"], margin=20)
  assert out.shape == (grid.shape[0], grid.shape[1] + 20)
  np.testing.assert_array_equal(out[:, 20:], grid)
  row = (grid.shape[0] - 1) / 3
  for i in range(3):   # dark text pixels in each row's band of the margin
    band = out[int(i * row):int((i + 1) * row), :20]
    assert band.min() < 100


def test_loss_curves_from_metrics_jsonl(tmp_path):
  path = tmp_path / "run" / "metrics.jsonl"
  path.parent.mkdir()
  with open(path, "w") as f:
    for step in range(1, 6):
      f.write(json.dumps({"step": step, "loss": 10.0 / step, "recon": 9.0 / step,
                          "kl": 0.1 * step, "beta": 1.0}) + "\n")
  assert curves.read_curves(str(path))["kl"][0] == [1, 2, 3, 4, 5]
  out = curves.save_loss_curves({"source": str(path), "missing": str(tmp_path / "no.jsonl")},
                                str(tmp_path / "curves.png"))
  assert Image.open(out).size[0] > 300
  assert curves.save_loss_curves({"missing": str(tmp_path / "no.jsonl")},
                                 str(tmp_path / "none.png")) is None


def test_config_section_lists_every_field():
  c = ml_collections.ConfigDict({"seed": 3, "model": {"beta": 2.0, "name": "dlib_conv"}})
  text = report.config_section({"source": c})
  assert "<summary>source</summary>" in text
  assert "model.beta = 2.0" in text and "model.name = 'dlib_conv'" in text and "seed = 3" in text
