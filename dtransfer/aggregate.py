"""The paper's transfer tables from many runs: mean, std and count per factor.

Why: each cell of the paper's tables pools the 20 source models of a pair
(beta in {1, 2} x 10 seeds): the mean value before fine-tuning x100, then
"(+mean(after - before) x100)" (the paper's table format). We add the
standard deviation across models and the number of models behind each cell.

  records = collect(root)                  # one dict per completed run
  rows = flat_table(records)               # one row per run x metric x factor
  cells = aggregate(rows)                  # mean/std/n per pair x metric x factor
  markdown_tables(cells), csv_text(cells), latex_tables(cells)

Inputs are the files a study writes (dtransfer.study): per run
``<run>/done.json`` (pair, datasets, beta, seed, factor names),
``<run>/transfer/before/results.json`` and
``<run>/transfer/after/eval/results.json`` (dtransfer.evaluate).
"""

from __future__ import annotations

import csv
import glob
import io
import json
import math
import os

import numpy as np

from dtransfer import results as results_lib

# Table rows: labels of results.MEASURES (per-factor values, then "All", the
# metric's own whole-representation number: for GBT the mean over factors, as
# in the paper; for MES/OS: OMES at alpha 0/1, avg pooling).
METRIC_ROWS = ("GBT", "GBT pruned", "MES", "OS", "OMES", "DCI", "MIG")
ALL = "All"


def _omes_all(results, alpha):
  return results_lib.omes_at(results, alpha, "avg")


def metric_values(results: dict, num_factors: int) -> dict[str, list]:
  """{row label: [value per factor..., All]} of one evaluation (None: not computed)."""
  out = {}
  for label in METRIC_ROWS:
    m = results_lib.MEASURE[label]
    vals = m.factors(results, num_factors) + [m.value(results)]
    out[label] = [None if v is None or not _finite(v) else float(v) for v in vals]
  return out


def _finite(v) -> bool:
  return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _read_json(path):
  with open(path) as f:
    return json.load(f)


def collect(root: str, run_ids=None) -> list[dict]:
  """Records of the completed runs under ``root`` (optionally only ``run_ids``).

  A record: the run's done.json fields plus ``before``/``after`` result dicts.
  """
  records = []
  for marker in sorted(glob.glob(os.path.join(root, "*", "*", "done.json"))):
    meta = _read_json(marker)
    if "pair" not in meta or (run_ids is not None and meta.get("run_id") not in run_ids):
      continue
    run_dir = os.path.dirname(marker)
    rec = dict(meta)
    rec["run_dir"] = run_dir
    rec["before"] = _read_json(os.path.join(run_dir, "transfer", "before", "results.json"))
    rec["after"] = _read_json(os.path.join(run_dir, "transfer", "after", "eval",
                                           "results.json"))
    dist = os.path.join(run_dir, "distances.json")
    rec["distances"] = _read_json(dist) if os.path.exists(dist) else {}
    records.append(rec)
  records.sort(key=lambda r: (_pair_order(r["pair"]), r["beta"], r["seed"]))
  return records


def _pair_order(pair: str):
  return (0, int(pair), "") if str(pair).isdigit() else (1, 0, str(pair))


def flat_table(records) -> list[dict]:
  """One row per run x metric x factor with the before, after and delta values."""
  rows = []
  for r in records:
    names = list(r["factor_names"])
    b = metric_values(r["before"], len(names))
    a = metric_values(r["after"], len(names))
    for metric in METRIC_ROWS:
      for j, factor in enumerate(names + [ALL]):
        vb, va = b[metric][j], a[metric][j]
        rows.append({"pair": r["pair"], "source": r["source"], "target": r["target"],
                     "beta": r["beta"], "seed": r["seed"], "metric": metric,
                     "factor": factor, "before": vb, "after": va,
                     "delta": None if vb is None or va is None else va - vb})
  return rows


def _stats(values):
  v = np.asarray([x for x in values if x is not None], np.float64)
  n = len(v)
  if n == 0:
    return None, None, 0
  return float(v.mean()), float(v.std(ddof=1)) if n > 1 else None, n


def aggregate(rows) -> list[dict]:
  """Cells: per (pair, metric, factor) mean/std of before, after and delta, and n.

  n counts the models with both a before and an after value; std is across
  models (ddof 1; None for a single model).
  """
  groups: dict[tuple, list] = {}
  for row in rows:
    groups.setdefault((row["pair"], row["metric"], row["factor"]), []).append(row)
  cells = []
  for (pair, metric, factor), group in groups.items():
    both = [g for g in group if g["delta"] is not None]
    cell = {"pair": pair, "source": group[0]["source"], "target": group[0]["target"],
            "metric": metric, "factor": factor}
    for key in ("before", "after", "delta"):
      mean, std, n = _stats([g[key] for g in both])
      cell[f"{key}_mean"], cell[f"{key}_std"] = mean, std
    cell["n"] = len(both)
    cell["betas"] = sorted({g["beta"] for g in both})
    cell["seeds"] = sorted({g["seed"] for g in both})
    cells.append(cell)
  return cells


