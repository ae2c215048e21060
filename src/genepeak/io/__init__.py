"""genepeak.io."""
