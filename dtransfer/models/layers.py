"""The one place where convolutions, transposed convolutions and BatchNorm live.

Every architecture builds its strided convolutions from ``Conv`` and
``ConvTranspose`` below, so an alternative formulation only has to be added
here and selected with ``conv_impl``:

- ``"native"``: ``lax.conv_general_dilated`` (XLA's convolution).
- ``"matmul"``: the same maps written as slices + one matrix product (im2col
  for the convolution, sub-pixel / depth-to-space for the transposed one),
  differentiated by autodiff. The general-purpose GEMM form.
- ``"s2d"``: space-to-depth matrix products with hand-written VJPs
  (``s2d_conv``): after padding and space-to-depth a stride-s convolution
  with a k = m*s kernel is a stride-1 m x m one, and the forward pass, the
  input gradient and the kernel gradient are each one large GEMM plus
  copies of contiguous rows. XLA CPU runs the native backward passes
  (input- or kernel-dilated convolutions) and many-slice copies slowly;
  this form trains the dlib VAE about 7x faster than "native" on a 2-core
  CPU, as fast as PyTorch's oneDNN or faster (benchmarks/train_step.py).
  Kernels with ``k % s != 0`` fall back to "matmul".
- ``"auto"`` (the models' default): "s2d" on the CPU backend, "native" on
  GPU/TPU, whose convolution libraries are fast in every direction;
  resolved when the function is traced.

Values and gradients of every formulation equal the native ones up to float
rounding (tests/models_test.py and tests/perf_equivalence_test.py check
both).

Conventions (chosen so that PyTorch / TF1 checkpoints convert by transposes):

- Images are NHWC. Kernels are ``[kh, kw, in, out]`` for both layers.
- ``ConvTranspose`` has *scatter* semantics, the definition shared by
  PyTorch ``ConvTranspose2d`` and TF ``conv2d_transpose`` (the gradient of a
  convolution): input pixel ``i`` adds ``x[i] @ kernel[a]`` to output pixel
  ``s*i + a - crop_before``. A PyTorch weight ``[in, out, kh, kw]`` becomes
  ``w.transpose(2, 3, 0, 1)``; a TF filter ``[kh, kw, out, in]`` becomes
  ``f.transpose(0, 1, 3, 2)``. (Flax's own ``nn.ConvTranspose`` with the
  default ``transpose_kernel=False`` correlates instead, i.e. uses the
  spatially flipped kernel, so its weights are not interchangeable.)
- Padding ``"SAME"`` follows TF: a convolution pads ``max((out-1)*s + k - n,
  0)`` in total, the smaller half before; a transposed convolution maps n to
  ``n*s`` and crops the same amounts, so that it is exactly the transpose of
  the SAME convolution from ``n*s`` to ``n``. For even kernels with
  ``k - s = 2`` this is PyTorch ``padding=1`` (4x4, stride 2: pad or crop 1
  on each side), which is why dlib's ``deconv_decoder`` and the authors'
  ``ConvTranspose2d(k=4, s=2, p=1)`` are the same map.
- ``BatchNorm`` follows PyTorch ``BatchNorm2d`` exactly: biased batch
  variance to normalise, *unbiased* variance in the running estimate, and
  Flax-style ``momentum`` (0.9 here is PyTorch's 0.1).
"""

from __future__ import annotations

import contextlib
import math
import threading
from typing import Callable, Sequence, Union

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from dtransfer.models import s2d_conv

CONV_IMPLS = ("native", "matmul", "s2d", "auto")

Padding = Union[str, int, Sequence[tuple[int, int]]]
_DIMS = ("NHWC", "HWIO", "NHWC")


def check_conv_impl(conv_impl: str) -> None:
  """Raises ValueError for an unknown ``conv_impl``."""
  if conv_impl not in CONV_IMPLS:
    raise ValueError(
        f"conv_impl must be one of {CONV_IMPLS}, got {conv_impl!r}.")


def resolve_conv_impl(conv_impl: str) -> str:
  """``"auto"`` -> "s2d" on the CPU backend, "native" elsewhere."""
  check_conv_impl(conv_impl)
  if conv_impl != "auto":
    return conv_impl
  return "s2d" if jax.default_backend() == "cpu" else "native"


