"""genepeak.report."""
