"""Shapes3D: procedural renderer, original h5 reader and TFDS builder."""
