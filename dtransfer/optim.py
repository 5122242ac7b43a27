"""Optimisers: the Adam chain of a config, its learning-rate schedule, and how
its state carries from a source run into fine-tuning.

Kept apart from training so that methods (dtransfer/methods), transfer and the
work directory build the same optimiser without importing one another.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

SCHEDULES = ("constant", "cosine", "step")


def learning_rate(optim, num_steps: int | None = None):
  """The learning rate: a constant (the paper's), or a linear warm-up over
  ``optim.warmup_steps`` then a cosine decay to ``optim.end_lr_fraction`` of the
  peak at ``num_steps`` (what the quick preset uses to finish a short run sharp),
  or "step": the rate times ``optim.step_decay`` (default 0.1) from
  ``optim.step_fraction`` (default 0.8) of ``num_steps`` on (the cycle-consistent
  VAE's StepLR at epoch 80 of 100)."""
  schedule = optim.get("schedule", "constant")
  if schedule == "constant":
    return optim.learning_rate
  if schedule == "step":
    if not num_steps:
      raise ValueError("optim.schedule='step' needs the run's number of steps.")
    boundary = max(1, int(round(float(optim.get("step_fraction", 0.8)) * int(num_steps))))
    return optax.piecewise_constant_schedule(
        float(optim.learning_rate), {boundary: float(optim.get("step_decay", 0.1))})
  if schedule != "cosine":
    raise ValueError(f"unknown optim.schedule '{schedule}'; choose one of {SCHEDULES}.")
  if not num_steps:
    raise ValueError("optim.schedule='cosine' needs the run's number of steps.")
  peak = float(optim.learning_rate)
  warmup = int(optim.get("warmup_steps", 0))
  return optax.warmup_cosine_decay_schedule(
      0.0 if warmup else peak, peak, warmup, max(int(num_steps), warmup + 1),
      end_value=peak * float(optim.get("end_lr_fraction", 0.0)))


def make_optimizer(optim, num_steps: int | None = None) -> optax.GradientTransformation:
  """Adam with the reference code's order: clip the gradient norm, then L2, then Adam."""
  parts = []
  if optim.grad_clip_norm and optim.grad_clip_norm > 0:
    parts.append(optax.clip_by_global_norm(optim.grad_clip_norm))
  if optim.weight_decay:
    parts.append(optax.add_decayed_weights(optim.weight_decay))  # torch Adam's L2
  parts.append(optax.adam(learning_rate(optim, num_steps), b1=optim.b1, b2=optim.b2,
                          eps=optim.eps))
  return optax.chain(*parts)


def _is_part(node) -> bool:
  """A transform's own state: a NamedTuple such as ScaleByAdamState or EmptyState."""
  return isinstance(node, tuple) and hasattr(node, "_fields")


def _carried(part) -> bool:
  """Whether a transform's state moves from source to target: Adam's moments do;
  EmptyState holds nothing and a learning-rate schedule's counter belongs to the
  run (the target's schedule starts at its own step 0)."""
  return not isinstance(part, (optax.EmptyState, optax.ScaleByScheduleState))


def _stateful_parts(opt_state) -> list:
  """The optimiser state's carried transforms (e.g. ScaleByAdamState), in chain
  order; EmptyState, schedule counters and the chain/tuple containers are skipped."""
  return [x for x in jax.tree.leaves(opt_state, is_leaf=_is_part) if _carried(x)]


def carry_optimizer_state(source_opt_state, optimizer: optax.GradientTransformation,
                          params):
  """``optimizer``'s state for ``params`` with the source's moments put in.

  The target's chain (say Adam alone) may differ from the source's (clip, L2,
  Adam) in stateless parts; the stateful parts (Adam's count, mu and nu) must
  match one to one in type and order, and are copied over.
  """
  fresh = optimizer.init(params)
  src, dst = _stateful_parts(source_opt_state), _stateful_parts(fresh)
  if [type(x).__name__ for x in src] != [type(x).__name__ for x in dst]:
    raise ValueError(
        "cannot carry the source's optimiser state into fine-tuning: the source "
        f"holds {[type(x).__name__ for x in src]}, the target's optimiser needs "
        f"{[type(x).__name__ for x in dst]}. Set --config.transfer.reset_optimizer=True "
        "to start the target's optimiser afresh.")
  shapes = lambda t: jax.tree.map(jnp.shape, t)
  for a, b in zip(src, dst):
    if jax.tree.structure(a) != jax.tree.structure(b) or shapes(a) != shapes(b):
      raise ValueError(
          f"the source's {type(a).__name__} does not fit the target's parameters; "
          "set --config.transfer.reset_optimizer=True to start afresh.")
  parts, treedef = jax.tree.flatten(fresh, is_leaf=_is_part)
  carried = iter(src)
  return jax.tree.unflatten(treedef, [next(carried) if _carried(p) else p
                                      for p in parts])
