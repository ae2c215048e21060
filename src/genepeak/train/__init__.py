"""genepeak.train: sparse batching, split, beta schedule, the training loop and checkpoints."""
