"""The method interface (see the package docstring) and the NaN guard it shares."""

from __future__ import annotations

import jax
import jax.numpy as jnp


class Method:
  """What a representation-learning method supplies. Subclasses fill it in.

  ``config`` is the run's config; ``model`` the network built from
  ``config.model`` for the dataset's image shape.
  """

  name = ""
  FINE_TUNE = ""   # the method that fine-tunes this one's export on a target
  CONFIG_BLOCK = ""  # the method's own config block, carried into fine-tuning
  # Fields the method adds to the checked config sections, e.g. {"eval": (...)}
  # (dtransfer.config_check refuses unknown fields of train and eval).
  EXTRA_CONFIG_KEYS: dict = {}
  # Checked fields that mean nothing to the method (e.g. a VAE's model.num_latents).
  UNCHECKED_CONFIG_FIELDS: tuple = ()

  def __init__(self, config, model):
    self.config, self.model = config, model

  @classmethod
  def build_model(cls, config, image_shape):
    """The network of ``config.model`` for images of ``image_shape``: by default a
    VAE of the models registry; a method with other networks overrides this."""
    from dtransfer import models  # pylint: disable=g-import-not-at-top
    return models.get_model(config.model.name, num_latents=config.model.num_latents,
                            image_shape=tuple(image_shape),
                            **dict(config.model.get("kwargs", {})))

  # State ------------------------------------------------------------------
  def init(self, seed: int) -> dict:
    raise NotImplementedError

  def variables(self, state) -> dict:
    raise NotImplementedError

  # Data -------------------------------------------------------------------
  def check_images(self, images) -> None:
    """Raises ValueError when ``images`` cannot train this method."""

  def batches(self, images, shard: tuple[int, int]):
    raise NotImplementedError

  def device_batch(self, batch: dict) -> dict:
    raise NotImplementedError

  # Training ---------------------------------------------------------------
  def train_step(self):
    raise NotImplementedError

  # Evaluation -------------------------------------------------------------
  def encode(self, variables, x):
    raise NotImplementedError

  def figures(self, variables, examples, outdir: str, config) -> None:
    """Saves the method's pictures of a model (``examples``: 8 uint8 images of
    the evaluated dataset) as PNG in ``outdir``; the VAEs save traversals and
    reconstructions."""

  def evaluate(self, variables, images, config, outdir: str) -> dict:
    """The method's own results beyond the shared metrics (probe accuracies,
    translation errors, domain-adaptation accuracy...), merged into
    ``results.json`` under their keys; figures go to ``outdir``."""
    del variables, images, config, outdir
    return {}

  # Transfer ---------------------------------------------------------------
  def export(self, state) -> dict:
    raise NotImplementedError

  def init_from(self, parts: dict) -> dict:
    raise NotImplementedError(f"method '{self.name}' cannot start from another "
                              "method's parts.")


def keep_if_finite(finite, new, old):
  """``new`` where ``finite``, else ``old``, leaf by leaf (the NaN guard)."""
  return jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)


def all_finite(tree):
  """Whether every float leaf of ``tree`` is free of NaN and inf (a scalar bool)."""
  ok = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
        if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
  return jnp.all(jnp.stack(ok)) if ok else jnp.asarray(True)


def guard_state(finite, new_state, old_state):
  """The NaN guard of a whole train step: ``(state, finite)``.

  A step counts as finite when ``finite`` (its loss and gradients) holds and
  every float leaf of the updated state (parameters, model state, every
  optimiser state) is finite; otherwise the whole old state is kept, its
  ``step`` included, so no NaN ever enters a state that could be saved and
  the step counter never moves without training. Method-agnostic: the state
  is any pytree.
  """
  finite = jnp.asarray(finite) & all_finite(new_state)
  return keep_if_finite(finite, new_state, old_state), finite