# ----------------------------------------------------------------------------
# Formatting.

def _pct(v, signed=False):
  if v is None:
    return "–"
  return f"{100 * v:+.1f}" if signed else f"{100 * v:.1f}"


def format_cell(cell, with_std: bool = True) -> str:
  """Paper layout x100: ``before (+delta)``, with ``± std`` across models."""
  if not cell or cell["n"] == 0:
    return "–"
  b, d = _pct(cell["before_mean"]), _pct(cell["delta_mean"], signed=True)
  if with_std and cell["before_std"] is not None:
    return (f"{b} ± {_pct(cell['before_std'])} "
            f"({d} ± {_pct(cell['delta_std'])})")
  return f"{b} ({d})"


def _by_pair(cells):
  out: dict[str, dict] = {}
  for c in cells:
    p = out.setdefault(c["pair"], {"source": c["source"], "target": c["target"],
                                   "factors": [], "cells": {}})
    if c["factor"] not in p["factors"] and c["factor"] != ALL:
      p["factors"].append(c["factor"])
    p["cells"][(c["metric"], c["factor"])] = c
  return dict(sorted(out.items(), key=lambda kv: _pair_order(kv[0])))


def _n_text(row_cells):
  ns = sorted({c["n"] for c in row_cells if c and c["n"]})
  return "–" if not ns else str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"


def pair_title(pair, source, target) -> str:
  label = f"Pair {pair}" if str(pair).isdigit() else pair
  return f"{label}: {source} → {target}"


def markdown_tables(cells, with_std: bool = True) -> str:
  """One Markdown table per pair: metrics x (factors, All), plus the model count."""
  parts = []
  for pair, p in _by_pair(cells).items():
    cols = p["factors"] + [ALL]
    lines = [f"### {pair_title(pair, p['source'], p['target'])}", "",
             "| metric | " + " | ".join(cols) + " | n |",
             "|---" * (len(cols) + 2) + "|"]
    for metric in METRIC_ROWS:
      row = [p["cells"].get((metric, f)) for f in cols]
      if not any(c and c["n"] for c in row):
        continue
      lines.append(f"| {metric} | " + " | ".join(format_cell(c, with_std) for c in row)
                   + f" | {_n_text(row)} |")
    parts.append("\n".join(lines))
  return "\n\n".join(parts)


def summary_table(cells, metrics=("GBT", "GBT pruned", "MES", "OS", "OMES", "DCI", "MIG"),
                  with_std: bool = False) -> str:
  """One row per pair, the "All" cell of each metric."""
  lines = ["| pair | source → target | " + " | ".join(metrics) + " | n |",
           "|---" * (len(metrics) + 3) + "|"]
  for pair, p in _by_pair(cells).items():
    row = [p["cells"].get((m, ALL)) for m in metrics]
    lines.append(f"| {pair} | {p['source']} → {p['target']} | "
                 + " | ".join(format_cell(c, with_std) for c in row)
                 + f" | {_n_text(row)} |")
  return "\n".join(lines)


CSV_FIELDS = ("pair", "source", "target", "metric", "factor", "n", "before_mean",
              "before_std", "after_mean", "after_std", "delta_mean", "delta_std")


def csv_text(cells) -> str:
  """Every cell as a CSV row (raw fractions, not x100)."""
  out = io.StringIO()
  w = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore",
                     lineterminator="\n")
  w.writeheader()
  for c in cells:
    w.writerow({k: ("" if c.get(k) is None else c.get(k)) for k in CSV_FIELDS})
  return out.getvalue()


def _tex(text: str) -> str:
  for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("&", r"\&"), ("%", r"\%"),
               ("#", r"\#"), ("→", r"$\rightarrow$")):
    text = text.replace(a, b)
  return text


def _tex_cell(cell, with_std: bool) -> str:
  if not cell or cell["n"] == 0:
    return "--"
  b, d = _pct(cell["before_mean"]), _pct(cell["delta_mean"], signed=True)
  if with_std and cell["before_std"] is not None:
    return (f"${b}_{{\\pm {_pct(cell['before_std'])}}}$ "
            f"(${d}_{{\\pm {_pct(cell['delta_std'])}}}$)")
  return f"{b} (${d}$)"


def latex_tables(cells, with_std: bool = True) -> str:
  """One LaTeX ``table`` per pair (booktabs), same layout as the Markdown."""
  parts = []
  for pair, p in _by_pair(cells).items():
    cols = p["factors"] + [ALL]
    lines = [r"\begin{table}[t]", r"\centering\small",
             r"\begin{tabular}{l" + "c" * len(cols) + "r}", r"\toprule",
             "Metric & " + " & ".join(_tex(c) for c in cols) + r" & $n$ \\", r"\midrule"]
    for metric in METRIC_ROWS:
      row = [p["cells"].get((metric, f)) for f in cols]
      if not any(c and c["n"] for c in row):
        continue
      lines.append(_tex(metric) + " & " + " & ".join(_tex_cell(c, with_std) for c in row)
                   + f" & {_n_text(row).replace('–', '--')} " + r"\\")
    lines += [r"\bottomrule", r"\end{tabular}",
              r"\caption{" + _tex(pair_title(pair, p["source"], p["target"]))
              + r": mean before fine-tuning $\times 100$ (mean change after"
              r" fine-tuning), $\pm$ std across models; $n$ models.}",
              r"\label{tab:transfer-" + _tex(str(pair)) + "}", r"\end{table}"]
    parts.append("\n".join(lines))
  return "\n\n".join(parts) + "\n"


