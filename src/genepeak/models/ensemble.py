"""Several trained models of one architecture answering as one (for link scores).

Their mean peak prediction takes out much of one model's training noise in the perturbation
effect (``perturbation_effect``, ``p_value``, ``fdr`` of ``link_scores``). The cell state, and
with it ``link_score``, is the first member's: latents of separately trained models are not
aligned. (Measured for the previous link score, the cis weights: three GPGs' mean beat each one
alone on tuning seeds 0-2; the state-adjusted score does not average, by construction.)
"""

from __future__ import annotations

import numpy as np


class MeanEnsemble:
    """The members' mean peak predictions; features, split and cell state of the first.

    Satisfies :class:`genepeak.explain.model.ExplainableModel`.
    """

    def __init__(self, members: list) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one model")
        first = members[0]
        for member in members[1:]:
            if list(member.genes) != list(first.genes) or list(member.peaks) != list(first.peaks):
                raise ValueError("every member of an ensemble must have the same genes and peaks")
        self.members = list(members)
        self.genes, self.peaks, self.split = first.genes, first.peaks, first.split
        self.cis_window, self.peak_scale = first.cis_window, first.peak_scale

    def peaks_from_genes(self, x: np.ndarray, n_samples: int | None = None) -> np.ndarray:
        """Mean over members; with ``n_samples`` each of the K passes averages one per member."""
        predictions = [m.peaks_from_genes(x, n_samples=n_samples) for m in self.members]
        return np.mean(predictions, axis=0, dtype=np.float64).astype(np.float32)

    def cell_state(self, x: np.ndarray) -> np.ndarray | None:
        """The first member's latent state (latents of separately trained models are not
        aligned, so they are not averaged)."""
        return self.members[0].cell_state(x)
