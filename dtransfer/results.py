"""The results schema: how numbers are read out of an evaluation's results.json.

An evaluation (dtransfer.evaluate) stores ``{metric name: that metric's dict}``;
each metric's main number is ``metrics.HEADLINE[name]`` and OMES keeps its
pooled scores per alpha in ``omes.grid.{avg,max}[alpha]``. The main-job report
(report.py), the study tables (aggregate.py) and the summaries (evaluate.py)
read results only through these functions.
"""

from __future__ import annotations

from dtransfer.metrics import HEADLINE


def get(results: dict, *path):
  """``results[p0][p1]...``, or None where the path is missing."""
  cur = results
  for p in path:
    if not isinstance(cur, dict) or p not in cur:
      return None
    cur = cur[p]
  return cur


def headline(results: dict, metric: str):
  """The main number of one metric (``metrics.HEADLINE``), or None."""
  return get(results, metric, HEADLINE[metric])


def alpha_key(grid: dict, alpha: float):
  """The key of ``grid`` (JSON turns alphas into strings) that equals ``alpha``."""
  for k in grid:
    if abs(float(k) - alpha) < 1e-9:
      return k
  raise KeyError(alpha)


def omes_at(results: dict, alpha: float, pooling: str = "avg"):
  """OMES pooled over factors (``avg`` or ``max``) at one alpha, or None."""
  grid = get(results, "omes", "grid", pooling)
  if not isinstance(grid, dict):
    return None
  try:
    return grid[alpha_key(grid, alpha)]
  except KeyError:
    return None


def scalars(results: dict) -> list[tuple[str, float]]:
  """Every top-level number of every metric, as ``("metric.key", value)``."""
  rows = []
  for name, value in results.items():
    if isinstance(value, (int, float)) and not isinstance(value, bool):
      rows.append((name, float(value)))
    elif isinstance(value, dict):
      for k, v in value.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
          rows.append((f"{name}.{k}", float(v)))
  return rows


def warnings(results: dict) -> list[str]:
  """Every metric's own warnings (single-valued factors, inactive dims, ...) as
  ``"metric: text"``, in the order of the results."""
  out = []
  for metric, r in results.items():
    for w in (r.get("warnings") or []) if isinstance(r, dict) else []:
      out.append(f"{metric}: {w}")
  return out
