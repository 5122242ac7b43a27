"""MPI3D (Gondal et al. 2019): npz reader and TFDS builder."""
