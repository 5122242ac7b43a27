"""RGB-D Objects (Lai et al. 2011) as an incomplete factor grid: reader, builder."""
