"""Loss-curve figure of one training history (``model.history``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genepeak.report.figures import plot_training_curves, save_figure


def plot_loss_curve(history: pd.DataFrame, path: str | Path, title: str | None = None) -> Path:
    """Draw one model's loss curves (:func:`~genepeak.report.figures.plot_training_curves`)
    to ``path``.

    Parameters
    ----------
    history
        ``model.history``: columns ``epoch``, ``loss``, optionally ``val_loss``, the loss
        terms and ``beta``.
    path
        Output image (``.png``, ``.svg`` or ``.pdf``), written atomically.
    title
        Name shown in the panel titles (default: "training").
    """
    return save_figure(plot_training_curves({title or "training": history}), path)
