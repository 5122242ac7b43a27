"""Train/test split of a fixed labelled sample, shared by the classifier metrics.

The authors split their 15,008-sample evaluation set by order: the first
ceil(2/3 N) = 10,006 samples train, the rest (5,002) test. Their sample was
already in random order; ours may not be (dataset records are stored in factor
order), so the rows are first permuted with the metric's seed. Without the
permutation a grid-ordered sample would test on factor values never seen in
training.
"""

from __future__ import annotations

import math

import numpy as np


def train_test_indices(num_samples: int, *, num_train: int | None = None,
                       num_test: int | None = None, seed: int = 0,
                       shuffle: bool = True,
                       metric: str = "metric") -> tuple[np.ndarray, np.ndarray]:
  """Index arrays (train, test) of a seeded split of range(num_samples).

  Args:
    num_samples: N.
    num_train: training size; default ceil(2/3 N) (the authors' rule).
    num_test: test size; default all remaining samples.
    seed: permutation seed.
    shuffle: permute before splitting (False keeps the given order, as the
      authors did).
    metric: name used in error messages.

  Returns:
    Two disjoint int64 index arrays.
  """
  if num_train is None:
    num_train = math.ceil(2 * num_samples / 3)
  if num_test is None:
    num_test = num_samples - num_train
  num_train, num_test = int(num_train), int(num_test)
  if num_train < 2 or num_test < 1 or num_train + num_test > num_samples:
    raise ValueError(
        f"{metric}: cannot split {num_samples} samples into num_train="
        f"{num_train} and num_test={num_test}; need num_train >= 2, "
        "num_test >= 1 and num_train + num_test <= N.")
  order = (np.random.default_rng(seed).permutation(num_samples) if shuffle
           else np.arange(num_samples))
  return order[:num_train], order[num_train:num_train + num_test]
