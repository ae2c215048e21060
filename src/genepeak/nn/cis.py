"""A direct, genome-local path from one modality to the other: a cis-regulatory linear layer.

A VAE that must push every gene through a shared latent learns what separates cell types and
little else: one gene's within-type effect on its own peaks is too small a signal to earn a
latent dimension. ``CisLinear`` gives each (source, target) pair closer than ``window`` bp on
the same chromosome its own weight, so a gene can move its nearby peaks directly (and a peak
its nearby genes, in PGP). Pairs further apart, and trans effects, still go through the latent.

The weights form a banded matrix once features are sorted by position, stored as dense
blocks: ``block`` consecutive source features and the contiguous range of targets within
``window`` of any of them. A mask keeps pairs beyond the window at zero. Dense blocks keep
the layer a few batched matrix products; torch's sparse kernels were 10-50x slower on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

#: cis weights start at 0 and are scaled so that Adam moves them ``LR_SCALE`` times faster than
#: the MLP: a per-pair weight sees few informative steps, the shared layers see every one
LR_SCALE = 10.0


@dataclass(frozen=True)
class CisLayout:
    """Which source feature meets which target feature in each dense block.

    ``source_slots`` (blocks, block) and ``target_slots`` (blocks, width) index the features
    (``n_source`` / ``n_target`` mark padding); ``mask`` (blocks, block, width) is True for
    pairs within the window on the same chromosome.
    """

    source_slots: np.ndarray
    target_slots: np.ndarray
    mask: np.ndarray
    n_source: int
    n_target: int

    @property
    def n_pairs(self) -> int:
        return int(self.mask.sum())

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(source index, target index) of every pair in the window."""
        k, i, j = np.nonzero(self.mask)
        return self.source_slots[k, i], self.target_slots[k, j]


def cis_layout(
    source_chrom: np.ndarray,
    source_pos: np.ndarray,
    target_chrom: np.ndarray,
    target_pos: np.ndarray,
    window: int,
    block: int = 32,
) -> CisLayout:
    """Blocks of the banded (source x target) matrix of pairs within ``window`` bp.

    Features with an unknown position (``pos < 0`` or empty chromosome) take part in no pair.
    """
    source_chrom = np.asarray(source_chrom, dtype=str)
    target_chrom = np.asarray(target_chrom, dtype=str)
    source_pos = np.asarray(source_pos, dtype=np.int64)
    target_pos = np.asarray(target_pos, dtype=np.int64)
    n_source, n_target = len(source_pos), len(target_pos)
    blocks_src, blocks_tgt = [], []
    for chrom in sorted(set(source_chrom[source_pos >= 0]) - {"", "nan"}):
        src = np.flatnonzero((source_chrom == chrom) & (source_pos >= 0))
        tgt = np.flatnonzero((target_chrom == chrom) & (target_pos >= 0))
        if not len(tgt):
            continue
        src = src[np.argsort(source_pos[src], kind="stable")]
        tgt = tgt[np.argsort(target_pos[tgt], kind="stable")]
        tpos = target_pos[tgt]
        for first in range(0, len(src), block):
            members = src[first : first + block]
            lo = np.searchsorted(tpos, source_pos[members].min() - window, side="left")
            hi = np.searchsorted(tpos, source_pos[members].max() + window, side="right")
            if hi > lo:
                blocks_src.append(members)
                blocks_tgt.append(tgt[lo:hi])
    width = max((len(t) for t in blocks_tgt), default=1)
    n_blocks = max(len(blocks_src), 1)
    source_slots = np.full((n_blocks, block), n_source, dtype=np.int64)
    target_slots = np.full((n_blocks, width), n_target, dtype=np.int64)
    for k, (s, t) in enumerate(zip(blocks_src, blocks_tgt)):
        source_slots[k, : len(s)] = s
        target_slots[k, : len(t)] = t
    spos = np.append(source_pos, -(10**12))[source_slots]
    tpos = np.append(target_pos, 10**12)[target_slots]
    mask = np.abs(spos[:, :, None] - tpos[:, None, :]) <= window
    mask &= (source_slots < n_source)[:, :, None] & (target_slots < n_target)[:, None, :]
    return CisLayout(source_slots, target_slots, mask, n_source, n_target)


class CisLinear(nn.Module):
    """``y[..., t] = sum_s w[s, t] * x[..., s]`` over the pairs of a :class:`CisLayout`."""

    def __init__(self, layout: CisLayout) -> None:
        super().__init__()
        self.n_source, self.n_target = layout.n_source, layout.n_target
        self.register_buffer("source_slots", torch.as_tensor(layout.source_slots))
        self.register_buffer("target_slots", torch.as_tensor(layout.target_slots).reshape(-1))
        self.register_buffer("mask", torch.as_tensor(layout.mask, dtype=torch.float32))
        self.weight = nn.Parameter(torch.zeros(layout.mask.shape))

    @property
    def n_pairs(self) -> int:
        return int(self.mask.sum().item())

    def effective_weight(self) -> torch.Tensor:
        """Per-pair weights (blocks, block, width), zero outside the window."""
        return self.weight * self.mask * LR_SCALE

    def penalty(self) -> torch.Tensor:
        """Sum of squared effective weights (the ridge term of the loss)."""
        return self.effective_weight().float().pow(2).sum()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])
        padded = torch.nn.functional.pad(x, (0, 1))
        blocks = padded[:, self.source_slots]  # (rows, blocks, block)
        weight = self.effective_weight().to(blocks.dtype)
        products = torch.einsum("nks,ksr->nkr", blocks, weight).reshape(x.shape[0], -1)
        out = products.new_zeros(x.shape[0], self.n_target + 1)
        out.index_add_(1, self.target_slots, products)
        return out[:, : self.n_target].reshape(*lead, self.n_target)

    def pair_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(source index, target index, weight) of every pair in the window."""
        mask = self.mask.bool()
        k, i, j = torch.nonzero(mask, as_tuple=True)
        width = self.mask.shape[2]
        sources = self.source_slots[k, i]
        targets = self.target_slots.reshape(-1, width)[k, j]
        weights = self.effective_weight().detach()[k, i, j]
        return sources.cpu().numpy(), targets.cpu().numpy(), weights.float().cpu().numpy()
