"""Writes dummy_data/data/cars/car_*_mesh.mat: fake cars in the original format.

``im`` [128, 128, 3, 24, 4] uint8 per file (compressed MATLAB 5 files), the
layout of nips2015-analogy-data.tar.gz; each view is a flat colour encoding
(car, azimuth, elevation) so tests can check the factor order. list.txt
names the cars (without ".mat", as in the archive) in non-sorted order on
purpose: object ids must follow it, not the sorted file names.

  PYTHONPATH=. python dtransfer/datasets/cars3d/dtransfer_cars3d/dummy_data/make_dummy_data.py
"""

import os
import shutil

import numpy as np
import scipy.io

CARS = ("car_113_mesh", "car_001_mesh", "car_042_mesh")


def car_views(name: str) -> np.ndarray:
  car = int(name.split("_")[1])
  im = np.zeros((128, 128, 3, 24, 4), np.uint8)
  im[:, :, 0] = car
  im[:, :, 1] = (np.arange(24) * 10)[:, None]
  im[:, :, 2] = (np.arange(4) * 60)[None, :]
  return im


def write_cars(folder, cars=CARS):
  if os.path.exists(folder):
    shutil.rmtree(folder)
  os.makedirs(folder)
  for name in cars:
    scipy.io.savemat(os.path.join(folder, name + ".mat"),
                     {"im": car_views(name)}, do_compression=True)
  with open(os.path.join(folder, "list.txt"), "w") as f:
    f.write("\n".join(cars) + "\n")


if __name__ == "__main__":
  write_cars(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "data", "cars"))
