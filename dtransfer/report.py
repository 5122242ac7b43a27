"""Tables for people: headline numbers of evaluations, side by side, as Markdown."""

from __future__ import annotations

import math

from dtransfer.results import MEASURES


# The classic metrics show every number they return; the others one each.
_CLASSIC = ("mig", "dci", "sap", "modularity", "beta_vae", "factor_vae", "irs")
_SUMMARY = tuple(m for m in MEASURES if m.metric not in _CLASSIC)
_PER_FACTOR = tuple(m for m in _SUMMARY if m.per_factor)


def headline(results: dict) -> dict[str, float]:
  """Ordered headline numbers of one evaluation (results.json of dtransfer.evaluate)."""
  out = {}
  for m in _SUMMARY:
    v = m.value(results)
    if v is not None:
      out[m.title] = v
  for name in _CLASSIC:
    r = results.get(name)
    if isinstance(r, dict):
      for k, v in r.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
          out[f"{name}.{k}"] = v
    elif isinstance(r, (int, float)):
      out[name] = r
  return out


def per_factor(results: dict, factor_names) -> dict[str, list[float]]:
  """Per-factor rows: OMES, OS, MES (avg pooling) and downstream accuracies."""
  rows = {}
  for m in _PER_FACTOR:
    values = m.factors(results, len(factor_names))
    if any(v is not None for v in values):
      rows[m.label] = values
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