def _pairs(value, name: str) -> tuple[int, int]:
  if isinstance(value, int):
    return (value, value)
  value = tuple(int(v) for v in value)
  if len(value) != 2:
    raise ValueError(f"{name} needs 2 spatial values, got {value}.")
  return value


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
  """TF 'SAME' (before, after) padding of a strided convolution."""
  out = -(-size // stride)
  total = max((out - 1) * stride + kernel - size, 0)
  return total // 2, total - total // 2


def conv_pads(spatial: Sequence[int], kernel: Sequence[int],
              strides: Sequence[int], padding: Padding) -> tuple:
  """Explicit ((top, bottom), (left, right)) padding of a convolution."""
  if isinstance(padding, str):
    if padding.upper() == "SAME":
      return tuple(same_pads(n, k, s)
                   for n, k, s in zip(spatial, kernel, strides))
    if padding.upper() == "VALID":
      return ((0, 0), (0, 0))
    raise ValueError(f"padding must be 'SAME', 'VALID', an int or pairs; "
                     f"got {padding!r}.")
  if isinstance(padding, int):
    return ((padding, padding), (padding, padding))
  pads = tuple(tuple(int(v) for v in p) for p in padding)
  if len(pads) != 2 or any(len(p) != 2 for p in pads):
    raise ValueError(f"padding pairs must be ((top, bottom), (left, right)), "
                     f"got {padding!r}.")
  return pads


def conv_transpose_crops(kernel: Sequence[int], strides: Sequence[int],
                         padding: Padding) -> tuple:
  """Explicit ((top, bottom), (left, right)) crop of a transposed conv.

  'SAME' gives an output of exactly ``n * stride`` (TF); an int ``p`` crops
  ``p`` on each side (PyTorch ``padding=p``, output ``(n-1)s - 2p + k``).
  """
  if isinstance(padding, str):
    if padding.upper() == "SAME":
      out = []
      for k, s in zip(kernel, strides):
        total = k - s  # < 0: extend (zeros + bias) after, as TF does.
        out.append((total // 2, total - total // 2) if total >= 0
                   else (0, total))
      return tuple(out)
    if padding.upper() == "VALID":
      return ((0, 0), (0, 0))
  return conv_pads((0, 0), kernel, strides, padding)


# ----------------------------------------------------------------- conv ---


def conv2d(x: jax.Array, kernel: jax.Array, strides: Sequence[int],
           pads: tuple, conv_impl: str = "native") -> jax.Array:
  """Cross-correlation of NHWC ``x`` with an HWIO ``kernel`` (no bias)."""
  conv_impl = resolve_conv_impl(conv_impl)
  strides = _pairs(strides, "strides")
  pads = tuple(tuple(int(v) for v in p) for p in pads)
  if conv_impl == "native":
    return _conv2d_native(x, kernel, strides, pads)
  if conv_impl == "s2d" and s2d_conv.supported(kernel.shape, strides, pads):
    return s2d_conv.conv2d(x, kernel, strides, pads)
  return _conv2d_matmul(x, kernel, strides, pads)


def _conv2d_native(x, kernel, strides, pads):
  return lax.conv_general_dilated(x, kernel, window_strides=strides,
                                  padding=pads, dimension_numbers=_DIMS)


def _conv2d_matmul(x, kernel, strides, pads):
  """im2col: kh*kw strided slices side by side, then one GEMM."""
  kh, kw, cin, cout = kernel.shape
  sh, sw = strides
  xp = lax.pad(x, jnp.zeros((), x.dtype),
               ((0, 0, 0), (*pads[0], 0), (*pads[1], 0), (0, 0, 0)))
  b, hp, wp, _ = xp.shape
  ho = (hp - kh) // sh + 1
  wo = (wp - kw) // sw + 1
  cols = [
      lax.slice(xp, (0, a, c, 0),
                (b, a + sh * (ho - 1) + 1, c + sw * (wo - 1) + 1, cin),
                (1, sh, sw, 1))
      for a in range(kh) for c in range(kw)
  ]
  cols = jnp.concatenate(cols, axis=-1) if len(cols) > 1 else cols[0]
  return jnp.dot(cols, kernel.reshape(kh * kw * cin, cout))


def conv2d_transpose(x: jax.Array, kernel: jax.Array, strides: Sequence[int],
                     crops: tuple, conv_impl: str = "native") -> jax.Array:
  """Transposed convolution with scatter semantics (PyTorch/TF), no bias.

  Output pixel ``o = s*i + a - crop_before`` receives ``x[i] @ kernel[a]``;
  the output has ``(n-1)*s + k - crop_before - crop_after`` pixels per dim.
  """
  conv_impl = resolve_conv_impl(conv_impl)
  strides = _pairs(strides, "strides")
  crops = tuple(tuple(int(v) for v in c) for c in crops)
  if conv_impl == "s2d" and s2d_conv.supported(kernel.shape, strides, crops):
    return s2d_conv.conv2d_transpose(x, kernel, strides, crops)
  if conv_impl == "native":
    kh, kw = kernel.shape[:2]
    pads = tuple((k - 1 - c0, k - 1 - c1)
                 for k, (c0, c1) in zip((kh, kw), crops))
    return lax.conv_general_dilated(
        x, kernel[::-1, ::-1], window_strides=(1, 1), padding=pads,
        lhs_dilation=strides, dimension_numbers=_DIMS)
  return _conv2d_transpose_matmul(x, kernel, strides, crops)


def _subpixel_taps(n: int, k: int, s: int, crop: tuple[int, int]):
  """Per dim: shifts d, the tap a used by (shift, phase), output geometry.

  Output ``o = s*m + r`` (phase r) sums ``x[m - d] @ kernel[a]`` over taps
  with ``a = s*d + r + crop_before``. Returns (d_min, taps [D, s] with -1 for
  no tap, m count M, output length).
  """
  out_len = (n - 1) * s + k - crop[0] - crop[1]
  if out_len < 1:
    raise ValueError(f"transposed conv output would be empty: n={n}, k={k}, "
                     f"s={s}, crop={crop}.")
  pairs = [((a - r - crop[0]) // s, r, a)
           for r in range(s) for a in range(k) if (a - r - crop[0]) % s == 0]
  ds = [d for d, _, _ in pairs]
  d_min, d_max = min(ds), max(ds)
  taps = np.full((d_max - d_min + 1, s), k, dtype=np.int32)  # k: zero tap
  for d, r, a in pairs:
    taps[d - d_min, r] = a
  return d_min, d_max, taps, -(-out_len // s), out_len


def _conv2d_transpose_matmul(x, kernel, strides, crops):
  """Sub-pixel form: shifted copies of x, one GEMM, then depth-to-space."""
  kh, kw, cin, cout = kernel.shape
  b, h, w, _ = x.shape
  sh, sw = strides
  dh0, dh1, taps_h, mh, out_h = _subpixel_taps(h, kh, sh, crops[0])
  dw0, dw1, taps_w, mw, out_w = _subpixel_taps(w, kw, sw, crops[1])
  # Input index i = m - d with m in [0, M): pad so that slice starts are >= 0.
  xp = lax.pad(x, jnp.zeros((), x.dtype),
               ((0, 0, 0), (dh1, mh - 1 - dh0 - (h - 1), 0),
                (dw1, mw - 1 - dw0 - (w - 1), 0), (0, 0, 0)))
  cols = [
      lax.slice(xp, (0, dh1 - d, dw1 - e, 0), (b, dh1 - d + mh,
                                               dw1 - e + mw, cin))
      for d in range(dh0, dh1 + 1) for e in range(dw0, dw1 + 1)
  ]
  cols = jnp.concatenate(cols, axis=-1) if len(cols) > 1 else cols[0]
  # Combined weight [Dh, Dw, cin, sh, sw, cout]; index k is an all-zero tap.
  kext = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))
  wc = kext[taps_h[:, None, :, None], taps_w[None, :, None, :]]
  wc = wc.transpose(0, 1, 4, 2, 3, 5).reshape(-1, sh * sw * cout)
  y = jnp.dot(cols, wc).reshape(b, mh, mw, sh, sw, cout)
  y = y.transpose(0, 1, 3, 2, 4, 5).reshape(b, mh * sh, mw * sw, cout)
  return y[:, :out_h, :out_w, :]


# ---------------------------------------------------------- initialisers ---
#
# XLA CPU compiles every PRNG call of a program as its own kernel (about half a
# second each here), so a Flax init that draws each kernel separately took
# ~15 s to compile for these ~15-leaf models. ``SymmetricUniform`` can instead
# take its values from one shared U(-1, 1) buffer (``uniform_pool``), which
# ``VAE.init`` draws with a single PRNG call from its explicit key.


class _Pool(threading.local):
  def __init__(self):
    super().__init__()
    self.stack = []


_POOL = _Pool()


class _Slicer:
  """Hands out consecutive slices of a flat buffer (or counts, if None)."""

  def __init__(self, buffer):
    self.buffer, self.used = buffer, 0

  def take(self, shape, dtype):
    n = math.prod(shape)
    start, self.used = self.used, self.used + n
    if self.buffer is None:
      return jnp.zeros(shape, dtype)
    if self.used > self.buffer.shape[0]:
      raise RuntimeError("uniform_pool buffer exhausted; the counting pass and "
                         "the real pass called different initialisers.")
    return lax.dynamic_slice_in_dim(self.buffer, start, n).reshape(
        shape).astype(dtype)


@contextlib.contextmanager
def uniform_pool(buffer=None):
  """Within the block, ``SymmetricUniform`` reads slices of ``buffer``.

  With ``buffer=None`` it only counts: the yielded object's ``used`` is the
  number of scalars the block drew (run the same init under
  ``jax.eval_shape`` to size the buffer).
  """
  slicer = _Slicer(buffer)
  _POOL.stack.append(slicer)
  try:
    yield slicer
  finally:
    _POOL.stack.pop()


class SymmetricUniform:
  """Initialiser U(-bound(shape), bound(shape)); pool-aware (see above)."""

  def __init__(self, bound_fn: Callable[[tuple], float], name: str):
    self.bound_fn, self.name = bound_fn, name

  def __call__(self, key, shape, dtype=jnp.float32):
    shape = tuple(shape)
    if _POOL.stack:
      u = _POOL.stack[-1].take(shape, dtype)
    else:
      u = jax.random.uniform(key, shape, dtype, -1.0, 1.0)
    return u * jnp.asarray(self.bound_fn(shape), dtype)

  def __repr__(self):
    return f"SymmetricUniform({self.name})"


def _fans(shape):
  """Flax/TF/PyTorch fans of a [..., in, out] kernel (receptive field first)."""
  if len(shape) < 2:
    raise ValueError(f"glorot init needs a kernel of rank >= 2, got {shape}.")
  receptive = math.prod(shape[:-2])
  return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform() -> SymmetricUniform:
  """Glorot/Xavier uniform: bound sqrt(6 / (fan_in + fan_out))."""
  return SymmetricUniform(lambda s: math.sqrt(6.0 / sum(_fans(s))),
                          "glorot")


def torch_linear_init(fan_in: int):
  """PyTorch's default Linear/Conv init of weight and bias: U(±1/√fan_in).

  (kaiming_uniform with a=sqrt(5) for the weight reduces to this bound.)
  Returns (kernel_init, bias_init).
  """
  init = SymmetricUniform(lambda s: 1.0 / math.sqrt(fan_in),
                          f"torch_default(fan_in={fan_in})")
  return init, init


GLOROT_UNIFORM = glorot_uniform()


# -------------------------------------------------------------- modules ---


class _StridedConv(nn.Module):
  """Shared fields and parameters of Conv and ConvTranspose (NHWC, HWIO kernel)."""

  features: int
  kernel_size: tuple[int, int]
  strides: tuple[int, int] = (1, 1)
  padding: Padding = "SAME"
  kernel_init: Callable = GLOROT_UNIFORM
  bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()
  conv_impl: str = "native"

  def _params(self, x: jax.Array):
    """(kernel, bias, (kh, kw), strides) for input ``x``."""
    kh, kw = _pairs(self.kernel_size, "kernel_size")
    kernel = self.param("kernel", self.kernel_init,
                        (kh, kw, x.shape[-1], self.features))
    bias = self.param("bias", self.bias_init, (self.features,))
    return kernel, bias, (kh, kw), _pairs(self.strides, "strides")


class Conv(_StridedConv):
  """Strided 2-D convolution, NHWC, HWIO kernel, selectable implementation."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel, bias, size, strides = self._params(x)
    pads = conv_pads(x.shape[1:3], size, strides, self.padding)
    return conv2d(x, kernel, strides, pads, self.conv_impl) + bias


class ConvTranspose(_StridedConv):
  """Transposed 2-D convolution with PyTorch/TF scatter semantics."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel, bias, size, strides = self._params(x)
    crops = conv_transpose_crops(size, strides, self.padding)
    return conv2d_transpose(x, kernel, strides, crops, self.conv_impl) + bias


class BatchNorm(nn.Module):
  """PyTorch ``BatchNorm2d`` over all axes but the last (channels).

  ``train=True`` normalises with the batch statistics and, when the
  'batch_stats' collection is mutable, updates the running estimates
  ``r <- momentum*r + (1-momentum)*batch`` (variance unbiased, as PyTorch).
  ``train=False`` uses the running estimates.
  """

  momentum: float = 0.9
  epsilon: float = 1e-5

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    c = x.shape[-1]
    scale = self.param("scale", nn.initializers.ones_init(), (c,))
    bias = self.param("bias", nn.initializers.zeros_init(), (c,))
    ra_mean = self.variable("batch_stats", "mean", jnp.zeros, (c,),
                            jnp.float32)
    ra_var = self.variable("batch_stats", "var", jnp.ones, (c,), jnp.float32)
    if train:
      axes = tuple(range(x.ndim - 1))
      mean = jnp.mean(x, axis=axes)
      var = jnp.mean(jnp.square(x - mean), axis=axes)
      if (self.is_mutable_collection("batch_stats")
          and not self.is_initializing()):
        n = math.prod(x.shape[:-1])
        unbiased = var * (n / max(n - 1, 1))
        m = self.momentum
        ra_mean.value = m * ra_mean.value + (1.0 - m) * mean
        ra_var.value = m * ra_var.value + (1.0 - m) * unbiased
    else:
      mean, var = ra_mean.value, ra_var.value
    y = (x - mean) * lax.rsqrt(var + self.epsilon)
    return y * scale + bias
