"""Loss-curve figure of a training history (``model.history``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from genepeak._utils import atomic_path  # noqa: E402


def plot_loss_curve(history: pd.DataFrame, path: str | Path, title: str | None = None) -> Path:
    """Plot training (and validation) loss per epoch, with the KL weight beta, to ``path``.

    Parameters
    ----------
    history
        ``model.history``: columns ``epoch``, ``loss``, optionally ``val_loss`` and ``beta``.
    path
        Output image (``.png``, ``.svg`` or ``.pdf``), written atomically.
    title
        Figure title (default: "Training loss").
    """
    if history.empty or "loss" not in history:
        raise ValueError("the history is empty: train the model before plotting its loss curve")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(history["epoch"], history["loss"], label="training", color="#1f77b4")
    if "val_loss" in history:
        ax.plot(history["epoch"], history["val_loss"], label="validation", color="#d62728")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title or "Training loss")
    if "beta" in history and history["beta"].nunique() > 1:
        twin = ax.twinx()
        twin.plot(history["epoch"], history["beta"], color="grey", linestyle=":", label="beta")
        twin.set_ylabel("KL weight beta", color="grey")
    ax.legend(loc="upper right")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=120)
    plt.close(fig)
    return path
