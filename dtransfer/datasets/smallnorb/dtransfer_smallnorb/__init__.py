"""TFDS builder dtransfer_smallnorb."""
