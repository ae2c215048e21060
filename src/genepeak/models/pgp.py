"""PGP: peaks -> z1 -> RNA -> z2 -> peaks, the GPG chain with the modalities swapped."""

from __future__ import annotations

import torch

from genepeak.config import ModelConfig
from genepeak.models.base import Model
from genepeak.models.gpg import TwoStageVAE, _heads
from genepeak.nn import ReconstructionHead
from genepeak.nn.cis import CisLayout
from genepeak.train.data import Batch


class PGPModule(TwoStageVAE):
    """PGP math: peaks are the source, genes the middle."""

    def __init__(
        self,
        n_genes: int,
        n_peaks: int,
        config: ModelConfig,
        gene_target_sum: float = 1.0,
        peak_target_sum: float = 1.0,
        cis_layout: CisLayout | None = None,
    ) -> None:
        gene_head, peak_head = _heads(n_genes, n_peaks, config, gene_target_sum, peak_target_sum)
        super().__init__(n_peaks, n_genes, peak_head, gene_head, config, cis_layout)

    @property
    def gene_head(self) -> ReconstructionHead:
        return self.middle_head

    @property
    def peak_head(self) -> ReconstructionHead:
        return self.source_head

    def loss(self, batch: Batch, beta: float, eps: torch.Tensor | None = None) -> dict:
        parts = self.chain_loss(
            batch.peaks,
            batch.peak_counts,
            batch.peak_library,
            batch.genes,
            batch.gene_counts,
            batch.gene_library,
            beta,
            eps,
        )
        parts["rec_genes"], parts["rec_peaks"] = parts.pop("rec_middle"), parts.pop("rec_source")
        return parts

    def predict_peaks(self, genes, peaks, n_samples=None):
        return self.reconstruct(peaks, n_samples)

    def predict_genes(self, genes, peaks, n_samples=None):
        return self.translate(peaks, n_samples)

    def peaks_from_genes(self, genes, n_samples=None):
        return self.second_stage(genes, n_samples)

    def latent(self, genes, peaks, key):
        return self.latent_means(peaks)[key]


class PGP(Model):
    """Peaks -> genes -> peaks VAE chain. ``predict_genes`` is the ATAC -> RNA translation."""

    architecture = "pgp"
    module_class = PGPModule
    cis_source = "atac"
    peak_task = "reconstruction"
    gene_task = "translation"
