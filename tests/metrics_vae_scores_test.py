"""BetaVAE and FactorVAE scores: fixed-sample and sampler forms."""

import numpy as np
import pytest

from dtransfer.data.factor_space import FactorSpace
from dtransfer.metrics import beta_vae
from dtransfer.metrics import factor_vae
from tests import metrics_fixtures as fx

one_blas_thread = fx.one_blas_thread

SMALL = {"num_train": 400, "num_eval": 200}
SPACE = FactorSpace(("a", "b", "c", "fixed"), (4, 5, 3, 1))
IMAGES = lambda f: f.astype(np.float32)


@pytest.fixture(scope="module")
def sample():
  labels = fx.shuffled(fx.grid((4, 5, 3), repeats=6))
  return labels.astype(float), labels


def test_identity_scores_one(sample):
  codes, labels = sample
  assert beta_vae.beta_vae(codes, labels, **SMALL)["eval_accuracy"] == 1.0
  r = factor_vae.factor_vae(codes, labels, **SMALL)
  assert r["eval_accuracy"] == 1.0 and r["train_accuracy"] == 1.0


def test_defaults(sample):
  codes, labels = sample
  assert beta_vae.beta_vae(codes, labels)["eval_accuracy"] == 1.0
  assert factor_vae.factor_vae(codes, labels)["eval_accuracy"] == 1.0


def test_noise_scores_low(sample):
  _, labels = sample
  noise = np.random.default_rng(0).normal(size=(len(labels), 3))
  assert beta_vae.beta_vae(noise, labels, **SMALL)["eval_accuracy"] < 0.6
  assert factor_vae.factor_vae(noise, labels, **SMALL)["eval_accuracy"] < 0.6


def test_factor_vae_votes_land_on_original_dims(sample):
  # dlib indexes the vote matrix with the argmin over the *active* dims; with
  # a pruned dim 0 every vote would land one column to the left.
  codes, labels = sample
  z = np.concatenate([np.zeros((len(codes), 1)), codes], axis=1)
  r = factor_vae.factor_vae(z, labels, **SMALL)
  votes = np.asarray(r["votes"])
  assert r["num_active_dims"] == 3
  assert votes[:, 0].sum() == 0
  np.testing.assert_array_equal(votes[:, 1:], np.diag(votes.sum(axis=1)))
  # A zero-variance dim is inactive even with threshold 0 (0/0 ratio).
  assert factor_vae.factor_vae(z, labels, prune_threshold=0.0,
                               **SMALL)["num_active_dims"] == 3


def test_seeded_and_invariant(sample):
  codes, labels = sample
  codes = codes + np.random.default_rng(1).normal(size=codes.shape) * 0.4
  b = beta_vae.beta_vae(codes, labels, seed=3, **SMALL)
  f = factor_vae.factor_vae(codes, labels, seed=3, **SMALL)
  assert b == beta_vae.beta_vae(codes, labels, seed=3, **SMALL)
  assert f == factor_vae.factor_vae(codes, labels, seed=3, **SMALL)
  signs = np.array([-1.0, 1.0, -1.0])
  assert beta_vae.beta_vae(codes * signs, labels, seed=3, **SMALL) == b
  for name, z, perm in fx.transforms(codes):
    g = factor_vae.factor_vae(z, labels, seed=3, **SMALL)
    assert g["eval_accuracy"] == pytest.approx(f["eval_accuracy"]), name
    np.testing.assert_array_equal(np.asarray(g["votes"]),
                                  np.asarray(f["votes"])[:, perm], name)


def test_sampler_forms_identity_and_chunking():
  rep = lambda x: x * np.array([1.0, -2.0, 0.5, 1.0])
  kw = dict(num_train=300, num_eval=150, batch_size=16, seed=0)
  a = beta_vae.beta_vae_from_sampler(rep, SPACE, IMAGES, chunk_size=100, **kw)
  b = beta_vae.beta_vae_from_sampler(rep, SPACE, IMAGES, chunk_size=4096, **kw)
  assert a == b and a["eval_accuracy"] == 1.0
  assert any("'fixed'" in w for w in a["warnings"])
  c = factor_vae.factor_vae_from_sampler(rep, SPACE, IMAGES, chunk_size=100,
                                         num_variance_estimate=500, **kw)
  d = factor_vae.factor_vae_from_sampler(rep, SPACE, IMAGES, chunk_size=999,
                                         num_variance_estimate=500, **kw)
  assert c == d and c["eval_accuracy"] == 1.0
  assert c["num_active_dims"] == 3
