"""Cars3D (Reed et al. 2015): .mat reader and TFDS builder."""
