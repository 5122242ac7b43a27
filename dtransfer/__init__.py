"""dtransfer: weakly supervised disentangled representations, their transfer and OMES.

Importing the package is cheap: submodules (models, losses, train, transfer,
evaluate, metrics, datasets) are imported where they are used, and nothing here
touches JAX devices, absl flags, the network or TensorFlow.
"""

__version__ = "0.1.0"
