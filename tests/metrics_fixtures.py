"""Small shared data and checks for the metric tests (not a test module)."""

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import threadpoolctl


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
  """sklearn fits stall when BLAS threads fight over the shared cores."""
  with threadpoolctl.threadpool_limits(1):
    yield


def grid(sizes, repeats: int = 1) -> np.ndarray:
  """Every factor combination (C order), `repeats` times: labels [N, K]."""
  rows = np.asarray(list(itertools.product(*[range(s) for s in sizes])))
  return np.tile(rows, (repeats, 1))


def shuffled(labels: np.ndarray, seed: int = 0) -> np.ndarray:
  return labels[np.random.default_rng(seed).permutation(len(labels))]


def random_labels(sizes, n: int, seed: int = 0) -> np.ndarray:
  rng = np.random.default_rng(seed)
  return np.stack([rng.integers(0, s, size=n) for s in sizes], axis=1)


def noisy_codes(labels: np.ndarray, noise: float = 0.05, extra: int = 1,
                seed: int = 0) -> np.ndarray:
  """One noisy code per factor (scaled to [0, 1]) plus `extra` noise dims."""
  rng = np.random.default_rng(seed)
  scaled = labels / np.maximum(labels.max(axis=0), 1)
  return np.concatenate([scaled + noise * rng.normal(size=labels.shape),
                         rng.normal(size=(len(labels), extra))], axis=1)


def rotate(codes: np.ndarray) -> np.ndarray:
  """Mixes every dim into every other equally: a Hadamard rotation (D = 2^m)."""
  d = codes.shape[1]
  assert d & (d - 1) == 0, "rotate needs a power-of-two number of dims"
  z = (codes - codes.mean(0)) / codes.std(0)
  return z @ (scipy.linalg.hadamard(d) / np.sqrt(d))


def transforms(codes: np.ndarray, seed: int = 1):
  """(name, transformed codes, permutation) for the invariance tests."""
  rng = np.random.default_rng(seed)
  d = codes.shape[1]
  perm = rng.permutation(d)
  signs = np.where(rng.random(d) < 0.5, -1.0, 1.0)
  scales = rng.uniform(2.0, 5.0, size=d) * signs
  shifts = rng.normal(size=d) * 3
  return [("permutation", codes[:, perm], perm),
          ("sign flips", codes * signs, np.arange(d)),
          ("affine", codes * scales + shifts, np.arange(d))]


def assert_no_nan(obj, path="result"):
  """Recursively: no NaN anywhere in a result (None is allowed)."""
  if isinstance(obj, dict):
    for k, v in obj.items():
      assert_no_nan(v, f"{path}[{k!r}]")
  elif isinstance(obj, (list, tuple)):
    for i, v in enumerate(obj):
      assert_no_nan(v, f"{path}[{i}]")
  elif isinstance(obj, np.ndarray):
    if obj.dtype.kind == "f":
      assert not np.isnan(obj).any(), f"NaN in {path}"
  elif isinstance(obj, float):
    assert not math.isnan(obj), f"NaN at {path}"
