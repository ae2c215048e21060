"""genepeak.nn: torch building blocks (MLP, encoders, decoders), likelihoods, losses."""

from genepeak.nn.alignment import FusionAlignment, l2_alignment, symmetric_kl
from genepeak.nn.blocks import MLP, Decoder, GaussianEncoder, reparameterize
from genepeak.nn.likelihoods import (
    bernoulli_log_prob,
    negative_binomial_log_prob,
    poisson_log_prob,
)
from genepeak.nn.losses import ReconstructionHead, kl_standard_normal

__all__ = [
    "MLP",
    "Decoder",
    "FusionAlignment",
    "GaussianEncoder",
    "ReconstructionHead",
    "bernoulli_log_prob",
    "kl_standard_normal",
    "l2_alignment",
    "negative_binomial_log_prob",
    "poisson_log_prob",
    "reparameterize",
    "symmetric_kl",
]
