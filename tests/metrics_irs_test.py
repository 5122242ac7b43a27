"""IRS against dlib's definition, closed cases and the active-dim count fix."""

import numpy as np
import pytest

from dtransfer.metrics import irs
from tests import metrics_fixtures as fx


def _dlib_irs(codes, labels, q):
  ys = np.stack([np.digitize(c, np.histogram(c, 20)[1][:-1])
                 for c in labels.T.astype(float)], axis=1)
  z = codes[:, codes.var(axis=0) > 0]
  max_dev = np.max(np.abs(z - z.mean(axis=0)), axis=0)
  cum = np.zeros((z.shape[1], ys.shape[1]))
  for i in range(ys.shape[1]):
    values = np.unique(ys[:, i])
    for v in values:
      m = ys[:, i] == v
      cum[:, i] += np.quantile(np.abs(z[m] - z[m].mean(axis=0)), q, axis=0)
    cum[:, i] /= len(values)
  return np.average((1 - cum / max_dev[:, None]).max(axis=1), weights=max_dev)


@pytest.mark.parametrize("q", [0.99, 1.0, 0.5])
def test_matches_dlib(q):
  labels = fx.random_labels((4, 25, 3), 1500)  # 25 values: binned to 20
  codes = fx.noisy_codes(labels, noise=0.2, extra=2)
  got = irs.irs(codes, labels, diff_quantile=q)["irs"]
  assert got == pytest.approx(_dlib_irs(codes, labels, q), abs=1e-5)


def test_identity_scores_one_noise_low():
  labels = fx.grid((4, 5, 3))
  assert irs.irs(labels.astype(float), labels)["irs"] == pytest.approx(1.0)
  noise = np.random.default_rng(0).normal(size=(2000, 3))
  assert irs.irs(noise, fx.random_labels((4, 5, 3), 2000))["irs"] < 0.4


def test_num_active_dims_counts_dims():
  # dlib reports np.sum of the code values here.
  labels = fx.grid((4, 5))
  codes = np.concatenate([labels * 100.0, np.full((len(labels), 1), 7.0)], 1)
  r = irs.irs(codes, labels)
  assert r["num_active_dims"] == 2
  assert r["parents"] == [0, 1, None]
  fx.assert_no_nan(r)


def test_invariances():
  # Per-dim scores are affine invariant; the final average weighs dims by
  # their max deviation, so only a common rescaling leaves IRS unchanged.
  labels = fx.random_labels((4, 6, 3), 1200)
  codes = fx.noisy_codes(labels, noise=0.2, extra=1)
  base = irs.irs(codes, labels)
  for name, z, perm in fx.transforms(codes):
    r = irs.irs(z, labels)
    np.testing.assert_allclose(r["disentanglement_scores"],
                               np.asarray(base["disentanglement_scores"])[perm],
                               atol=1e-5, err_msg=name)
    if name != "affine":
      assert r["irs"] == pytest.approx(base["irs"], abs=1e-5), name
  shifted = codes * 3.0 + np.arange(codes.shape[1])
  assert irs.irs(shifted, labels)["irs"] == pytest.approx(base["irs"], abs=1e-5)
