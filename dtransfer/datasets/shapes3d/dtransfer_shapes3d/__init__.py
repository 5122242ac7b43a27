"""TFDS builder dtransfer_shapes3d (configs: procedural, original)."""
