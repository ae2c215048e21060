"""Losses that tie the RNA and ATAC latents of the Dual VAE together (one value per cell)."""

from __future__ import annotations

import torch
from torch import nn

from genepeak.nn.blocks import MLP
from genepeak.nn.losses import gaussian_kl


def l2_alignment(mean_a: torch.Tensor, mean_b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distance of the posterior means."""
    return ((mean_a - mean_b) ** 2).sum(-1)


def symmetric_kl(
    mean_a: torch.Tensor, logvar_a: torch.Tensor, mean_b: torch.Tensor, logvar_b: torch.Tensor
) -> torch.Tensor:
    """KL(a || b) + KL(b || a): zero exactly when the two posteriors are identical."""
    return gaussian_kl(mean_a, logvar_a, mean_b, logvar_b) + gaussian_kl(
        mean_b, logvar_b, mean_a, logvar_a
    )


class FusionAlignment(nn.Module):
    """A small network maps ``[mean_rna; mean_atac]`` to ``z_shared``, pulled toward both means."""

    def __init__(self, latent_dim: int, activation: str = "tanh") -> None:
        super().__init__()
        self.body = MLP(2 * latent_dim, [latent_dim], activation)
        self.out = nn.Linear(latent_dim, latent_dim)

    def shared(self, mean_rna: torch.Tensor, mean_atac: torch.Tensor) -> torch.Tensor:
        """The fused latent ``z_shared``."""
        return self.out(self.body(torch.cat([mean_rna, mean_atac], -1)))

    def forward(
        self, mean_rna: torch.Tensor, mean_atac: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(z_shared, loss)`` with loss = |z_shared - mean_rna|^2 + |z_shared - mean_atac|^2."""
        z_shared = self.shared(mean_rna, mean_atac)
        loss = l2_alignment(z_shared, mean_rna) + l2_alignment(z_shared, mean_atac)
        return z_shared, loss
