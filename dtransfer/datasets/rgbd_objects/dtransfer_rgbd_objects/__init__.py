"""TFDS builder dtransfer_rgbd_objects (configs: rgb, depth)."""
