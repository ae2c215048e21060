"""What explain needs of a model (docs/architecture.md), declared once.

GPG, PGP and DualVAE satisfy it, and so do the fakes of ``tests/explain/explain_fakes.py``,
the smallest models that do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class ExplainableModel(Protocol):
    """A trained gene -> peak predictor that explain can perturb.

    Attributes
    ----------
    genes, peaks
        The feature names the model was trained on, in its input / output order.
    cis_window
        Width (bp) of its cis layer; 0 without one (explain then uses its own window).
    peak_scale
        ``"log1p"`` or ``"probability"``: the scale of its peak predictions.
    split
        ``{"train" | "val" | "test": cell names}``; ``split["val"]`` chooses the threshold.
    """

    genes: Sequence[str]
    peaks: Sequence[str]
    cis_window: int
    peak_scale: str
    split: dict

    def peaks_from_genes(self, x: np.ndarray, n_samples: int | None = None) -> np.ndarray:
        """Peaks from dense gene rows ``(rows, genes)`` in model input space.

        ``(rows, peaks)`` posterior means with ``n_samples=None``; ``(K, rows, peaks)`` from
        ``K`` stochastic passes with ``n_samples=K``. Always a numpy array.
        """
        ...

    def cell_state(self, x: np.ndarray) -> np.ndarray | None:
        """The model's latent state ``(rows, d)`` of dense gene rows, read from the genes
        alone; None when the model has no such latent (explain then uses the RNA PCs)."""
        ...
