"""Tables for people: headline numbers of evaluations, side by side, as Markdown."""

from __future__ import annotations

import math

from dtransfer.results import alpha_key


# (metric, result-key prefix, label): downstream accuracies worth showing.
# "union" is the authors' pruned variant (every factor sees all OMES-selected
# dims); "own" gives each factor only its own associated dim.
_ACCURACIES = (("gbt", "", "GBT"), ("gbt_pruned", "union_", "GBT pruned"),
               ("gbt_pruned", "own_", "GBT own dim"), ("mlp", "", "MLP"),
               ("mlp_pruned", "union_", "MLP pruned"), ("mlp_pruned", "own_", "MLP own dim"),
               ("logreg", "", "LogReg"))


def headline(results: dict) -> dict[str, float]:
  """Ordered headline numbers of one evaluation (results.json of dtransfer.evaluate)."""
  out = {}
  omes = results.get("omes")
  if isinstance(omes, dict) and "grid" in omes:
    avg, mx = omes["grid"]["avg"], omes["grid"]["max"]
    out["OMES (a=0.5, avg)"] = avg[alpha_key(avg, 0.5)]
    out["OS (a=1, avg)"] = avg[alpha_key(avg, 1.0)]
    out["MES (a=0, avg)"] = avg[alpha_key(avg, 0.0)]
    out["OMES (a=0.5, max)"] = mx[alpha_key(mx, 0.5)]
  for name, key, label in _ACCURACIES:
    r = results.get(name)
    if isinstance(r, dict) and r.get(f"{key}mean_test_accuracy") is not None:
      out[f"{label} accuracy"] = r[f"{key}mean_test_accuracy"]
  for name in ("mig", "dci", "sap", "modularity", "beta_vae", "factor_vae", "irs"):
    r = results.get(name)
    if isinstance(r, dict):
      for k, v in r.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
          out[f"{name}.{k}"] = v
    elif isinstance(r, (int, float)):
      out[name] = r
  return out


def per_factor(results: dict, factor_names) -> dict[str, list[float]]:
  """Per-factor rows: OS, MES (avg pooling) and downstream accuracies."""
  rows = {}
  omes = results.get("omes")
  if isinstance(omes, dict):
    for key, label in (("os", "OS"), ("mes", "MES")):
      if key in omes and len(omes[key]) == len(factor_names):
        rows[label] = list(omes[key])
  for name, key, label in _ACCURACIES:
    r = results.get(name)
    if isinstance(r, dict):
      acc = r.get(f"{key}test_accuracy")
      if isinstance(acc, (list, tuple)) and len(acc) == len(factor_names):
        rows[f"{label} acc."] = list(acc)
  return rows


def _fmt(v) -> str:
  if v is None or (isinstance(v, float) and math.isnan(v)):
    return "–"
  return f"{v:.3f}"


def comparison_table(named: dict[str, dict], factor_names=(), delta_from: str | None = None) -> str:
  """Markdown tables: headline numbers per evaluation (columns), then per factor.

  With ``delta_from``, each other column shows ``value (+change)`` against that one,
  the paper's "before (+after-before)" layout.
  """
  heads = {name: headline(r) for name, r in named.items()}
  keys = [k for k in next(iter(heads.values()), {})]
  for h in heads.values():
    keys += [k for k in h if k not in keys]
  cols = list(named)

  def cell(name, k, value_of):
    v = value_of(name, k)
    if delta_from and name != delta_from and v is not None:
      b = value_of(delta_from, k)
      if b is not None:
        return f"{_fmt(v)} ({v - b:+.3f})"
    return _fmt(v)

  lines = ["| metric | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
  for k in keys:
    lines.append(f"| {k} | " + " | ".join(cell(c, k, lambda n, kk: heads[n].get(kk))
                                          for c in cols) + " |")
  factor_names = list(factor_names)
  facs = {name: per_factor(r, factor_names) for name, r in named.items()}
  rows = []
  for f in facs.values():
    rows += [r for r in f if r not in rows]
  if factor_names and rows:
    # One row per factor; for each per-factor metric one column per evaluation.
    heads = [f"{r} ({c})" for r in rows for c in cols]
    lines += ["", "| factor | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for j, fname in enumerate(factor_names):
      vals = [cell(c, (r, j), lambda n, kk: (facs[n].get(kk[0]) or [None] * len(factor_names))[kk[1]])
              for r in rows for c in cols]
      lines.append(f"| {fname} | " + " | ".join(vals) + " |")
  return "\n".join(lines)


def _flatten(d, prefix=""):
  for k, v in d.items():
    if isinstance(v, dict) and v:
      yield from _flatten(v, f"{prefix}{k}.")
    else:
      yield f"{prefix}{k}", v


def config_section(configs: dict) -> str:
  """Markdown: each ``{stage: config}`` as a folded ``field = value`` listing."""
  out = []
  for stage, config in configs.items():
    d = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    lines = "\n".join(f"{k} = {v!r}" for k, v in _flatten(d))
    out.append(f"<details><summary>{stage}</summary>\n\n```\n{lines}\n```\n\n</details>\n")
  return "\n".join(out)
