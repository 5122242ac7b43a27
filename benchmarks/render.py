"""Renderer and prepared-builder throughput, one section per dataset.

  PYTHONPATH=. python benchmarks/render.py [--n=20000] [--batch=256]

dSprites: images/s of the procedural renderer (random factor batches, one
core) and of the noisy variant on top of it, then records/s of random-access
batch reads from a freshly prepared reduced-grid ``dtransfer_dsprites/white``
builder (array_record; the access pattern of weakly supervised training).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _rate(fn, batches) -> float:
  t0 = time.perf_counter()
  n = sum(len(fn(b)) for b in batches)
  return n / (time.perf_counter() - t0)


def bench_dsprites(n: int = 20_000, batch: int = 256,
                   grid=(3, 6, 10, 8, 8)) -> dict:
  """Prints and returns dSprites renderer and builder-read throughput."""
  # pylint: disable=g-import-not-at-top
  from dtransfer.datasets import dsprites
  from dtransfer.datasets.dsprites import dataset as dsprites_dataset, renderer, tfds_io, variants
  t0 = time.perf_counter()
  renderer.sprite_masks()
  warm = time.perf_counter() - t0
  rng = np.random.default_rng(0)
  factors = renderer.SPACE.sample(rng, n)
  batches = [factors[s:s + batch] for s in range(0, n, batch)]
  render = _rate(renderer.render, batches)
  noisy_src = dsprites_dataset.noisy_dsprites()
  index = [rng.integers(0, noisy_src.space.num_records, batch)
           for _ in range(max(1, n // batch))]
  noisy = _rate(lambda i: noisy_src.images(i, rng), index)
  print(f"dsprites render: {warm:.2f} s to build the 720 sprite masks; "
        f"{render:,.0f} images/s binary (batch {batch}); {noisy:,.0f} images/s "
        f"noisy 3-ch; full 737,280 grid in {737_280 / render:.1f} s")
  with tempfile.TemporaryDirectory() as data_dir:
    t0 = time.perf_counter()
    dsprites.build("white", data_dir, factor_sizes=grid)
    records = int(np.prod(grid))
    build = records / (time.perf_counter() - t0)
    src = tfds_io.open_source("white", data_dir, factor_sizes=grid)
    reads = [rng.integers(0, records, batch) for _ in range(20)]
    read = _rate(src.images, reads)
  print(f"dsprites builder: prepared {records:,} white records at {build:,.0f} "
        f"records/s; random-access reads {read:,.0f} records/s (batch {batch})")
  return {"render": render, "noisy": noisy, "build": build, "read": read}


SECTIONS = {"dsprites": bench_dsprites}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--n", type=int, default=20_000)
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--only", default=",".join(SECTIONS),
                      help="comma-separated sections")
  args = parser.parse_args()
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.ERROR)
  for name in args.only.split(","):
    SECTIONS[name](n=args.n, batch=args.batch)


if __name__ == "__main__":
  main()
