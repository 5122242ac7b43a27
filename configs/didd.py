"""Domain intersection and domain difference (Benaim et al., ICCV 2019).

  python -m launch.train --config=configs/didd.py:wall_floor,quick --workdir=/tmp/didd
  python -m launch.train --config=configs/didd.py:paper --workdir=/tmp/didd_paper

Argument: ``<pair>,<preset>``; the pair (shapes3d/domains.py ``PAIRS``:
``wall_floor``, the default, ``object_wall``, ...) names which Shapes3D
surface only domain A colours and which only domain B colours. Presets:

* ``paper``: the official network and training at 128x128 (channels 32-64-
  128-256, dim 512, sep 25; Adam 2e-4, betas (0.5, 0.999), clipping 5 on
  both players; batch 32 per domain; weights recon 1, zero 1, adversarial
  1e-3; the official run's cap was 1,250,000 iterations, this preset stops at
  200,000);
* ``quick``: CPU minutes: 32x32 scenes, the network narrowed (channels
  16-32, dim 128, sep 8: 2x2 codes like the official net, 448 common and 32
  specific dims), 1,500 steps of 16 images per domain, Adam 1e-3 (see
  ``QUICK`` for why); ``quick,code=1`` is the earlier 1x1-code network
  (channels 16-32-64);
* ``tiny``: tests: 32x32 images, a 2x2-code network 32x narrower, 2 steps.

Transfer E^c to a target with configs/transfer.py, e.g.
``configs/transfer.py:real_objects,quick --config.transfer.source_workdir=...``
(the fine-tuning method is ``didd_ae``).
"""

import ml_collections

from configs import common
from dtransfer.datasets.shapes3d import domains

# The official network: E^c 32-64-128-256-(512-sep)-(512-2 sep), E^s
# 32-64-128-256-512-sep, G 512-512-256-128-64-32-3, at 128x128.
PAPER_MODEL = {"channels": (32, 64, 128, 256), "dim": 512, "sep": 25}
# The 64x64 variant keeps the official widths, one stage fewer.
MODEL_64 = {"channels": (32, 64, 128), "dim": 512, "sep": 25}

# The quick preset (chosen for a 2-core CPU). Departures from the paper and
# why: 32x32 scenes and a network 4x narrower, one stage fewer (the 64x64
# variant at these widths took 3x longer a step; the paper's network at
# 128x128 seconds a step); 16 images per domain (half the paper's 32: half
# the time per step); Adam 1e-3 with a cosine decay (2e-4 constant has
# barely left the mean image after 1,500 steps).
QUICK = {"train.num_steps": 1500, "train.batch_size": 16,
         "optim.learning_rate": 1e-3, "optim.schedule": "cosine",
         "optim.warmup_steps": 50}
# Codes: 2x2 (``code=2``, the default), as the official net's, not 1x1
# (``code=1``, one stage more). A 1x1 code has no map for the last instance
# norm, so the port drops it there, and then E^s's output scale is free: with
# 1x1 codes E^s met the zero loss by shrinking to RMS ~1e-3 on BOTH domains, G
# ignored the specific codes and E^c carried everything (README, DIDD). On a 2x2
# map the norm keeps a code at unit variance per channel unless its map is
# constant, so E^s stays in use (G changes by 0.1-0.25 in [-1, 1] when it is
# zeroed).
QUICK_CODES = {1: {"channels": (16, 32, 64), "dim": 128, "sep": 8},
               2: {"channels": (16, 32), "dim": 128, "sep": 8}}


def get_config(arg: str | None = None):
  a = common.parse_arg(arg, bare_words=domains.PAIRS, dataset="wall_floor", preset="paper",
                       code=2)
  c = common.base_config()
  size = {"paper": 128, "quick": 32, "tiny": 32}[a.preset]
  c.data = common.data_config("shapes3d_domains", pair=a.dataset, size=size)
  c.method.name = "didd"
  c.model = ml_collections.ConfigDict({
      "name": "didd",
      "num_latents": 0,           # unused: the codes' sizes follow from kwargs
      "beta": 0.0,                # unused (fine-tuning configs carry one)
      "beta_warmup_steps": 0,
      "kwargs": ml_collections.ConfigDict(dict(PAPER_MODEL)),
  })
  c.loss = ml_collections.ConfigDict({
      "recon_weight": 1.0,
      "zero_weight": 1.0,
      "adv_weight": 1e-3,
      # one_sided: the official code (both domains pushed to B's label);
      # symmetric: labels flipped for each domain.
      "confusion": "one_sided",
  })
  c.optim.learning_rate = 2e-4
  c.optim.b1 = 0.5
  c.optim.b2 = 0.999
  c.optim.grad_clip_norm = 5.0
  c.train.num_steps = 200_000
  c.train.batch_size = 32         # per domain
  c.train.checkpoint_every = 10_000
  c.eval.metrics = ["omes", "gbt"]
  c.eval.translation_samples = 512
  c.eval.probe_samples = 900      # 600 to fit, 300 to test, per domain
  c.eval.probe_predictors = ["logreg"]
  # One C and two folds: dlib's LogisticRegressionCV(Cs=10, cv=5) takes minutes
  # per factor on a loaded 2-core CPU; the codes are standardised first.
  c.eval.probe_kwargs = ml_collections.ConfigDict({"logreg": {"Cs": [1.0], "cv": 2}})
  c = common.apply_preset(c, a.preset)
  if a.preset == "quick":
    c.update_from_flattened_dict(QUICK)
    if a.code not in QUICK_CODES:
      raise ValueError(f"code={a.code}: the quick network has 1x1 or 2x2 codes "
                       f"(code=1 or code=2).")
    c.model.kwargs = ml_collections.ConfigDict(dict(QUICK_CODES[a.code]))
    c.eval.num_samples = 3000
    c.eval.metrics = ["omes", "gbt"]
    c.eval.metric_kwargs = ml_collections.ConfigDict({"downstream_num_train": 1500,
                                                      "downstream_num_test": 500,
                                                      "downstream_n_estimators": 20})
  elif a.preset == "tiny":
    # 32x32 with 2x2 codes like the official net: 48 common, 8 specific dims.
    c.model.kwargs = ml_collections.ConfigDict({"channels": (4, 8), "dim": 16, "sep": 2})
    c.eval.translation_samples = 16
    c.eval.probe_samples = 60
    c.eval.probe_kwargs.logreg.cv = 2
  return c
