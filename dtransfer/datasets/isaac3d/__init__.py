"""Isaac3D (Nie et al. 2020): original-file reader and TFDS builder."""
