"""An evaluation of the baselines on the tiny fixture, shared by the report tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genepeak.config import EvaluateConfig


@pytest.fixture
def baseline_evaluation(tiny_mdata):
    """``evaluate`` of the baselines alone (mean, knn, ridge, pca) on the tiny MuData."""
    from genepeak.evaluate import evaluate

    return evaluate(tiny_mdata, {}, EvaluateConfig(n_pcs=10, knn_k=5, compute_umap=False))


class HistoryOnly:
    """Enough of a model for the training section: a ``history`` DataFrame."""

    def __init__(self, n_epochs: int = 6) -> None:
        epoch = np.arange(1, n_epochs + 1)
        self.history = pd.DataFrame(
            {
                "epoch": epoch,
                "beta": np.minimum(epoch / 4, 1) * 0.1,
                "loss": 10 / epoch,
                "rec_peaks": 6 / epoch,
                "rec_genes": 4 / epoch,
                "kl_z1": 0.01 * epoch,
                "val_loss": 11 / epoch,
                "val_rec_peaks": 6.5 / epoch,
                "val_rec_genes": 4.5 / epoch,
                "val_kl_z1": 0.01 * epoch,
                "seconds": 0.2,
            }
        )


@pytest.fixture
def history_model():
    return HistoryOnly()
