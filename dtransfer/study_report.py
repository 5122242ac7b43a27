"""A study's report: the paper-style tables, figures and source-target distances.

``write_report(root)`` reads the completed runs of a study (dtransfer.study)
and writes ``<root>/report/``:
  report.md                 everything below, readable as it is
  tables.md/.csv/.tex       per pair: metric x factor cells, before (+change) x100,
                            std across models, number of models
  runs.csv                  the flat table: one row per run x metric x factor
  association_<pair>.png    mean OMES association matrix S, before | after
  factors_<pair>.png        per-factor before/after bars (mean, std error bars)
  metric_correlations.png   Spearman correlations between metrics over all evaluations
  distances.png             source-target distance against the change after fine-tuning
matplotlib (Agg) is imported only here, when figures are drawn.
"""

from __future__ import annotations

import csv
import glob
import json
import os

import numpy as np

from dtransfer import aggregate
from dtransfer.metrics import plots
from dtransfer import study as study_lib
from dtransfer import transfer_pairs

BAR_METRICS = ("GBT", "GBT pruned", "MES", "OS")


def _save(fig, path):
  plt = plots.pyplot()
  try:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
  finally:
    plt.close(fig)
  return path


def association_figure(records, path: str, title: str) -> str | None:
  """Mean S over the pair's models, before and after fine-tuning, side by side.

  Averaging is meaningful because the labels aggregator ties latent dim i to
  source factor i in every source model.
  """
  mats = {}
  for stage in ("before", "after"):
    ss = [np.asarray(r[stage]["omes"]["S"], np.float64) for r in records
          if isinstance(r[stage].get("omes"), dict) and "S" in r[stage]["omes"]]
    if not ss or len({s.shape for s in ss}) != 1:
      return None
    mats[stage] = np.mean(ss, 0)
  names = list(records[0]["factor_names"])
  plt = plots.pyplot()
  d, k = mats["before"].shape
  fig, axes = plt.subplots(1, 2, figsize=(2.2 + 1.6 * k, 1.2 + 0.42 * d))
  for ax, stage in zip(axes, ("before", "after")):
    s = mats[stage]
    im = ax.imshow(s, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(d), [f"z{i}" for i in range(d)], fontsize=8)
    ax.set_title(f"{stage} fine-tuning", fontsize=9)
    for i in range(d):
      for j in range(k):
        ax.text(j, i, f"{s[i, j]:.2f}", ha="center", va="center", fontsize=6,
                color="black" if s[i, j] > 0.5 else "white")
  fig.colorbar(im, ax=list(axes), label="S = 1 - |corr|", shrink=0.8)
  fig.suptitle(f"{title}: OMES association matrix, mean of {len(records)} model(s)",
               fontsize=9)
  try:
    fig.savefig(path, dpi=110, bbox_inches="tight")
  finally:
    plt.close(fig)
  return path


