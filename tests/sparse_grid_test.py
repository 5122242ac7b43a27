"""Tests for incomplete factor grids: SparseIndex, SparseSource, sparse pairs."""

from absl.testing import absltest
import numpy as np

from dtransfer.data import pairs
from dtransfer.data.factor_space import FactorSpace
from dtransfer.data.sources import ArraySource
from dtransfer.data.sources import SparseIndex
from dtransfer.data.sources import SparseSource
from dtransfer.data.sources import sparse_index

# 3 categories x 2 videos x 5 frames; frames per video vary, like RGB-D.
_SPACE = FactorSpace(("category", "video", "frame"), (3, 2, 5))
_FRAMES = {(0, 0): 5, (0, 1): 3, (1, 0): 1, (1, 1): 4, (2, 0): 2, (2, 1): 2}


def _available():
  rows = [(c, v, f) for (c, v), n in _FRAMES.items() for f in range(n)]
  return np.sort(_SPACE.index(np.array(rows)))


def _source():
  avail = _available()
  store = (avail % 256).astype(np.uint8).reshape(-1, 1, 1, 1)
  return SparseSource(lambda rows, rng=None: store[rows], _SPACE, avail,
                      (1, 1, 1))


class SparseIndexTest(absltest.TestCase):

  def test_lookup_and_sampling(self):
    avail = _available()
    idx = SparseIndex(_SPACE, avail)
    self.assertLen(idx, 17)
    missing = _SPACE.index([[1, 0, 3]])[0]
    np.testing.assert_array_equal(idx.contains([avail[4], missing]),
                                  [True, False])
    np.testing.assert_array_equal(idx.rows(avail[[3, 0]]), [3, 0])
    with self.assertRaisesRegex(KeyError, "'frame': 3.*does not exist"):
      idx.rows([missing])
    draw = idx.sample(np.random.default_rng(0), 500)
    self.assertTrue(np.isin(draw, avail).all())
    self.assertLen(np.unique(draw), 17)
    with self.assertRaisesRegex(ValueError, "sorted"):
      SparseIndex(_SPACE, avail[::-1])

  def test_alternatives(self):
    idx = SparseIndex(_SPACE, _available())
    # Category (1, 0, 0) is the only frame of its video, but has partners in
    # the other videos and categories.
    pool = idx.alternative_pool(2)
    f = _SPACE.factors(pool)
    self.assertFalse(((f[:, 0] == 1) & (f[:, 1] == 0)).any())
    self.assertEqual(idx.varying(), (0, 1, 2))
    lonely = SparseIndex(_SPACE, _SPACE.index([[0, 0, 0], [1, 1, 1]]))
    self.assertEqual(lonely.varying(), ())

  def test_source(self):
    src = _source()
    self.assertIs(sparse_index(src), src.sparse)
    self.assertIsNone(sparse_index(ArraySource(
        np.zeros((30, 1, 1, 1), np.uint8), _SPACE)))
    np.testing.assert_array_equal(src.images(src.available[[2, 9]])[:, 0, 0, 0],
                                  src.available[[2, 9]] % 256)
    with self.assertRaises(KeyError):
      src.images(_SPACE.index([[2, 1, 4]]))


class SparsePairsTest(absltest.TestCase):

  def test_image_batches_and_sample_draw_existing_records(self):
    src = _source()
    b = pairs.ImageBatches(src, 64, seed=1)[3]
    self.assertTrue(src.sparse.contains(_SPACE.index(b["f"])).all())
    np.testing.assert_array_equal(b["x"][:, 0, 0, 0],
                                  _SPACE.index(b["f"]) % 256)
    f, batches = pairs.sample_dataset(src, 300, seed=2, batch_size=128)
    self.assertTrue(src.sparse.contains(_SPACE.index(f)).all())
    self.assertEqual(sum(len(x) for x in batches()), 300)

  def test_weak_pairs_exact(self):
    src = _source()
    batches = pairs.WeakPairBatches(src, 256, seed=0, k=1)
    b = batches[5]
    for key in b:
      np.testing.assert_array_equal(b[key], batches[5][key])
    i1, i2 = _SPACE.index(b["f1"]), _SPACE.index(b["f2"])
    self.assertTrue(src.sparse.contains(i1).all())
    self.assertTrue(src.sparse.contains(i2).all())
    diff = b["f1"] != b["f2"]
    np.testing.assert_array_equal(diff.sum(1), 1)
    np.testing.assert_array_equal(np.argmax(diff, 1), b["label"])
    np.testing.assert_array_equal(b["x1"][:, 0, 0, 0], i1 % 256)
    np.testing.assert_array_equal(b["x2"][:, 0, 0, 0], i2 % 256)
    self.assertEqual(set(b["label"].tolist()), {0, 1, 2})
    # The lone frame of (category 1, video 0) never anchors a frame change.
    lone = (b["f1"][:, 0] == 1) & (b["f1"][:, 1] == 0) & (b["label"] == 2)
    self.assertFalse(lone.any())

  def test_weak_pairs_k2_and_dlib(self):
    rng = np.random.default_rng(0)
    avail = _available()
    f1, f2, _ = pairs.sample_weak_factors(_SPACE, rng, 200, 2, "exact", avail)
    np.testing.assert_array_equal((f1 != f2).sum(1), 2)
    self.assertTrue(np.isin(_SPACE.index(f2), avail).all())
    f1, f2, _ = pairs.sample_weak_factors(_SPACE, rng, 200, 2, "dlib", avail)
    self.assertTrue(np.isin(_SPACE.index(f1), avail).all())
    self.assertTrue(np.isin(_SPACE.index(f2), avail).all())
    self.assertLessEqual((f1 != f2).sum(1).max(), 2)

  def test_errors_name_the_dataset(self):
    src = SparseSource(lambda rows, rng=None: np.zeros((len(rows), 1, 1, 1)),
                       _SPACE, _SPACE.index([[0, 0, 0], [1, 1, 1]]), (1, 1, 1))
    src.name = "lonely_grid"
    with self.assertRaisesRegex(ValueError, "lonely_grid.*no weak pair"):
      pairs.WeakPairBatches(src, 4)
    with self.assertRaisesRegex(ValueError, "SparseSource.*k=4"):
      pairs.WeakPairBatches(_source(), 4, k=4)


if __name__ == "__main__":
  absltest.main()
