"""TFDS builder dtransfer_real_objects."""
