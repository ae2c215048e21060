"""GPG: RNA -> z1 -> peaks -> z2 -> RNA.

Stage 1 translates genes into peaks; stage 2 encodes the *predicted* peaks and reconstructs
the genes. By default stage 2's loss does not flow back into stage 1 (``joint_stages=False``),
so stage 1 is a pure translation model; ``joint_stages=True`` trains the chain end to end.
The same two-stage chain, with the modalities swapped, is PGP (``pgp.py``).
"""

from __future__ import annotations

import torch
from torch import nn

from genepeak.config import ModelConfig
from genepeak.models.base import Model
from genepeak.nn import Decoder, GaussianEncoder, ReconstructionHead, reparameterize
from genepeak.nn.cis import CisLayout, CisLinear
from genepeak.nn.losses import kl_standard_normal
from genepeak.train.data import Batch


class TwoStageVAE(nn.Module):
    """x -> enc1 -> z1 -> dec1 -> y_hat -> enc2 -> z2 -> dec2 -> x_hat (x: source, y: middle)."""

    n_latents = 2

    def __init__(
        self,
        n_source: int,
        n_middle: int,
        source_head: ReconstructionHead,
        middle_head: ReconstructionHead,
        config: ModelConfig,
        cis_layout: CisLayout | None = None,
    ) -> None:
        super().__init__()
        kw = dict(activation=config.activation, dropout=config.dropout, norm=config.norm)
        self.latent_dim = config.latent_dim
        self.joint_stages = config.joint_stages
        self.enc1 = GaussianEncoder(n_source, config.hidden, config.latent_dim, **kw)
        self.dec1 = Decoder(config.latent_dim, config.hidden, n_middle, **kw)
        self.enc2 = GaussianEncoder(n_middle, config.hidden, config.latent_dim, **kw)
        self.dec2 = Decoder(config.latent_dim, config.hidden, n_source, **kw)
        self.source_head, self.middle_head = source_head, middle_head
        # stage 1's direct genome-local path (nn/cis.py): source features move nearby targets
        self.cis = CisLinear(cis_layout) if cis_layout is not None else None
        self.cis_l2 = config.cis_l2

    def chain(
        self,
        x: torch.Tensor,
        eps: torch.Tensor | None = None,
        sample: bool = True,
        n_samples: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Run both stages; ``n_samples=K`` gives a leading K axis (one batched pass)."""
        mean1, logvar1, middle_out = self._stage1(
            x, None if eps is None else eps[0], sample, n_samples
        )
        middle_hat = self.middle_head.to_input_scale(middle_out)  # stage 2 sees the prediction
        if not self.joint_stages:
            # stage 2 learns from stage 1's predictions without reshaping them: end-to-end
            # gradients kept the translation at the mean profile on the default data
            middle_hat = middle_hat.detach()
        mean2, logvar2 = self.enc2(middle_hat)
        z2 = reparameterize(mean2, logvar2, None if eps is None else eps[1], sample)
        return {
            "mean1": mean1,
            "logvar1": logvar1,
            "middle_out": middle_out,
            "middle_hat": middle_hat,
            "mean2": mean2,
            "logvar2": logvar2,
            "source_out": self.dec2(z2),
        }

    def chain_loss(
        self, x, x_counts, x_library, y, y_counts, y_library, beta: float, eps
    ) -> dict[str, torch.Tensor]:
        out = self.chain(x, eps)
        rec_middle = self.middle_head.loss(out["middle_out"], y, y_counts, y_library).mean()
        rec_source = self.source_head.loss(out["source_out"], x, x_counts, x_library).mean()
        kl1 = kl_standard_normal(out["mean1"].float(), out["logvar1"].float()).mean()
        kl2 = kl_standard_normal(out["mean2"].float(), out["logvar2"].float()).mean()
        loss = rec_middle + rec_source + beta * (kl1 + kl2)
        if self.cis is not None:
            loss = loss + self.cis_l2 * self.cis.penalty()
        return {
            "loss": loss,
            "rec_middle": rec_middle,
            "rec_source": rec_source,
            "kl_z1": kl1,
            "kl_z2": kl2,
        }

    def _stage1(self, x, eps, sample: bool, n_samples: int | None):
        """x -> z1 -> middle outputs (latent path plus the cis layer): (mean1, logvar1, out)."""
        mean1, logvar1 = self.enc1(x)
        z1 = reparameterize(mean1, logvar1, eps, sample, n_samples)
        middle_out = self.dec1(z1)
        if self.cis is not None:
            middle_out = middle_out + self.cis(x)
        return mean1, logvar1, middle_out

    def translate(self, x: torch.Tensor, n_samples: int | None = None) -> torch.Tensor:
        """Stage 1: source -> middle, on the middle modality's input scale (stage 2 not run)."""
        out = self._stage1(x, None, n_samples is not None, n_samples)[2]
        return self.middle_head.to_input_scale(out)

    def reconstruct(self, x: torch.Tensor, n_samples: int | None = None) -> torch.Tensor:
        """Both stages: source -> middle -> source, on the source input scale."""
        out = self.chain(x, sample=n_samples is not None, n_samples=n_samples)
        return self.source_head.to_input_scale(out["source_out"])

    def second_stage(self, y: torch.Tensor, n_samples: int | None = None) -> torch.Tensor:
        """Stage 2 alone, on observed middle-modality inputs: middle -> source."""
        mean, logvar = self.enc2(y)
        z = reparameterize(mean, logvar, sample=n_samples is not None, n_samples=n_samples)
        return self.source_head.to_input_scale(self.dec2(z))

    def latent_means(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.chain(x, sample=False)
        return {"z1": out["mean1"], "z2": out["mean2"]}


def _heads(n_genes, n_peaks, config, gene_target_sum, peak_target_sum):
    gene_head = ReconstructionHead(
        config.rna_loss, n_genes, gene_target_sum, config.huber_delta, config.nonzero_weight
    )
    peak_head = ReconstructionHead(
        config.atac_loss, n_peaks, peak_target_sum, config.huber_delta, config.nonzero_weight
    )
    return gene_head, peak_head


class ChainModule(TwoStageVAE):
    """The GPG / PGP chain over genes and peaks; ``source`` says which modality starts it.

    ``source = "rna"``: genes -> peaks -> genes (GPG); ``"atac"``: peaks -> genes -> peaks (PGP).
    """

    source: str = "rna"

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
        genes, peaks = (n_genes, gene_head), (n_peaks, peak_head)
        (n_source, source_head), (n_middle, middle_head) = (
            (genes, peaks) if self.source == "rna" else (peaks, genes)
        )
        super().__init__(n_source, n_middle, source_head, middle_head, config, cis_layout)

    @property
    def gene_head(self) -> ReconstructionHead:
        return self.source_head if self.source == "rna" else self.middle_head

    @property
    def peak_head(self) -> ReconstructionHead:
        return self.middle_head if self.source == "rna" else self.source_head

    def loss(self, batch: Batch, beta: float, eps: torch.Tensor | None = None) -> dict:
        genes = (batch.genes, batch.gene_counts, batch.gene_library)
        peaks = (batch.peaks, batch.peak_counts, batch.peak_library)
        source, middle = (genes, peaks) if self.source == "rna" else (peaks, genes)
        parts = self.chain_loss(*source, *middle, beta, eps)
        names = ("rec_genes", "rec_peaks") if self.source == "rna" else ("rec_peaks", "rec_genes")
        parts[names[1]], parts[names[0]] = parts.pop("rec_middle"), parts.pop("rec_source")
        return parts

    def _from_source(self, target: str, genes, peaks, n_samples):
        """``target`` (rna / atac) from the source: translation or the full reconstruction."""
        x = genes if self.source == "rna" else peaks
        if target == self.source:
            return self.reconstruct(x, n_samples)
        return self.translate(x, n_samples)

    def predict_peaks(self, genes, peaks, n_samples=None):
        return self._from_source("atac", genes, peaks, n_samples)

    def predict_genes(self, genes, peaks, n_samples=None):
        return self._from_source("rna", genes, peaks, n_samples)

    def peaks_from_genes(self, genes, n_samples=None):
        # GPG: stage 1 translates genes; PGP: stage 2 encodes genes (its middle) into peaks
        if self.source == "rna":
            return self.translate(genes, n_samples)
        return self.second_stage(genes, n_samples)

    def latent(self, genes, peaks, key):
        x = genes if self.source == "rna" else peaks
        if key == "z1":  # stage 1's encoder alone: no decoder to run
            return self.enc1(x)[0]
        return self.latent_means(x)[key]


class GPGModule(ChainModule):
    """GPG math: genes are the source, peaks the middle."""

    source = "rna"


class GPG(Model):
    """Genes -> peaks -> genes VAE chain. ``predict_peaks`` is the RNA -> ATAC translation."""

    architecture = "gpg"
    module_class = GPGModule
    peak_task = "translation"
    gene_task = "reconstruction"
    gene_latent = "z1"
