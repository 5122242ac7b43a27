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

  def __init__(self, config, model):
    self.config, self.model = config, model

  @classmethod
  def networks(cls, config, image_shape):
    """The method's own networks for source images of ``image_shape``, or None
    (the default): then ``model`` is the VAE of ``config.model``
    (``models.get_model``). Methods whose networks are not an encoder/decoder
    VAE (CDRD's coupled GAN) return them here; ``workdir.build_model`` passes
    them on as ``model``."""
    del config, image_shape
    return None

  # State ------------------------------------------------------------------
  def init(self, seed: int) -> dict:
    raise NotImplementedError

  def variables(self, state) -> dict:
    raise NotImplementedError

  # Data -------------------------------------------------------------------
  def check_source(self, source) -> None:
    """Raises ValueError when ``source`` cannot train this method."""

  def batches(self, source, shard: tuple[int, int]):
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

  def evaluate(self, variables, source, config, outdir: str) -> dict:
    """The method's own results beyond the shared metrics (probe accuracies,
    translation errors, domain-adaptation accuracy...), merged into
    ``results.json`` under their keys; figures go to ``outdir``."""
    del variables, source, config, outdir
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
