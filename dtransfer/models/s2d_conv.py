"""Strided convolutions as space-to-depth matrix products (the CPU fast path).

A convolution with stride ``s`` and kernel ``k = m*s`` is, after padding and
space-to-depth (``s x s`` blocks of pixels become channels), a stride-1
convolution with an ``m x m`` kernel over ``s*s*C`` channels. Written with
a custom VJP, all three maps a training step needs become large matrix
products with little data movement:

- S, the forward convolution ``y = conv(x, W)``;
- T, its adjoint ``dx = T(dy)`` (also the forward of a transposed conv);
- G, the kernel gradient ``dW = G(x, dy)``.

For the ``m*m`` taps, one side is shifted: either ``m*m`` shifted copies of
the narrower operand are put side by side (one GEMM with a long contraction),
or one GEMM computes every tap at once and the shifted outputs are summed.
Whichever side has fewer channels is the one copied. Kernel gradients are
computed as ``dy^T @ X`` with ``dy^T`` made explicit: XLA CPU runs matrix
products that contract over the rows of both operands several times slower.

Why this exists: XLA CPU runs the backward passes of strided convolutions
(input- or kernel-dilated convolutions) at a few GFLOP/s, and copies built
from many strided slices slowly; here every copy moves contiguous rows of
``s*C`` values and every product is an ordinary GEMM. On GPU/TPU the native
convolutions are used instead (``conv_impl="auto"``).

Called without autodiff (evaluation's forward-only encoding), ``conv2d`` is
XLA's own strided convolution, which XLA CPU gives to YNNPACK whole and runs
faster than the space-to-depth copy plus GEMM; the custom VJP's rules (the
maps above) run whenever the convolution is differentiated, as in training.

Only ``k % s == 0`` with non-negative padding takes this path (every
architecture here: 4x4 or 2x2 kernels, stride 2); ``layers`` falls back to
the im2col formulation otherwise. Values and gradients equal the native
convolution up to float rounding (tests/perf_equivalence_test.py).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax


def supported(kernel_shape, strides, pads) -> bool:
  """Whether a (kh, kw, ...) kernel with these strides/pads can take this path."""
  return all(k % s == 0 and p[0] >= 0 and p[1] >= 0
             for k, s, p in zip(kernel_shape[:2], strides, pads))


def _geometry(n: int, k: int, s: int, pad: tuple[int, int]):
  """Per dim: taps m, output length, s2d grid length, (before, after) pad.

  ``after`` is negative when the last input rows are never read.
  """
  m = k // s
  out = (n + pad[0] + pad[1] - k) // s + 1
  if out < 1:
    raise ValueError(f"convolution output would be empty: n={n}, k={k}, "
                     f"s={s}, pads={pad}.")
  grid = out + m - 1
  return m, out, grid, (pad[0], s * grid - n - pad[0])


def _pad(x, hw_pads):
  """lax.pad of the two spatial dims (negative amounts crop)."""
  (t, b), (l, r) = hw_pads
  return lax.pad(x, jnp.zeros((), x.dtype),
                 ((0, 0, 0), (t, b, 0), (l, r, 0), (0, 0, 0)))


def _space_to_depth(x, sh, sw):
  b, h, w, c = x.shape
  x = x.reshape(b, h // sh, sh, w // sw, sw * c).transpose(0, 1, 3, 2, 4)
  return x.reshape(b, h // sh, w // sw, sh * sw * c)


def _depth_to_space(x, sh, sw):
  b, h, w, c = x.shape
  c0 = c // (sh * sw)
  x = x.reshape(b, h, w, sh, sw * c0).transpose(0, 1, 3, 2, 4)
  return x.reshape(b, h * sh, w * sw, c0)


class _Plan:
  """Static geometry of one convolution: input size, kernel, strides, pads."""

  def __init__(self, in_hw, kernel_shape, strides, pads):
    kh, kw, self.cin, self.cout = kernel_shape
    self.in_hw, self.strides = tuple(in_hw), tuple(strides)
    gh = _geometry(in_hw[0], kh, strides[0], pads[0])
    gw = _geometry(in_hw[1], kw, strides[1], pads[1])
    self.m = (gh[0], gw[0])
    self.out = (gh[1], gw[1])
    self.grid = (gh[2], gw[2])
    self.x_pads = (gh[3], gw[3])
    self.taps = self.m[0] * self.m[1]
    self.c4 = strides[0] * strides[1] * self.cin

  # ----------------------------------------------------------- layouts ---

  def prepare(self, x):
    """NHWC input -> padded space-to-depth grid [B, gh, gw, s*s*cin]."""
    return _space_to_depth(_pad(x, self.x_pads), *self.strides)

  def unprepare(self, dX):
    """Adjoint of ``prepare``: grid gradient -> input gradient."""
    dx = _depth_to_space(dX, *self.strides)
    return _pad(dx, tuple((-a, -b) for a, b in self.x_pads))

  def taps_of(self, kernel):
    """[kh, kw, cin, cout] -> [mh, mw, s*s*cin, cout] (s2d channel order)."""
    (mh, mw), (sh, sw) = self.m, self.strides
    k = kernel.reshape(mh, sh, mw, sw, self.cin, self.cout)
    return k.transpose(0, 2, 1, 3, 4, 5).reshape(mh, mw, self.c4, self.cout)

  def kernel_of(self, taps):
    """Inverse of ``taps_of``."""
    (mh, mw), (sh, sw) = self.m, self.strides
    k = taps.reshape(mh, mw, sh, sw, self.cin, self.cout)
    return k.transpose(0, 2, 1, 3, 4, 5).reshape(mh * sh, mw * sw, self.cin,
                                                 self.cout)

  # ----------------------------------------------------- shifted copies ---

  def windows(self, X):
    """Taps of the grid side by side: [B, oh, ow, taps*c4] (im2col on X)."""
    (mh, mw), (oh, ow) = self.m, self.out
    cols = [X[:, p:p + oh, q:q + ow, :] for p in range(mh) for q in range(mw)]
    return jnp.concatenate(cols, axis=-1) if len(cols) > 1 else cols[0]

  def spread(self, dy):
    """``dy`` shifted onto the grid per tap: [B, gh, gw, taps*cout].

    Tap (p, q) at grid cell (i, j) holds dy[i - p, j - q] (zero outside).
    """
    (mh, mw), (oh, ow), (gh, gw) = self.m, self.out, self.grid
    dyp = _pad(dy, ((mh - 1, gh - oh), (mw - 1, gw - ow)))
    cols = [dyp[:, mh - 1 - p:mh - 1 - p + gh, mw - 1 - q:mw - 1 - q + gw, :]
            for p in range(mh) for q in range(mw)]
    return jnp.concatenate(cols, axis=-1) if len(cols) > 1 else cols[0]

  # ------------------------------------------------------------ the maps ---

  def forward(self, X, taps):
    """S: y[i] = sum_pq X[i + (p, q)] @ taps[p, q]."""
    (mh, mw), (oh, ow) = self.m, self.out
    if self.taps == 1:
      return jnp.dot(X[:, :oh, :ow, :], taps[0, 0])
    if self.c4 <= self.cout:
      return jnp.dot(self.windows(X),
                     taps.reshape(self.taps * self.c4, self.cout))
    z = jnp.dot(X, taps.transpose(2, 0, 1, 3).reshape(
        self.c4, self.taps * self.cout))
    z = z.reshape(*z.shape[:3], mh, mw, self.cout)
    return sum(z[:, p:p + oh, q:q + ow, p, q, :]
               for p in range(mh) for q in range(mw))

  def adjoint(self, dy, taps):
    """T: the grid gradient dX[i] = sum_pq dy[i - (p, q)] @ taps[p, q]^T."""
    (mh, mw), (oh, ow), (gh, gw) = self.m, self.out, self.grid
    if self.taps == 1:
      return _pad(jnp.dot(dy, taps[0, 0].T), ((0, gh - oh), (0, gw - ow)))
    if self.cout <= self.c4:
      return jnp.dot(self.spread(dy), taps.transpose(0, 1, 3, 2).reshape(
          self.taps * self.cout, self.c4))
    u = jnp.dot(dy, taps.transpose(3, 0, 1, 2).reshape(
        self.cout, self.taps * self.c4))
    u = u.reshape(*u.shape[:3], mh, mw, self.c4)
    return sum(_pad(u[:, :, :, p, q, :], ((p, gh - oh - p), (q, gw - ow - q)))
               for p in range(mh) for q in range(mw))

  def kernel_grad(self, X, dy):
    """G: d taps[p, q] = sum_i X[i + (p, q)]^T dy[i], as ``lhs^T @ rhs``."""
    (mh, mw) = self.m
    if self.cout <= self.c4:
      # Shift dy (the narrower side) onto the grid; [taps*cout, c4].
      d = self.spread(dy)
      g = _rows_t_dot(d.reshape(-1, self.taps * self.cout),
                      X.reshape(-1, self.c4))
      return g.reshape(mh, mw, self.cout, self.c4).transpose(0, 1, 3, 2)
    g = _rows_t_dot(dy.reshape(-1, self.cout),
                    self.windows(X).reshape(-1, self.taps * self.c4))
    return g.reshape(self.cout, mh, mw, self.c4).transpose(1, 2, 3, 0)


def _rows_t_dot(a, b):
  """``a^T @ b`` for tall a [R, M], b [R, N], with a^T laid out explicitly.

  Left to itself XLA CPU contracts over the rows of both operands, which
  runs at a fraction of its GEMM speed; the barriers keep the transposed
  copy of the narrow ``a`` (and the product's layout) as written.
  """
  if b.shape[1] < a.shape[1]:  # transpose the narrower operand
    return lax.optimization_barrier(
        jnp.dot(lax.optimization_barrier(b.T), a)).T
  at = lax.optimization_barrier(a.T)
  return lax.optimization_barrier(jnp.dot(at, b))


# --------------------------------------------------------------- layers ---


def conv2d(x, kernel, strides, pads):
  """Cross-correlation of NHWC x with HWIO kernel (see ``layers.conv2d``)."""
  return _conv2d(x, kernel, tuple(strides), tuple(pads), tuple(x.shape[1:3]))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _conv2d(x, kernel, strides, pads, in_hw):
  # Not differentiated (evaluation's forward-only encoding): XLA's own strided
  # convolution, which XLA CPU hands to YNNPACK whole and runs faster than the
  # space-to-depth copy plus GEMM (benchmarks/train_step.py, encode img/s).
  # Under autodiff the rules below run instead; both are the same map.
  del in_hw
  return lax.conv_general_dilated(x, kernel, window_strides=strides,
                                  padding=pads,
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _conv2d_fwd(x, kernel, strides, pads, in_hw):
  plan = _Plan(in_hw, kernel.shape, strides, pads)
  X = plan.prepare(x)
  return plan.forward(X, plan.taps_of(kernel)), (X, kernel)


def _conv2d_bwd(strides, pads, in_hw, residuals, dy):
  X, kernel = residuals
  plan = _Plan(in_hw, kernel.shape, strides, pads)
  dx = plan.unprepare(plan.adjoint(dy, plan.taps_of(kernel)))
  return dx, plan.kernel_of(plan.kernel_grad(X, dy))


_conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


def _transpose_plan(x_shape, kernel_shape, strides, crops):
  """The convolution whose adjoint is this transposed convolution."""
  kh, kw, cin, cout = kernel_shape
  out_hw = tuple((n - 1) * s + k - c0 - c1 for n, k, s, (c0, c1) in
                 zip(x_shape[1:3], (kh, kw), strides, crops))
  return _Plan(out_hw, (kh, kw, cout, cin), strides, crops)


def _transposed(x, kernel, strides, crops):
  plan = _transpose_plan(x.shape, kernel.shape, strides, crops)
  taps = plan.taps_of(kernel.transpose(0, 1, 3, 2))
  return plan.unprepare(plan.adjoint(x, taps))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv2d_transpose(x, kernel, strides, crops):
  """Scatter-semantics transposed conv (see ``layers.conv2d_transpose``)."""
  return _transposed(x, kernel, strides, crops)


def _conv2d_transpose_fwd(x, kernel, strides, crops):
  return _transposed(x, kernel, strides, crops), (x, kernel)


def _conv2d_transpose_bwd(strides, crops, residuals, dout):
  x, kernel = residuals
  plan = _transpose_plan(x.shape, kernel.shape, strides, crops)
  D = plan.prepare(dout)  # shared by both gradients
  dx = plan.forward(D, plan.taps_of(kernel.transpose(0, 1, 3, 2)))
  dk = plan.kernel_of(plan.kernel_grad(D, x))
  return dx, dk.transpose(0, 1, 3, 2)


conv2d_transpose.defvjp(_conv2d_transpose_fwd, _conv2d_transpose_bwd)