# ----------------------------------------------------------------------------
# Rank correlations.

def rankdata(x) -> np.ndarray:
  """Ranks 0..n-1 with ties averaged (as scipy.stats.rankdata, minus 1)."""
  x = np.asarray(x, np.float64)
  order = np.argsort(x, kind="mergesort")
  ranks = np.empty(len(x))
  ranks[order] = np.arange(len(x))
  _, inv = np.unique(x, return_inverse=True)
  return (np.bincount(inv, ranks) / np.bincount(inv))[inv]


def spearman(x, y) -> float:
  """Spearman rank correlation over the pairs where both are finite (NaN if undefined)."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  ok = np.isfinite(x) & np.isfinite(y)
  if ok.sum() < 2:
    return float("nan")
  rx, ry = rankdata(x[ok]), rankdata(y[ok])
  if rx.std() == 0 or ry.std() == 0:
    return float("nan")
  return float(np.corrcoef(rx, ry)[0, 1])


def spearman_matrix(columns: dict[str, list]) -> tuple[list[str], np.ndarray]:
  names = list(columns)
  m = np.full((len(names), len(names)), np.nan)
  for i, a in enumerate(names):
    for j, b in enumerate(names):
      m[i, j] = spearman(columns[a], columns[b])
  return names, m


CORRELATION_ALPHAS = (0.0, 0.2, 0.5, 0.8, 1.0)


def headline_metrics(results: dict) -> dict[str, float]:
  """The numbers compared in the metric-correlation figure, for one evaluation."""
  out = {}
  for alpha in CORRELATION_ALPHAS:
    out[f"OMES a={alpha:g}"] = _omes_all(results, alpha)
  for label, name in (("DCI", "DCI"), ("MIG", "MIG"), ("BetaVAE", "BetaVAE"),
                      ("FactorVAE", "FactorVAE"), ("GBT acc.", "GBT"),
                      ("GBT pruned acc.", "GBT pruned")):
    out[label] = results_lib.MEASURE[name].value(results)
  return {k: (float(v) if _finite(v) else float("nan")) for k, v in out.items()}


def metric_correlations(evaluations: list[dict]) -> tuple[list[str], np.ndarray, int]:
  """Spearman matrix between metrics across evaluations (columns all-NaN dropped)."""
  heads = [headline_metrics(r) for r in evaluations]
  cols = {k: [h[k] for h in heads] for k in (heads[0] if heads else {})}
  cols = {k: v for k, v in cols.items() if np.isfinite(v).sum() >= 2}
  names, m = spearman_matrix(cols)
  return names, m, len(evaluations)


def distance_rows(records) -> list[dict]:
  """Per pair: mean distances (encoding and pixel) and mean changes in OMES and GBT."""
  pairs: dict[str, dict] = {}
  for r in records:
    p = pairs.setdefault(r["pair"], {"pair": r["pair"], "source": r["source"],
                                     "target": r["target"], "_d": {}, "_omes": [],
                                     "_gbt": []})
    for space, vals in r.get("distances", {}).items():
      if isinstance(vals, dict):
        for k, v in vals.items():
          if k in ("mmd2", "frechet") and _finite(v):
            p["_d"].setdefault(f"{space} {k}", []).append(v)
    for key, fn in (("_omes", lambda x: _omes_all(x, 0.5)),
                    ("_gbt", results_lib.MEASURE["GBT"].value)):
      b, a = fn(r["before"]), fn(r["after"])
      if _finite(b) and _finite(a):
        p[key].append(a - b)
  out = []
  for p in sorted(pairs.values(), key=lambda p: _pair_order(p["pair"])):
    row = {"pair": p["pair"], "source": p["source"], "target": p["target"],
           "n": len(p["_omes"])}
    row.update({k: float(np.mean(v)) for k, v in sorted(p["_d"].items())})
    row["delta OMES"] = float(np.mean(p["_omes"])) if p["_omes"] else float("nan")
    row["delta GBT"] = float(np.mean(p["_gbt"])) if p["_gbt"] else float("nan")
    out.append(row)
  return out


def distance_correlations(rows) -> dict[str, dict[str, float]]:
  """Spearman across pairs: {distance: {"delta OMES": rho, "delta GBT": rho}}."""
  keys = sorted({k for r in rows for k in r if k.endswith(("mmd2", "frechet"))})
  return {k: {t: spearman([r.get(k, float("nan")) for r in rows], [r[t] for r in rows])
              for t in ("delta OMES", "delta GBT")} for k in keys}
