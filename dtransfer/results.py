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


# ----------------------------------------------------------------------------
# The measures people read: one table for every report, table and figure.

class Measure:
  """A number shown to people: its per-factor values and its whole-model value.

  Attributes:
    label: short name (study tables, figures): "GBT", "OMES", ...
    title: name in an evaluation's summary table: "GBT accuracy", ...
    metric: the results key it is read from.
    per_factor: key of the per-factor list in ``results[metric]`` (None: none).
    whole: key of the whole-representation number, or (alpha, pooling) for
      OMES's grid.
  """

  def __init__(self, label, title, metric, per_factor, whole):
    self.label, self.title, self.metric = label, title, metric
    self.per_factor, self.whole = per_factor, whole

  def value(self, results: dict):
    """The whole-representation number, or None where not computed."""
    if isinstance(self.whole, tuple):
      return omes_at(results, *self.whole)
    return get(results, self.metric, self.whole)

  def factors(self, results: dict, num_factors: int) -> list:
    """The per-factor values (None each where not computed)."""
    v = get(results, self.metric, self.per_factor) if self.per_factor else None
    return list(v) if isinstance(v, list) and len(v) == num_factors else [None] * num_factors


def _acc(label, metric, prefix=""):
  return Measure(label, f"{label} accuracy", metric, f"{prefix}test_accuracy",
                 f"{prefix}mean_test_accuracy")


# In display order. "pruned" is the authors' variant (every factor sees all
# OMES-selected dims); "own dim" gives each factor only its own associated dim.
MEASURES = (
    Measure("OMES", "OMES (a=0.5, avg)", "omes", "score", (0.5, "avg")),
    Measure("OS", "OS (a=1, avg)", "omes", "os", (1.0, "avg")),
    Measure("MES", "MES (a=0, avg)", "omes", "mes", (0.0, "avg")),
    Measure("OMES max", "OMES (a=0.5, max)", "omes", None, (0.5, "max")),
    _acc("GBT", "gbt"), _acc("GBT pruned", "gbt_pruned", "union_"),
    _acc("GBT own dim", "gbt_pruned", "own_"), _acc("MLP", "mlp"),
    _acc("MLP pruned", "mlp_pruned", "union_"), _acc("MLP own dim", "mlp_pruned", "own_"),
    _acc("LogReg", "logreg"),
    Measure("DCI", "DCI disentanglement", "dci", None, "disentanglement"),
    Measure("MIG", "MIG", "mig", "gap", "mig"),
    Measure("BetaVAE", "beta-VAE score", "beta_vae", None, "eval_accuracy"),
    Measure("FactorVAE", "FactorVAE score", "factor_vae", None, "eval_accuracy"),
)
MEASURE = {m.label: m for m in MEASURES}
