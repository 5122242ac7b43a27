"""scikit-learn's digits as an ImageSource: the grid, the labels, the sizes."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from dtransfer import datasets
from dtransfer.data import pairs


def test_grid_labels_match_scikit_learn():
  src = datasets.get_dataset("digits", size=8)
  assert src.space.names == ("digit", "instance") and src.space.sizes == (10, 174)
  ref = load_digits()
  # record (digit 3, instance 5) is the sixth 3 in scikit-learn's order
  idx = src.space.index(np.array([[3, 5]]))
  want = ref.images[np.flatnonzero(ref.target == 3)[5]]
  np.testing.assert_array_equal(src.images(idx)[0, ..., 0],
                                np.round(want * 255 / 16).astype(np.uint8))


def test_sizes_channels_and_pairs_share_the_digit():
  src = datasets.get_dataset("digits", size=28, channels=3)
  assert src.image_shape == (28, 28, 3)
  x = src.images(np.arange(5))
  assert x.dtype == np.uint8 and x.max() > 200 and (x[..., 0] == x[..., 2]).all()
  batch = pairs.WeakPairBatches(src, 16, seed=0)[0]   # one factor changes per pair
  same_digit = batch["f1"][:, 0] == batch["f2"][:, 0]
  assert (same_digit == (batch["label"] == 1)).all()


@pytest.mark.parametrize("kwargs, match", [(dict(channels=2), "channels"),
                                           (dict(size=4), "size"),
                                           (dict(origin="tfds"), "scikit-learn")])
def test_bad_options(kwargs, match):
  with pytest.raises(ValueError, match=match):
    datasets.get_dataset("digits", **kwargs)
