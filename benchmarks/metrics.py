"""Times dtransfer's metrics against plain numpy/scikit-learn on the same data.

  python -m benchmarks.metrics [--n 10000] [--repeats 3] [--gbt_trees 100]

Data: N codes of D=10 dims for K=6 factors with the Shapes3D factor sizes
(10, 10, 10, 8, 4, 15), sampled uniformly from the grid: six noisy factor
codes, two noise dims, one dim mixing two factors, one near-dead dim.
Baselines (``benchmarks/metrics_numpy.py``) follow the reference code's own
loops. For each metric the table gives the baseline time, dtransfer's first
call (with JIT compilation) and its best steady-state call, the speed-up
(baseline / steady), and both values. BLAS threads are limited (default 1) on
both sides because this machine's cores are shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

if __package__ in (None, ""):
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
from threadpoolctl import threadpool_limits  # pylint: disable=g-import-not-at-top

from benchmarks import metrics_numpy as ref  # pylint: disable=g-import-not-at-top
from dtransfer.metrics import beta_vae  # pylint: disable=g-import-not-at-top
from dtransfer.metrics import dci
from dtransfer.metrics import downstream
from dtransfer.metrics import factor_vae
from dtransfer.metrics import irs
from dtransfer.metrics import mig
from dtransfer.metrics import modularity
from dtransfer.metrics import omes
from dtransfer.metrics import sap
from dtransfer.metrics import unsupervised

SIZES = (10, 10, 10, 8, 4, 15)


def make_data(n: int, seed: int = 0):
  rng = np.random.default_rng(seed)
  f = np.stack([rng.integers(0, s, size=n) for s in SIZES], axis=1)
  scaled = f / (np.asarray(SIZES) - 1)
  codes = np.concatenate([
      scaled + 0.05 * rng.normal(size=f.shape),
      rng.normal(size=(n, 2)),
      (0.5 * scaled[:, :1] + 0.5 * scaled[:, 1:2]) + 0.05 * rng.normal(size=(n, 1)),
      0.01 * rng.normal(size=(n, 1)),
  ], axis=1)
  return codes, f


def _block(x):
  jax.block_until_ready(x)
  return x


def timed(fn, repeats: int):
  """(first-call seconds, best call seconds, last value).

  The best is taken over the later calls, or is the first call if repeats is 0.
  """
  t = time.perf_counter()
  value = _block(fn())
  first = time.perf_counter() - t
  best = first if repeats == 0 else float("inf")
  for _ in range(repeats):
    t = time.perf_counter()
    value = _block(fn())
    best = min(best, time.perf_counter() - t)
  return first, best, value


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--n", type=int, default=10_000)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--gbt_trees", type=int, default=100,
                      help="GBT trees for DCI and the GBT downstream task.")
  parser.add_argument("--skip_classifiers", action="store_true",
                      help="skip DCI and GBT (sklearn on both sides).")
  parser.add_argument("--blas_threads", type=int, default=1)
  args = parser.parse_args(argv)

  codes, labels = make_data(args.n)
  print(f"N={args.n} D={codes.shape[1]} K={labels.shape[1]} sizes={SIZES}; "
        f"jax {jax.__version__} on {jax.devices()[0].platform}; "
        f"BLAS threads {args.blas_threads}")

  pairs = ref.omes_pairs(labels, seed=0)
  s_numpy = ref.omes_association(codes, pairs)
  s_numpy_pruned = s_numpy[np.std(codes, axis=0, ddof=1) >= 0.05]
  grid_ref = lambda s: {p: {a: ref.omes_score(s, a, p)
                            for a in omes.ALPHAS} for p in omes.POOLINGS}

  def jax_fixed_pairs():
    s = omes.association_matrix_ragged(
        [(codes[i], codes[j]) for i, j in pairs], reference=True)
    return np.asarray(s)

  cases = [
      # name, baseline, dtransfer, (how to read a comparable value from each)
      ("omes (reference, full)",
       lambda: ref.omes(codes, labels)[0]["avg"][0.5],
       lambda: omes.omes(codes, labels, reference=True)["omes"]),
      ("omes (default, full)",
       lambda: ref.omes(codes, labels)[0]["avg"][0.5],
       lambda: omes.omes(codes, labels)["omes"]),
      ("omes S on same pairs",
       lambda: ref.omes_association(codes, pairs),
       jax_fixed_pairs),
      ("omes grid from S",
       lambda: grid_ref(s_numpy_pruned),
       lambda: omes.score_grid(s_numpy_pruned, reference=True)),
      ("mig", lambda: ref.mig(codes, labels),
       lambda: mig.mig(codes, labels)["mig"]),
      ("sap (continuous)", lambda: ref.sap_continuous(codes, labels),
       lambda: sap.sap(codes, labels, continuous_factors=True)["sap"]),
      ("modularity", lambda: ref.modularity(codes, labels),
       lambda: modularity.modularity(codes, labels,
                                     with_explicitness=False)["modularity"]),
      ("irs", lambda: ref.irs(codes, labels),
       lambda: irs.irs(codes, labels)["irs"]),
      ("unsupervised", lambda: ref.unsupervised(codes)["mutual_info_score"],
       lambda: unsupervised.unsupervised(codes)["mutual_info_score"]),
      ("beta_vae", lambda: ref.beta_vae(codes, labels),
       lambda: beta_vae.beta_vae(codes, labels)["eval_accuracy"]),
      ("factor_vae", lambda: ref.factor_vae(codes, labels),
       lambda: factor_vae.factor_vae(codes, labels)["eval_accuracy"]),
  ]
  if not args.skip_classifiers:
    cases += [
        ("dci (sklearn GBT)",
         lambda: ref.dci(codes, labels, n_estimators=args.gbt_trees)[0],
         lambda: dci.dci(codes, labels,
                         n_estimators=args.gbt_trees)["disentanglement"]),
        ("gbt downstream (sklearn)",
         lambda: ref.gbt(codes, labels, n_estimators=args.gbt_trees),
         lambda: downstream.downstream(
             codes, labels, n_estimators=args.gbt_trees)["mean_test_accuracy"]),
    ]

  rows = []
  with threadpool_limits(args.blas_threads):
    for name, base_fn, ours_fn in cases:
      slow = "sklearn" in name or "full" in name or "_vae" in name
      repeats = 1 if slow else args.repeats
      _, base_t, base_v = timed(base_fn, 0 if slow else args.repeats)
      first, best, ours_v = timed(ours_fn, repeats)
      rows.append((name, base_t, first, best, base_v, ours_v))
      print(f"  done {name}", file=sys.stderr, flush=True)

  def show(v):
    if isinstance(v, dict):
      return f"avg@0.5={v['avg'][0.5]:.4f}"
    if isinstance(v, np.ndarray):
      return f"S[{v.shape[0]}x{v.shape[1]}]"
    return f"{float(v):.4f}"

  head = (f"{'metric':<26}{'numpy s':>10}{'jax 1st s':>11}{'jax s':>9}"
          f"{'speed-up':>10}  {'numpy value':>14}  {'dtransfer value':>16}")
  print(head)
  print("-" * len(head))
  for name, base_t, first, best, base_v, ours_v in rows:
    print(f"{name:<26}{base_t:>10.3f}{first:>11.3f}{best:>9.4f}"
          f"{base_t / best:>9.1f}x  {show(base_v):>14}  {show(ours_v):>16}")
  s_jax = jax_fixed_pairs()
  grid_np = grid_ref(s_numpy_pruned)
  grid_jx = omes.score_grid(s_numpy_pruned, reference=True)
  worst = max(abs(grid_np[p][a] - grid_jx[p][a]) for p in grid_np
              for a in grid_np[p])
  print(f"\nOMES on identical pairs: max |numpy - jax| = "
        f"{np.max(np.abs(s_numpy - s_jax)):.1e} on S (4-decimal rounding), "
        f"{worst:.1e} on the 22-entry grid; pairs per factor "
        f"{[len(i) for i, _ in pairs]}")


if __name__ == "__main__":
  main()
