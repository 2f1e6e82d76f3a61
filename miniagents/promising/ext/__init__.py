"""Optional extensions of the promising layer."""
