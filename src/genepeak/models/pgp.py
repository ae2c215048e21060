"""PGP: peaks -> z1 -> RNA -> z2 -> peaks, the GPG chain with the modalities swapped."""

from __future__ import annotations

from genepeak.models.base import Model
from genepeak.models.gpg import ChainModule


class PGPModule(ChainModule):
    """PGP math: peaks are the source, genes the middle."""

    source = "atac"


class PGP(Model):
    """Peaks -> genes -> peaks VAE chain. ``predict_genes`` is the ATAC -> RNA translation."""

    architecture = "pgp"
    module_class = PGPModule
    peak_task = "reconstruction"
    gene_task = "translation"
