"""Factor indexing and weak pair sampling."""

import numpy as np
import pytest

from dtransfer.data import pairs
from dtransfer.data.factor_space import FactorSpace

SPACE = FactorSpace(("shape", "scale", "orientation", "x", "y"), (3, 6, 40, 32, 32))


def test_index_round_trips_over_the_whole_grid():
  small = FactorSpace(("a", "b", "c"), (2, 3, 4))
  idx = np.arange(small.num_records)
  f = small.factors(idx)
  np.testing.assert_array_equal(small.index(f), idx)
  # C order: last factor fastest, as the files store them.
  np.testing.assert_array_equal(f[:5], [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 0, 3], [0, 1, 0]])
  assert SPACE.num_records == 737_280
  rng = np.random.default_rng(0)
  f = SPACE.sample(rng, 1000)
  np.testing.assert_array_equal(SPACE.factors(SPACE.index(f)), f)


def test_bad_factors_get_clear_errors():
  with pytest.raises(ValueError, match=r"shape \[N, 5\]"):
    SPACE.index(np.zeros((3, 4), int))
  with pytest.raises(ValueError, match="'scale' must lie in"):
    SPACE.index([[0, 6, 0, 0, 0]])
  with pytest.raises(ValueError, match="integers"):
    SPACE.index([[0, 0.5, 0, 0, 0]])
  with pytest.raises(IndexError):
    SPACE.factors([SPACE.num_records])
  with pytest.raises(ValueError, match="one size per name"):
    FactorSpace(("a",), (1, 2))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_exact_pairs_differ_in_exactly_k_factors(k):
  space = FactorSpace(("colour", "a", "b", "c", "d"), (1, 2, 3, 4, 5))
  f1, f2, label = pairs.sample_weak_factors(space, np.random.default_rng(k), 5000, k)
  diff = f1 != f2
  np.testing.assert_array_equal(diff.sum(1), k)
  assert not diff[:, 0].any()  # a single-valued factor never "changes"
  assert diff[np.arange(len(label)), label].all()  # the label names a changed factor
  space.check(f2)
  if k == 1:  # changed factor uniform over the 4 varying ones
    counts = np.bincount(label, minlength=5)[1:]
    assert counts.min() > 1100
    # new values uniform over the other values
    b = label == 4
    assert set(np.unique((f2[b, 4] - f1[b, 4]) % 5)) == {1, 2, 3, 4}


def test_dlib_mode_is_one_or_k_and_may_repeat():
  space = FactorSpace(("a", "b", "c", "d"), (2, 3, 4, 5))
  f1, f2, label = pairs.sample_weak_factors(space, np.random.default_rng(0), 20000, 3,
                                            mode="dlib")
  n = (f1 != f2).sum(1)
  assert n.max() <= 3
  assert (n == 0).any()  # a redraw can repeat the old value
  # half the pairs resample 1 factor, half resample 3
  assert (n <= 1).mean() > 0.5


def test_pair_batches_are_pure_functions_of_seed_and_index():
  from dtransfer.data.sources import ArraySource
  space = FactorSpace(("a", "b"), (4, 5))
  images = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1) * np.ones((1, 2, 2, 1), np.uint8)
  src = ArraySource(images, space)
  b = pairs.WeakPairBatches(src, 8, seed=3)
  x, y = b[7], b[7]
  for key in x:
    np.testing.assert_array_equal(x[key], y[key])
  assert not np.array_equal(b[7]["f1"], b[8]["f1"])
  # images are the records of the factors
  np.testing.assert_array_equal(x["x1"][:, 0, 0, 0], space.index(x["f1"]))
  np.testing.assert_array_equal(x["x2"][:, 0, 0, 0], space.index(x["f2"]))
  # two process shards tile the global batch
  s0 = pairs.WeakPairBatches(src, 8, seed=3, shard=(0, 2))[7]
  s1 = pairs.WeakPairBatches(src, 8, seed=3, shard=(1, 2))[7]
  np.testing.assert_array_equal(np.concatenate([s0["f1"], s1["f1"]]), x["f1"])
  with pytest.raises(ValueError, match="k=3"):
    pairs.WeakPairBatches(src, 8, k=3)


@pytest.mark.parametrize("name", ["noisy_dsprites", "color_dsprites_dlib"])
def test_stochastic_images_do_not_depend_on_the_host_split(name):
  # Each host reads its rows of a batch; noise and random colours come from
  # one stream per global row, so two halves tile the one-host batch exactly.
  from dtransfer import datasets  # pylint: disable=g-import-not-at-top
  src = datasets.get_dataset(name)
  whole = pairs.WeakPairBatches(src, 8, seed=5)[3]
  halves = [pairs.WeakPairBatches(src, 8, seed=5, shard=(h, 2))[3]
            for h in range(2)]
  for key in ("x1", "x2", "f1"):
    np.testing.assert_array_equal(
        np.concatenate([h[key] for h in halves]), whole[key])
  assert not np.array_equal(whole["x1"][0], whole["x1"][1])  # still noisy
  singles = pairs.ImageBatches(src, 6, seed=2)[1]["x"]
  thirds = [pairs.ImageBatches(src, 6, seed=2, shard=(h, 3))[1]["x"]
            for h in range(3)]
  np.testing.assert_array_equal(np.concatenate(thirds), singles)


def test_row_streams_draw_each_row_from_its_own_key():
  from dtransfer.data.row_rng import RowStreams  # pylint: disable=g-import-not-at-top
  a = RowStreams([1, 2], [0, 1, 2]).integers(0, 255, size=(3, 4), dtype=np.uint8)
  b = RowStreams([1, 2], [2, 0]).integers(0, 255, size=(2, 4), dtype=np.uint8)
  np.testing.assert_array_equal(b, a[[2, 0]])
  want = np.random.default_rng([1, 2, 1]).uniform(0.5, 1.0, (3,))
  np.testing.assert_array_equal(
      RowStreams([1, 2], [1]).uniform(0.5, 1.0, size=(1, 3))[0], want)
  assert RowStreams([0], []).random(size=(0, 5)).shape == (0, 5)
  with pytest.raises(ValueError, match="first dimension must be the rows"):
    RowStreams([0], [0, 1]).random(size=(3,))
