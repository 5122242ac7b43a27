"""TFDS builder folder of ``dtransfer_dsprites`` (imports tensorflow_datasets)."""
