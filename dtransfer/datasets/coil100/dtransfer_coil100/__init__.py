"""TFDS builder dtransfer_coil100 (configs: augmented, binary)."""
