"""Coil100-Augmented (+binary): readers, recipe and TFDS builder."""
