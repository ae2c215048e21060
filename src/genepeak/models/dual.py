"""Dual VAE: an RNA VAE and an ATAC VAE whose latents are tied by an alignment loss.

Beyond the reference design, each decoder also learns from the other modality's latent
(cross-decoding, weight ``cross_weight``), so the Dual VAE translates: peaks from the RNA latent
and genes from the ATAC latent.
"""

from __future__ import annotations

import torch
from torch import nn

from genepeak.config import ModelConfig
from genepeak.models.base import Model
from genepeak.models.gpg import _heads
from genepeak.nn import (
    Decoder,
    FusionAlignment,
    GaussianEncoder,
    l2_alignment,
    reparameterize,
    symmetric_kl,
)
from genepeak.nn.losses import kl_standard_normal
from genepeak.train.data import Batch


class DualVAEModule(nn.Module):
    """Two VAEs (RNA, ATAC) with l2 / skl / fusion alignment of their latents."""

    n_latents = 2

    def __init__(
        self,
        n_genes: int,
        n_peaks: int,
        config: ModelConfig,
        gene_target_sum: float = 1.0,
        peak_target_sum: float = 1.0,
    ) -> None:
        super().__init__()
        kw = dict(activation=config.activation, dropout=config.dropout, norm=config.norm)
        latent, hidden = config.latent_dim, config.hidden
        self.latent_dim, self.config = latent, config
        self.enc_rna = GaussianEncoder(n_genes, hidden, latent, **kw)
        self.dec_rna = Decoder(latent, hidden, n_genes, **kw)
        self.enc_atac = GaussianEncoder(n_peaks, hidden, latent, **kw)
        self.dec_atac = Decoder(latent, hidden, n_peaks, **kw)
        self.gene_head, self.peak_head = _heads(
            n_genes, n_peaks, config, gene_target_sum, peak_target_sum
        )
        self.fusion = (
            FusionAlignment(latent, config.activation) if config.alignment == "fusion" else None
        )

    def alignment(self, mean_r, logvar_r, mean_a, logvar_a) -> torch.Tensor:
        """Per-cell alignment loss of the chosen mode."""
        if self.config.alignment == "l2":
            return l2_alignment(mean_r, mean_a)
        if self.config.alignment == "skl":
            return symmetric_kl(mean_r, logvar_r, mean_a, logvar_a)
        return self.fusion(mean_r, mean_a)[1]

    def loss(self, batch: Batch, beta: float, eps: torch.Tensor | None = None) -> dict:
        mean_r, logvar_r = self.enc_rna(batch.genes)
        mean_a, logvar_a = self.enc_atac(batch.peaks)
        z_r = reparameterize(mean_r, logvar_r, None if eps is None else eps[0])
        z_a = reparameterize(mean_a, logvar_a, None if eps is None else eps[1])
        genes = (batch.genes, batch.gene_counts, batch.gene_library)
        peaks = (batch.peaks, batch.peak_counts, batch.peak_library)
        rec_genes = self.gene_head.loss(self.dec_rna(z_r), *genes).mean()
        rec_peaks = self.peak_head.loss(self.dec_atac(z_a), *peaks).mean()
        cross_peaks = self.peak_head.loss(self.dec_atac(z_r), *peaks).mean()
        cross_genes = self.gene_head.loss(self.dec_rna(z_a), *genes).mean()
        mean_r, logvar_r, mean_a, logvar_a = (
            t.float() for t in (mean_r, logvar_r, mean_a, logvar_a)
        )
        kl_rna = kl_standard_normal(mean_r, logvar_r).mean()
        kl_atac = kl_standard_normal(mean_a, logvar_a).mean()
        align = self.alignment(mean_r, logvar_r, mean_a, logvar_a).mean()
        cfg = self.config
        loss = (
            rec_genes
            + rec_peaks
            + cfg.cross_weight * (cross_peaks + cross_genes)
            + beta * (kl_rna + kl_atac)
            + cfg.alignment_weight * align
        )
        return {
            "loss": loss,
            "rec_genes": rec_genes,
            "rec_peaks": rec_peaks,
            "cross_peaks": cross_peaks,
            "cross_genes": cross_genes,
            "kl_rna": kl_rna,
            "kl_atac": kl_atac,
            "alignment": align,
        }

    def _decode_from(self, encoder, decoder, head, x, n_samples):
        mean, logvar = encoder(x)
        z = reparameterize(mean, logvar, sample=n_samples is not None, n_samples=n_samples)
        return head.to_input_scale(decoder(z))

    def predict_peaks(self, genes, peaks, n_samples=None):
        return self._decode_from(self.enc_rna, self.dec_atac, self.peak_head, genes, n_samples)

    def predict_genes(self, genes, peaks, n_samples=None):
        return self._decode_from(self.enc_atac, self.dec_rna, self.gene_head, peaks, n_samples)

    def peaks_from_genes(self, genes, n_samples=None):
        return self.predict_peaks(genes, None, n_samples)

    def latent(self, genes, peaks, key):
        mean_r = self.enc_rna(genes)[0] if key in ("rna", "shared") else None
        mean_a = self.enc_atac(peaks)[0] if key in ("atac", "shared") else None
        if key == "shared":
            return self.fusion.shared(mean_r, mean_a)
        return mean_r if key == "rna" else mean_a


class DualVAE(Model):
    """RNA VAE + ATAC VAE with aligned latents; translates by cross-decoding."""

    architecture = "dual"
    module_class = DualVAEModule
    peak_task = "translation"
    gene_task = "translation"
    gene_latent = "rna"

    LATENT_KEYS = ("rna", "atac")

    @property
    def latent_keys(self) -> tuple[str, ...]:
        """``rna`` and ``atac``, and ``shared`` (the fused latent) with fusion alignment."""
        fused = ("shared",) if self.model_config.alignment == "fusion" else ()
        return self.LATENT_KEYS + fused
