"""Dataset throughput: procedural rendering and random-access pair reads.

  PYTHONPATH=. python benchmarks/datasets.py [--n_render=4096] [--grid=4,4,4,4,4,4]

Prints Shapes3D render throughput (one-off pose cache warm-up, then images/s
for random batches, extrapolated to the full 480,000-image grid) and pair
reads/s from a prepared dtransfer_shapes3d sub-grid (array_record, random
access), the access pattern of weakly-supervised training.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=g-import-not-at-top,wrong-import-position
from dtransfer.datasets.shapes3d import renderer


def bench_render(n: int, batch: int = 256) -> None:
  r = renderer.Shapes3DRenderer()
  t0 = time.perf_counter()
  r.warm_up()
  warm = time.perf_counter() - t0
  rng = np.random.default_rng(0)
  idx = rng.integers(0, renderer.SPACE.num_records, n)
  t0 = time.perf_counter()
  for s in range(0, n, batch):
    r.images(idx[s:s + batch])
  dt = time.perf_counter() - t0
  rate = n / dt
  print(f"shapes3d render: pose cache warm-up (480 poses) {warm:.2f} s; "
        f"{rate:,.0f} images/s (batch {batch}, {n} images); full 480,000 grid "
        f"~{warm + 480_000 / rate:.0f} s")
  # Sequential factor-order batches, as the builder writes them.
  t0 = time.perf_counter()
  for s in range(0, n, 1024):
    r.images(np.arange(s, min(s + 1024, n)))
  print(f"shapes3d render, factor order: {n / (time.perf_counter() - t0):,.0f}"
        " images/s")


def bench_real_objects() -> None:
  from dtransfer.datasets.real_objects import original as ro
  src = ro.RealObjectsSource()
  t0 = time.perf_counter()
  src.images(np.arange(src.space.num_records))
  dt = time.perf_counter() - t0
  print(f"real_objects: all {src.space.num_records} images computed in "
        f"{dt:.2f} s ({src.space.num_records / dt:,.0f} images/s, incl. "
        "asset load)")


def bench_pairs(grid, n_pairs: int = 4096, batch: int = 64) -> None:
  from dtransfer.datasets import _builder_utils as bu
  from dtransfer.datasets.shapes3d.dtransfer_shapes3d import dtransfer_shapes3d_dataset_builder as b
  with tempfile.TemporaryDirectory() as tmp:
    cfg = b.Shapes3dConfig(name="bench", origin="procedural", grid=tuple(grid))
    t0 = time.perf_counter()
    builder = bu.prepare(b.Builder, cfg, tmp)
    n = int(np.prod(grid))
    print(f"dtransfer_shapes3d prepare: {n} records in "
          f"{time.perf_counter() - t0:.1f} s "
          f"({n / (time.perf_counter() - t0):,.0f} records/s)")
    src = builder.as_data_source(split="train")
    rng = np.random.default_rng(0)
    a = rng.integers(0, n, n_pairs)
    f = np.stack(np.unravel_index(a, grid), -1)
    k = rng.integers(0, len(grid), n_pairs)   # one factor changes per pair
    f2 = f.copy()
    f2[np.arange(n_pairs), k] = (f[np.arange(n_pairs), k] + 1) % np.array(grid)[k]
    bidx = np.ravel_multi_index(tuple(f2.T), grid)
    src.__getitems__(list(range(min(n, 256))))  # open files
    t0 = time.perf_counter()
    for s in range(0, n_pairs, batch):
      recs = src.__getitems__(np.concatenate([a[s:s + batch],
                                              bidx[s:s + batch]]).tolist())
      np.stack([r["image"] for r in recs])
    dt = time.perf_counter() - t0
    print(f"dtransfer_shapes3d random pair reads: {n_pairs / dt:,.0f} pairs/s "
          f"({2 * n_pairs / dt:,.0f} images/s, batches of {batch} pairs)")


def main():
  p = argparse.ArgumentParser(description=__doc__)
  p.add_argument("--n_render", type=int, default=4096)
  p.add_argument("--grid", default="4,4,4,4,4,4")
  p.add_argument("--n_pairs", type=int, default=4096)
  args = p.parse_args()
  bench_render(args.n_render)
  bench_real_objects()
  bench_pairs([int(x) for x in args.grid.split(",")], args.n_pairs)


if __name__ == "__main__":
  main()
