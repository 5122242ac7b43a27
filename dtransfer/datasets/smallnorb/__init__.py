"""SmallNORB (LeCun et al. 2004): binary-matrix reader and TFDS builder."""
