"""rendered_digits: a fixed image per record, the digit and the nuisances in it."""

import numpy as np
import pytest

from dtransfer import datasets


def test_records_are_fixed_and_differ():
  src = datasets.get_dataset("rendered_digits", instances=3)
  assert src.space.names == ("digit", "font", "instance")
  assert src.space.sizes == (10, 20, 3) and src.image_shape == (28, 28, 3)
  idx = np.array([0, 1, 3, 60, 599])
  a, b = src.images(idx), src.images(idx)
  np.testing.assert_array_equal(a, b)            # a pure function of the factors
  assert a.dtype == np.uint8
  flat = a.reshape(len(a), -1).astype(int)
  assert all(np.abs(flat[i] - flat[j]).mean() > 5 for i in range(5) for j in range(i))
  grey = datasets.get_dataset("rendered_digits", instances=3, channels=1, size=16)
  assert grey.images(idx).shape == (5, 16, 16, 1)


def test_bad_options_fail_clearly():
  with pytest.raises(ValueError, match="channels must be 1 or 3"):
    datasets.get_dataset("rendered_digits", channels=2)
  with pytest.raises(ValueError, match="rendered offline"):
    datasets.get_dataset("rendered_digits", origin="tfds")
