"""TFDS builder dtransfer_mpi3d (configs: toy, realistic, real)."""
