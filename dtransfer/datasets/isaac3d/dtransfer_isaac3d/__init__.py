"""TFDS builder dtransfer_isaac3d (configs: res64, res128)."""
