"""CDRD / E-CDRD (Liu et al., CVPR 2018): cross-domain disentanglement and
unsupervised domain adaptation from a labelled source to an unlabelled target.

  python -m launch.train --config=configs/cdrd.py:digits_to_rendered,quick --workdir=/tmp/cdrd
  python -m launch.train --config=configs/cdrd.py:dsprites_to_noisy,quick,method=ecdrd \
      --workdir=/tmp/ecdrd

Argument: ``<pair>,<preset>[,method=cdrd|ecdrd]``; the pair may be omitted
(``digits_to_rendered``). Pairs (source -> target, attribute):

  digits_to_rendered   scikit-learn's handwritten digits -> rendered_digits (digit)
  rendered_to_digits   the reverse
  dsprites_to_noisy    dSprites -> Noisy-dSprites (shape)
  dsprites_to_color    dSprites -> Color-dSprites (shape)

Presets: ``paper`` (the official digits code: Adam 8e-5, b1 0.5, batch 32,
10,000 epochs of 62 steps = 620k steps, full-width nets, lambda 1), ``quick``
(CPU minutes to tens of minutes: about 36 min of training on a 2-core CPU at
load 20; narrower nets, Adam 2e-4, 500 steps, fan-in init; dSprites at 32x32),
``tiny`` (tests). The real-photograph target (real_objects) has 14 objects
and no shape label shared with dSprites, so it is not a CDRD pair.
"""

import ml_collections

from configs import common

# pair -> (source dataset, its kwargs, attribute; target, kwargs, attribute; arch)
PAIRS = {
    "digits_to_rendered": ("digits", {"size": 28}, "digit",
                           "rendered_digits", {"size": 28}, "digit", "digits"),
    "rendered_to_digits": ("rendered_digits", {"size": 28}, "digit",
                           "digits", {"size": 28}, "digit", "digits"),
    "dsprites_to_noisy": ("dsprites", {}, "shape", "noisy_dsprites", {}, "shape", "dcgan"),
    "dsprites_to_color": ("dsprites", {}, "shape", "color_dsprites", {}, "shape", "dcgan"),
}
DEFAULT_PAIR = "digits_to_rendered"


def method_config(arch: str) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict({
      "name": "cdrd",                 # cdrd | ecdrd
      "target": common.data_config("rendered_digits"),
      "source_attribute": "digit",    # the labelled factor of the source
      "target_attribute": "digit",    # the same attribute in the target (scoring only)
      "target_test_fraction": 0.3,    # held-out target records (scored, never trained on)
      "arch": arch,                   # digits (official 28x28 nets) | dcgan
      "image_size": 28 if arch == "digits" else 64,
      "width": 64,                    # generator width (digits: 64 = the official 1024..128)
      "disc_width": 64,               # discriminator / encoder width (digits: 64 = 20, 50, 500)
      "embedding": 500,               # the discriminator's shared embedding
      "num_latents": 100,             # z
      "init": "official",             # official: N(0, 0.02) | fan_in: N(0, 1/fan_in)
      "lam": 1.0,                     # weight of the attribute terms (the paper's lambda)
      "learning_rate": 8e-5,
      "b1": 0.5,
      "b2": 0.999,
      "vae_weight": 1.0,              # ecdrd: L_vae
      "translation_weight": 1.0,      # ecdrd: GAN terms on translations (0 = off)
      "eval_num": 2000,               # held-out target (and source) images scored
      "source_only_steps": 0,         # source-only baseline steps (0 = train.num_steps)
      "embedding_plot_num": 500,      # per domain in the t-SNE plot (0 = none)
  })


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  # A bare word that is no preset is the pair (parse_arg's "dataset").
  args = common.parse_arg(arg, bare_words=PAIRS, dataset=DEFAULT_PAIR, preset="paper",
                          method="cdrd")
  if args.dataset not in PAIRS:
    raise ValueError(f"unknown CDRD pair '{args.dataset}'; choose one of {sorted(PAIRS)}.")
  if args.method not in ("cdrd", "ecdrd"):
    raise ValueError(f"method must be cdrd or ecdrd, got '{args.method}'.")
  src, src_kw, src_attr, tgt, tgt_kw, tgt_attr, arch = PAIRS[args.dataset]
  c = common.base_config()
  c.data = common.data_config(src, **src_kw)
  c.method = method_config(arch)
  c.method.name = args.method
  c.method.target = common.data_config(tgt, **tgt_kw)
  c.method.source_attribute, c.method.target_attribute = src_attr, tgt_attr
  # The official digits schedule: 10,000 epochs of 2,000 / 32 = 62 steps.
  c.train.num_steps = 620_000
  c.train.batch_size = 32
  c.train.log_every = 100
  c.train.checkpoint_every = 10_000
  c.eval.num_samples = 5000
  c.eval.metrics = ["omes", "gbt", "mlp"]
  if args.preset == "quick":
    c.train.num_steps = 500
    c.train.log_every = 50
    c.train.checkpoint_every = 200
    c.method.learning_rate = 2e-4
    # Narrow nets, the generator no weaker than the discriminator (with a
    # narrow generator against the full-width LeNet discriminator, D won
    # outright within 100 steps: real/fake loss 0.03, generator's 12).
    c.method.embedding = 128
    # Narrow nets with N(0, 0.02) kernels pass ~1e-4 of the signal through the
    # discriminator: its heads had learned nothing after 100 steps.
    c.method.init = "fan_in"
    if arch == "digits":
      c.method.width, c.method.disc_width = 8, 16
    else:
      c.method.width, c.method.disc_width = 32, 16
      c.method.image_size = 32
    c.method.eval_num = 1000
    c.eval.num_samples = 2000
    c.eval.metrics = ["omes"]
  elif args.preset == "tiny":
    c.train.num_steps = 2
    c.train.batch_size = 4
    c.train.log_every = 1
    c.train.checkpoint_every = 1
    c.method.width = 4
    c.method.disc_width = 8
    c.method.embedding = 16
    c.method.num_latents = 8
    if arch == "dcgan":
      c.method.image_size = 16
    c.method.eval_num = 40
    c.method.embedding_plot_num = 20
    c.eval.num_samples = 64
    c.eval.batch_size = 32
    c.eval.metrics = ["omes"]
  elif args.preset != "paper":
    raise ValueError(f"unknown preset '{args.preset}'; choose tiny, quick or paper.")
  return c