def factor_figure(cells, pair: str, path: str, title: str) -> str | None:
  """Per metric a panel: per factor (and All) before/after bars with std error bars."""
  plt = plots.pyplot()
  mine = {(c["metric"], c["factor"]): c for c in cells if c["pair"] == pair}
  factors = [f for (_, f) in mine if f != aggregate.ALL]
  factors = list(dict.fromkeys(factors)) + [aggregate.ALL]
  metrics = [m for m in BAR_METRICS if any(mine.get((m, f), {}).get("n") for f in factors)]
  if not metrics:
    return None
  fig, axes = plt.subplots(1, len(metrics), squeeze=False,
                           figsize=(1.0 + 0.55 * len(factors) * len(metrics), 3.0))
  x = np.arange(len(factors))
  for ax, metric in zip(axes[0], metrics):
    for off, stage, color in ((-0.2, "before", "#8da0cb"), (0.2, "after", "#fc8d62")):
      mean = [mine.get((metric, f), {}).get(f"{stage}_mean") for f in factors]
      std = [mine.get((metric, f), {}).get(f"{stage}_std") for f in factors]
      ax.bar(x + off, [np.nan if m is None else m for m in mean], 0.4,
             yerr=[0 if s is None else s for s in std], label=stage, color=color,
             capsize=2)
    ax.set_xticks(x, factors, rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title(metric, fontsize=9)
  axes[0][0].legend(fontsize=7)
  fig.suptitle(title, fontsize=9)
  return _save(fig, path)


def correlation_figure(names, matrix, n: int, path: str) -> str:
  plt = plots.pyplot()
  k = len(names)
  fig, ax = plt.subplots(figsize=(1.5 + 0.55 * k, 1.2 + 0.5 * k))
  im = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
  ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
  ax.set_yticks(range(k), names, fontsize=8)
  for i in range(k):
    for j in range(k):
      v = matrix[i, j]
      ax.text(j, i, "–" if np.isnan(v) else f"{v:.2f}", ha="center", va="center",
              fontsize=6.5, color="white" if abs(np.nan_to_num(v)) > 0.6 else "black")
  fig.colorbar(im, ax=ax, label="Spearman rho")
  ax.set_title(f"Rank correlation between metrics over {n} evaluated models", fontsize=9)
  return _save(fig, path)


def distance_figure(rows, path: str) -> str | None:
  keys = sorted({k for r in rows for k in r if k.endswith(("mmd2", "frechet"))})
  if not keys or not rows:
    return None
  plt = plots.pyplot()
  fig, axes = plt.subplots(2, len(keys), squeeze=False,
                           figsize=(0.6 + 2.6 * len(keys), 5.0))
  for col, key in enumerate(keys):
    for row, target in enumerate(("delta OMES", "delta GBT")):
      ax = axes[row][col]
      xs = [r.get(key, np.nan) for r in rows]
      ys = [r[target] for r in rows]
      ax.scatter(xs, ys, s=18)
      for r, xv, yv in zip(rows, xs, ys):
        ax.annotate(str(r["pair"]), (xv, yv), fontsize=6, xytext=(2, 2),
                    textcoords="offset points")
      ax.axhline(0, color="grey", lw=0.5)
      ax.set_xlabel(key, fontsize=8)
      ax.set_ylabel(f"{target} (after - before)", fontsize=8)
      ax.tick_params(labelsize=7)
  fig.suptitle("Source-target distance vs change after fine-tuning (one point per pair)",
               fontsize=9)
  return _save(fig, path)


# ----------------------------------------------------------------------------

def _source_evaluations(root: str) -> list[dict]:
  out = []
  for marker in sorted(glob.glob(os.path.join(root, "sources", "*", "done.json"))):
    with open(marker) as f:
      res = json.load(f).get("results")
    if isinstance(res, dict):
      out.append(res)
  return out


def _fmt(v, digits=3):
  if v is None or (isinstance(v, float) and np.isnan(v)):
    return "–"
  return f"{v:.{digits}g}" if abs(v) < 1e-2 and v != 0 else f"{v:.{digits}f}"


def _warning_notes(records, limit: int = 4) -> list[str]:
  """OMES warnings of a pair's evaluations (e.g. every dim inactive), with counts."""
  counts: dict[tuple, int] = {}
  for r in records:
    for stage in ("before", "after"):
      omes = r[stage].get("omes")
      for w in (omes.get("warnings", []) if isinstance(omes, dict) else []):
        counts[(stage, w)] = counts.get((stage, w), 0) + 1
  notes = [f"- OMES {stage} fine-tuning, {n} of {len(records)} model(s): {w}"
           for (stage, w), n in list(counts.items())[:limit]]
  if len(counts) > limit:
    notes.append(f"- ... and {len(counts) - limit} more (see the runs' results.json).")
  return notes


def _slug(pair) -> str:
  return str(pair).replace("/", "_")


def write_report(root: str, study=None, outdir: str | None = None) -> str:
  """Writes ``<root>/report/`` from the completed runs; returns report.md's path."""
  outdir = outdir or os.path.join(root, "report")
  os.makedirs(outdir, exist_ok=True)
  specs = study_lib.expand(study) if study is not None else None
  ids = {s.id for s in specs} if specs is not None else None
  records = aggregate.collect(root, ids)
  rows = aggregate.flat_table(records)
  cells = aggregate.aggregate(rows)

  with open(os.path.join(outdir, "tables.md"), "w") as f:
    f.write(aggregate.markdown_tables(cells) + "\n")
  with open(os.path.join(outdir, "tables.csv"), "w") as f:
    f.write(aggregate.csv_text(cells))
  with open(os.path.join(outdir, "tables.tex"), "w") as f:
    f.write(aggregate.latex_tables(cells))
  with open(os.path.join(outdir, "runs.csv"), "w", newline="") as f:
    fields = ["pair", "source", "target", "beta", "seed", "metric", "factor", "before",
              "after", "delta"]
    w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows({k: ("" if r[k] is None else r[k]) for k in fields} for r in rows)

  lines = [f"# Transfer study report: {root}", ""]
  if study is not None:
    missing = [s.id for s in specs if not study_lib.run_complete(root, s)]
    lines += [f"Study `{study.name}` (preset `{study.preset}`): pairs "
              f"{', '.join(study.pairs)}; source beta {list(study.betas)}; seeds "
              f"{list(study.seeds)}. {len(records)} of {len(specs)} runs complete."]
    if missing:
      lines += ["", f"**Missing runs ({len(missing)})**, not in the tables: "
                + ", ".join(f"`{m}`" for m in missing[:20])
                + (" ..." if len(missing) > 20 else "")
                + ". Run the same sweep command again to complete them."]
  else:
    lines += [f"{len(records)} completed runs found under {root}."]
  lines += ["", "How to read a cell: mean over models **before** fine-tuning x100 ± std "
            "across models, then in brackets the mean change after fine-tuning "
            "(after - before) x100 ± std; `n` is the number of models (source beta x "
            "seed) behind the cells. GBT: gradient-boosted-trees test accuracy on the "
            "whole representation; GBT pruned: on the OMES-selected dims; MES/OS/OMES: "
            "per-factor multiple-encoding and overlap scores and OMES (alpha 0.5), avg "
            "pooling, with All = OMES at alpha 0 / 1 / 0.5; DCI: disentanglement (whole "
            "representation only); MIG: per-factor normalised gap, All = MIG.", ""]
  if not records:
    lines += ["No completed runs yet."]
  else:
    lines += ["## Summary (All column of every pair)", "",
              aggregate.summary_table(cells, with_std=True), ""]
    lines += ["## Tables per pair", ""]
    by_pair: dict[str, list] = {}
    for r in records:
      by_pair.setdefault(r["pair"], []).append(r)
    for pair, recs in by_pair.items():
      title = aggregate.pair_title(pair, recs[0]["source"], recs[0]["target"])
      lines += [aggregate.markdown_tables([c for c in cells if c["pair"] == pair]), ""]
      note = transfer_pairs.PAIRS.get(str(pair), (None, None, ""))[2]
      models = ", ".join(f"beta {r['beta']:g} seed {r['seed']}" for r in recs)
      lines += [f"{note}. Models: {models}.", ""]
      notes = _warning_notes(recs)
      if notes:
        lines += ["Warnings (a '–' cell or a 0 score usually comes from these):", ""]
        lines += notes + [""]
      figs = []
      assoc = association_figure(recs, os.path.join(outdir, f"association_{_slug(pair)}.png"),
                                 title)
      if assoc:
        figs.append(f"![association {pair}]({os.path.basename(assoc)})")
      bars = factor_figure(cells, pair, os.path.join(outdir, f"factors_{_slug(pair)}.png"),
                           title)
      if bars:
        figs.append(f"![factors {pair}]({os.path.basename(bars)})")
      lines += figs + [""]

    evaluations = ([r["before"] for r in records] + [r["after"] for r in records]
                   + _source_evaluations(root))
    names, matrix, n = aggregate.metric_correlations(evaluations)
    lines += ["## Metric comparison", "",
              f"Spearman rank correlation between metrics across all {n} evaluated "
              "models (every run before and after fine-tuning, and every source model "
              "on its own dataset), as in the paper's metric-comparison figure. "
              "OMES at several alphas (avg pooling); GBT = mean test accuracy.", ""]
    if names:
      lines += ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
      for i, a in enumerate(names):
        lines.append(f"| {a} | " + " | ".join(_fmt(matrix[i, j], 2)
                                               for j in range(len(names))) + " |")
      correlation_figure(names, matrix, n, os.path.join(outdir, "metric_correlations.png"))
      lines += ["", "![metric correlations](metric_correlations.png)", ""]

    drows = aggregate.distance_rows(records)
    dcorr = aggregate.distance_correlations(drows)
    keys = list(dcorr)
    lines += ["## How far apart are source and target?", "",
              "Per pair, the mean over models of: *encoding* distances between the "
              "source encoder's codes (posterior means) of source images and of target "
              "images; *pixel* distances between the images themselves (16x16 box-"
              "averaged). MMD2: squared RBF-kernel MMD, median-heuristic bandwidth; "
              "Frechet: between Gaussians fit to the two samples. Delta: mean change "
              "after fine-tuning of OMES (alpha 0.5, avg) and of GBT accuracy.", ""]
    head = keys + ["delta OMES", "delta GBT", "n"]
    lines += ["| pair | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for r in drows:
      lines.append(f"| {r['pair']} | " + " | ".join(
          _fmt(r.get(k)) if k != "n" else str(r[k]) for k in head) + " |")
    lines += ["", f"Spearman rank correlation across the {len(drows)} pairs:", "",
              "| distance | with delta OMES | with delta GBT |", "|---|---|---|"]
    for k in keys:
      lines.append(f"| {k} | {_fmt(dcorr[k]['delta OMES'], 2)} | "
                   f"{_fmt(dcorr[k]['delta GBT'], 2)} |")
    if len(drows) < 4:
      lines += ["", f"With {len(drows)} pairs a rank correlation can only take a few "
                "values; read it as a direction, not as evidence."]
    if distance_figure(drows, os.path.join(outdir, "distances.png")):
      lines += ["", "![distances](distances.png)"]
    lines += ["", "## Files", "",
              "`tables.md`, `tables.csv` (raw fractions with std and n), `tables.tex` "
              "(LaTeX, booktabs), `runs.csv` (one row per run x metric x factor). Each "
              "run's own files: `<root>/<pair>/<run>/` (run.json, transfer/before, "
              "transfer/after/{config.json, checkpoints, metrics.jsonl, eval}, "
              "distances.json)."]
  path = os.path.join(outdir, "report.md")
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
  return path
