"""TFDS builder dtransfer_cars3d."""
