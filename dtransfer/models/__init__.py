"""VAE architectures by name, exposed as pure functions of explicit variables.

``get_model(name, num_latents=..., image_shape=...)`` returns a ``VAE`` whose
``init``/``encode``/``decode`` are pure: variables in, arrays (and the new
BatchNorm state) out, no hidden state, randomness only from explicit keys.
So they can be jitted, vmapped, differentiated and checkpointed as plain
pytrees, and metric code never needs a Module.

Variables are ``{'params': {'encoder': ..., 'decoder': ...}}`` plus, for
architectures with BatchNorm, ``{'batch_stats': {'encoder': ...}}``.
Architecture modules are imported only when asked for, so importing this
package does not import Flax.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import inspect
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

# name -> "module:function" returning (encoder, decoder, output_activation).
_BUILDERS = {
    "dlib_conv": "dtransfer.models.dlib_conv:build",
    "dapueto": "dtransfer.models.dapueto:build",
    # The cycle-consistent VAE's [z, s] code (num_latents = z_dim + s_dim).
    "cycle_mnist": "dtransfer.models.cycle:build_mnist",
    "cycle_conv": "dtransfer.models.cycle:build_conv",
}

Variables = dict[str, Any]


def names() -> list[str]:
  """All registered architecture names."""
  return sorted(_BUILDERS)


def sample_z(key: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
  """Reparameterised sample ``mean + exp(logvar/2) * eps``, eps ~ N(0, I)."""
  eps = jax.random.normal(key, mean.shape, mean.dtype)
  return mean + jnp.exp(0.5 * logvar) * eps


def count_params(tree) -> int:
  """Number of scalars in a pytree (e.g. ``variables['params']``)."""
  return int(sum(np.size(x) for x in jax.tree_util.tree_leaves(tree)))


@dataclasses.dataclass(frozen=True)
class VAE:
  """A Gaussian-encoder VAE as pure functions of explicit ``variables``.

  Attributes:
    name: registry name of the architecture.
    num_latents: latent dimension.
    image_shape: (H, W, C) of the float32 NHWC images in [0, 1].
    output_activation: what ``decode`` returns and the Bernoulli loss expects:
      "logits" or "tanh" (pre-squash values, p = (tanh(out) + 1) / 2).
    encoder: the Linen encoder module (stateless description).
    decoder: the Linen decoder module.
  """

  name: str
  num_latents: int
  image_shape: tuple[int, int, int]
  output_activation: str
  encoder: Any
  decoder: Any

  def init(self, rng: jax.Array, batch_size: int = 2) -> Variables:
    """Fresh variables: {'params': {...}} (+ {'batch_stats': {...}}).

    Jitted once per (model, batch_size), with all random leaves drawn by a
    single PRNG call from ``rng`` (see ``_init``): ~1 s instead of ~15 s of
    XLA CPU compile. jit/vmap over ``rng`` work.
    """
    return _init(self, rng, int(batch_size))

  def encode(self, variables: Variables, x: jax.Array, *,
             train: bool = False):
    """Posterior parameters of images ``x`` ([B, H, W, C] or [H, W, C]).

    Args:
      variables: as returned by ``init`` (or a checkpoint of it).
      x: float images in [0, 1], NHWC.
      train: BatchNorm uses batch statistics and the running estimates are
        updated (static under jit).

    Returns:
      (mean, logvar, new_model_state): ``new_model_state`` is ``{}`` unless
      ``train`` and the model has BatchNorm, then ``{'batch_stats': ...}``;
      merge it with ``{**variables, **new_model_state}``.
    """
    x = jnp.asarray(x)
    unbatched = self._check_images(x)
    if unbatched:
      x = x[None]
    enc_vars = {"params": variables["params"]["encoder"]}
    has_stats = "batch_stats" in variables
    if has_stats:
      enc_vars["batch_stats"] = variables["batch_stats"]["encoder"]
    if train and has_stats:
      (mean, logvar), updates = self.encoder.apply(
          enc_vars, x, train=True, mutable=["batch_stats"])
      new_state = {"batch_stats": {"encoder": updates["batch_stats"]}}
    else:
      mean, logvar = self.encoder.apply(enc_vars, x, train=train)
      new_state = {}
    if unbatched:
      mean, logvar = mean[0], logvar[0]
    return mean, logvar, new_state

  def decode(self, variables: Variables, z: jax.Array) -> jax.Array:
    """Decoder output for codes ``z`` ([B, L] or [L]): see output_activation."""
    z = jnp.asarray(z)
    if z.ndim not in (1, 2) or z.shape[-1] != self.num_latents:
      raise ValueError(
          f"{self.name}.decode expected codes of shape [B, {self.num_latents}]"
          f" or [{self.num_latents}], got {tuple(z.shape)}.")
    out = self.decoder.apply({"params": variables["params"]["decoder"]},
                             jnp.atleast_2d(z))
    return out[0] if z.ndim == 1 else out

  def _check_images(self, x) -> bool:
    """Validates shape and dtype; returns True for a single unbatched image."""
    shape = tuple(x.shape)
    if shape[-3:] != tuple(self.image_shape) or x.ndim not in (3, 4):
      raise ValueError(
          f"{self.name}.encode expected images of shape [B, "
          f"{', '.join(map(str, self.image_shape))}] (NHWC) or "
          f"{tuple(self.image_shape)}, got {shape}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
      raise ValueError(
          f"{self.name}.encode expected float images in [0, 1], got dtype "
          f"{x.dtype}; convert with x.astype(np.float32) / 255.")
    return x.ndim == 3


@functools.partial(jax.jit, static_argnums=(0, 2))
def _init(vae: VAE, rng: jax.Array, batch_size: int) -> Variables:
  """Flax init with every random leaf drawn from ONE uniform buffer.

  XLA CPU compiles each PRNG call separately (~0.5 s each), so drawing the
  ~15 kernels one by one made init take ~15 s to compile; one draw keeps it
  about a second. The values are still a pure function of ``rng``.
  """
  from dtransfer.models import layers  # pylint: disable=g-import-not-at-top
  with layers.uniform_pool() as counter:
    jax.eval_shape(functools.partial(_flax_init, vae, batch_size=batch_size),
                   rng)
  buffer = jax.random.uniform(rng, (max(counter.used, 1),), jnp.float32,
                              -1.0, 1.0)
  with layers.uniform_pool(buffer):
    return _flax_init(vae, rng, batch_size)


def _flax_init(vae: VAE, rng: jax.Array, batch_size: int) -> Variables:
  k_enc, k_dec = jax.random.split(rng)
  x = jnp.zeros((batch_size,) + vae.image_shape, jnp.float32)
  z = jnp.zeros((batch_size, vae.num_latents), jnp.float32)
  enc = vae.encoder.init(k_enc, x, train=False)
  dec = vae.decoder.init(k_dec, z)
  variables = {"params": {"encoder": enc["params"], "decoder": dec["params"]}}
  if "batch_stats" in enc:
    variables["batch_stats"] = {"encoder": enc["batch_stats"]}
  return variables


def get_model(name: str = "dlib_conv", *, num_latents: int = 10,
              image_shape: tuple[int, int, int] = (64, 64, 1),
              **kwargs) -> VAE:
  """Builds a registered architecture.

  Args:
    name: "dlib_conv" (disentanglement_lib conv_encoder/deconv_decoder,
      Bernoulli logits) or "dapueto" (the authors' BN + LayerNorm VAE, tanh
      squashed output).
    num_latents: latent dimension.
    image_shape: (H, W, C) of the input images.
    **kwargs: architecture options: ``conv_impl`` for both ("auto", the
      default: the space-to-depth GEMMs "s2d" on CPU and XLA's native
      convolutions on GPU/TPU; or "native", "matmul", "s2d"; all equal up
      to float rounding, see layers.py), ``nf`` for "dapueto".

  Returns:
    A ``VAE``.
  """
  if name not in _BUILDERS:
    close = difflib.get_close_matches(name, names(), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown model {name!r}; known: {names()}.{hint}")
  image_shape = tuple(int(s) for s in image_shape)
  if len(image_shape) != 3 or min(image_shape) < 1:
    raise ValueError(f"image_shape must be (H, W, C), got {image_shape}.")
  if int(num_latents) < 1:
    raise ValueError(f"num_latents must be >= 1, got {num_latents}.")
  module, fn = _BUILDERS[name].split(":")
  build: Callable = getattr(importlib.import_module(module), fn)
  options = [p for p in inspect.signature(build).parameters.values()
             if p.kind == p.KEYWORD_ONLY]
  unknown = sorted(set(kwargs) - {p.name for p in options})
  if unknown:
    raise TypeError(f"Unknown option(s) {unknown} for model {name!r}; it "
                    f"accepts {[p.name for p in options]}.")
  encoder, decoder, activation = build(int(num_latents), image_shape,
                                       **kwargs)
  return VAE(name=name, num_latents=int(num_latents), image_shape=image_shape,
             output_activation=activation, encoder=encoder, decoder=decoder)
