"""Every dataset with factors goes through the same weak-pair and OMES code path.

Offline datasets use their renderers; the others read the tiny fake files in
the original format shipped in their builder's dummy_data/.
"""

import os

import numpy as np
import pytest

from dtransfer import datasets
from dtransfer.data import pairs
from dtransfer.metrics import omes

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    "dtransfer", "datasets")


def dummy(name):
  return os.path.join(ROOT, name, f"dtransfer_{name}", "dummy_data")


CASES = {
    "dsprites": dict(),
    "noisy_dsprites": dict(),
    "color_dsprites": dict(),
    "color_dsprites_dlib": dict(),
    "noisy_color_dsprites": dict(),
    "shapes3d": dict(),
    "shapes3d_domains": dict(pair="wall_floor", size=32),
    "real_objects": dict(),
    "coil100_augmented": dict(origin="original", data_dir=dummy("coil100")),
    "coil100_augmented_binary": dict(origin="original", data_dir=dummy("coil100")),
    "rgbd_objects": dict(origin="original", data_dir=dummy("rgbd_objects")),
    "rgbd_objects_depth": dict(origin="original", data_dir=dummy("rgbd_objects")),
    "isaac3d": dict(origin="original", data_dir=dummy("isaac3d")),
    "mpi3d_toy": dict(origin="original", data_dir=dummy("mpi3d"),
                      factor_sizes=(2, 1, 2, 1, 1, 3, 2)),
    "cars3d": dict(origin="original", data_dir=dummy("cars3d")),
    "smallnorb": dict(origin="original", data_dir=dummy("smallnorb")),
    "digits": dict(),
    "rendered_digits": dict(instances=2),
}


def test_every_registered_dataset_is_covered():
  missing = {"mpi3d_realistic", "mpi3d_real"}  # same reader as mpi3d_toy
  assert set(datasets.names()) - missing == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_weak_pairs_and_omes_on(name):
  src = datasets.get_dataset(name, **CASES[name])
  batch = pairs.WeakPairBatches(src, 8, seed=0)[0]
  space = src.space
  diff = batch["f1"] != batch["f2"]
  assert (diff.sum(1) == 1).all()
  assert diff[np.arange(8), batch["label"]].all()
  assert batch["x1"].shape == (8,) + tuple(src.image_shape) and batch["x1"].dtype == np.uint8
  # OMES on a toy "representation" (mean pixel per channel + factor-blind noise)
  # enough samples that some pairs differ in one factor only, even on 5M-cell grids
  num = 4000 if space.num_records > 1_000_000 else 300
  factors, images = pairs.sample_dataset(src, num, seed=0)
  imgs = np.concatenate(list(images()))
  codes = np.concatenate([imgs.reshape(len(imgs), -1, imgs.shape[-1]).mean(1),
                          np.random.default_rng(0).normal(size=(len(imgs), 2))], 1)
  r = omes.omes(codes, factors)
  assert 0.0 <= r["omes"] <= 1.0
  assert len(r["os"]) == space.num_factors
