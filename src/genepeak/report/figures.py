"""Evaluation figures (matplotlib, Agg): latent grid, threshold curves, Pearson, calibration,
training curves. Each ``plot_*`` returns a Figure; ``save_figure`` writes it as PNG atomically.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from genepeak._utils import atomic_path  # noqa: E402

__all__ = [
    "figure_png",
    "label_colours",
    "plot_latent_grid",
    "plot_pearson_distributions",
    "plot_reliability",
    "plot_threshold_curves",
    "plot_training_curves",
    "save_figure",
]

DPI = 100
_NON_TERMS = {"epoch", "beta", "seconds", "lr", "step"}


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (atomically) and close it: the one figure saver of genepeak.

    The format follows the suffix (``.png`` when there is none; ``.svg`` and ``.pdf`` too),
    at :data:`DPI`, cropped to the drawing.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def figure_png(fig) -> bytes:
    """PNG bytes of ``fig`` (then closed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def label_colours(labels: np.ndarray) -> dict[str, tuple]:
    """A stable colour per label (sorted; tab10 up to 10 labels, then tab20/b/c, then hsv)."""
    names = sorted(np.unique(np.asarray(labels).astype(str)), key=natural_key)
    if len(names) <= 10:
        palette = list(plt.get_cmap("tab10").colors)
    else:
        palette = [c for m in ("tab20", "tab20b", "tab20c") for c in plt.get_cmap(m).colors]
    if len(names) > len(palette):
        hsv = plt.get_cmap("hsv")
        palette = [hsv(i / len(names)) for i in range(len(names))]
    return {name: palette[i] for i, name in enumerate(names)}


def natural_key(text: str):
    """Sort key: numeric labels by value ("2" before "10"), then the others by name."""
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def plot_latent_grid(
    latents_2d: Mapping[str, Mapping[str, np.ndarray]],
    labels: np.ndarray,
    method: str = "UMAP",
    title_suffix: str = "test cells",
):
    """One panel per (predictor, latent), cells coloured by reference label; one legend."""
    labels = np.asarray(labels).astype(str)
    panels = [(name, key, xy) for name, by_key in latents_2d.items() for key, xy in by_key.items()]
    if not panels:
        raise ValueError("no latents to plot: evaluate at least one model or the pca baseline")
    n_cols = min(4, len(panels))
    n_rows = int(np.ceil(len(panels) / n_cols))
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(3.3 * n_cols + 1.6, 3.1 * n_rows), squeeze=False
    )
    colours = label_colours(labels)
    size = float(np.clip(2000 / max(len(labels), 1), 2, 25))
    for ax, (name, key, xy) in zip(axes.ravel(), panels):
        for label, colour in colours.items():
            mask = labels == label
            ax.scatter(
                xy[mask, 0],
                xy[mask, 1],
                s=size,
                color=colour,
                label=label,
                linewidths=0,
                rasterized=True,
            )
        ax.set_title(f"{name}: {key}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{method} 1", fontsize=8)
        ax.set_ylabel(f"{method} 2", fontsize=8)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_axis_off()
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=c, label=n) for n, c in colours.items()
    ]
    fig.legend(
        handles=handles,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        frameon=False,
        fontsize=8,
        title="reference label",
        ncol=1 if len(handles) <= 24 else 2,
    )
    fig.suptitle(f"Latent spaces ({method}, {title_suffix})", fontsize=11)
    fig.tight_layout()
    return fig


def plot_threshold_curves(curves: Mapping[str, Mapping]):
    """Precision / recall / F1 vs threshold on test cells, per predictor; the threshold chosen
    on validation cells is marked (validation F1 dashed)."""
    if not curves:
        raise ValueError("no peak predictions to plot")
    names = list(curves)
    n_cols = min(3, len(names))
    n_rows = int(np.ceil(len(names) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.6 * n_cols, 2.9 * n_rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        c = curves[name]
        test, val = c["sweep_test"], c["sweep_val"]
        ax.plot(test["threshold"], test["precision"], color="#1f77b4", label="precision (test)")
        ax.plot(test["threshold"], test["recall"], color="#ff7f0e", label="recall (test)")
        ax.plot(test["threshold"], test["f1"], color="#2ca02c", label="F1 (test)")
        ax.plot(
            val["threshold"],
            val["f1"],
            color="#2ca02c",
            linestyle="--",
            alpha=0.7,
            label="F1 (validation)",
        )
        ax.axvline(c["threshold"], color="black", linestyle=":", linewidth=1)
        ax.text(
            c["threshold"],
            1.02,
            f" chosen {c['threshold']:g}",
            fontsize=7,
            transform=ax.get_xaxis_transform(),
            ha="left",
            va="bottom",
        )
        ax.set_ylim(0, 1.0)
        ax.set_title(f"{name} ({c.get('scale', '')})", fontsize=10, pad=12)
        ax.set_xlabel("threshold", fontsize=8)
    for ax in axes.ravel()[len(names) :]:
        ax.set_axis_off()
    handles, texts = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(
        handles,
        texts,
        loc="lower center",
        ncol=4,
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, -0.02),
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def plot_pearson_distributions(pearson: Mapping[str, Mapping[str, np.ndarray]]):
    """Box plots of per-cell and per-gene Pearson correlation of gene predictions."""
    if not pearson:
        raise ValueError("no gene predictions to plot")
    names = list(pearson)
    fig, axes = plt.subplots(1, 2, figsize=(max(7.0, 1.5 * len(names) + 3), 3.4))
    for ax, key, title in (
        (axes[0], "per_cell", "per cell (across genes)"),
        (axes[1], "per_gene", "per gene (across cells)"),
    ):
        data = []
        for name in names:
            values = np.asarray(pearson[name][key], dtype=float)
            values = values[np.isfinite(values)]
            data.append(values if values.size else np.array([np.nan]))
        ax.boxplot(data, showfliers=False, widths=0.6)
        rng = np.random.default_rng(0)
        for i, values in enumerate(data, start=1):
            shown = values if values.size <= 400 else rng.choice(values, 400, replace=False)
            ax.scatter(
                i + rng.uniform(-0.18, 0.18, shown.size),
                shown,
                s=3,
                alpha=0.35,
                color="#555555",
                linewidths=0,
                rasterized=True,
            )
        ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right", fontsize=8)
        ax.axhline(0, color="grey", linewidth=0.6)
        ax.set_title(f"Gene Pearson {title}", fontsize=10)
        ax.set_ylim(-1.05, 1.05)
    fig.tight_layout()
    return fig


def plot_reliability(curves: Mapping[str, Mapping]):
    """Reliability curves (observed open fraction vs mean predicted probability)."""
    with_curves = {n: c["reliability"] for n, c in curves.items() if "reliability" in c}
    if not with_curves:
        raise ValueError("no probability-scale peak predictions: nothing to calibrate")
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    for name, curve in with_curves.items():
        filled = curve["count"] > 0
        ax.plot(
            curve["mean_predicted"][filled],
            curve["observed_fraction"][filled],
            marker="o",
            markersize=3,
            label=name,
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed open fraction")
    ax.set_title("Peak calibration (test cells)", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def _loss_terms(history: pd.DataFrame) -> list[str]:
    """Training columns with a number per epoch (``loss`` first), without their ``val_`` twin."""
    columns = [
        c
        for c in history.columns
        if c not in _NON_TERMS
        and not c.startswith("val_")
        and pd.api.types.is_numeric_dtype(history[c])
    ]
    if "train_loss" in columns and "loss" not in columns:
        columns = ["train_loss", *[c for c in columns if c != "train_loss"]]
    elif "loss" in columns:
        columns = ["loss", *[c for c in columns if c != "loss"]]
    return columns


def plot_training_curves(histories: Mapping[str, pd.DataFrame]):
    """Per model: total loss (top, with the KL weight beta when it changes) and every loss
    term (bottom), training solid, validation dashed, per epoch."""
    histories = {n: h for n, h in histories.items() if h is not None and len(h)}
    if not histories:
        raise ValueError("the training history is empty: train the models first")
    n = len(histories)
    fig, axes = plt.subplots(2, n, figsize=(3.8 * n, 5.6), squeeze=False)
    for col, (name, history) in enumerate(histories.items()):
        terms = _loss_terms(history)
        epoch = history["epoch"] if "epoch" in history else np.arange(1, len(history) + 1)
        total, parts = terms[0], terms[1:]
        top, bottom = axes[0, col], axes[1, col]
        top.plot(epoch, history[total], color="#1f77b4", label="training")
        val_total = "val_loss" if total in ("loss", "train_loss") else f"val_{total}"
        if val_total in history:
            top.plot(epoch, history[val_total], color="#d62728", linestyle="--", label="validation")
        top.set_title(f"{name}: total loss", fontsize=10)
        top.legend(fontsize=7, frameon=False)
        if "beta" in history and history["beta"].nunique() > 1:
            twin = top.twinx()
            twin.plot(epoch, history["beta"], color="grey", linestyle=":", label="beta")
            twin.set_ylabel("KL weight beta", color="grey", fontsize=8)
        cmap = plt.get_cmap("tab10")
        for i, term in enumerate(parts):
            bottom.plot(epoch, history[term], color=cmap(i % 10), label=term)
            if f"val_{term}" in history:
                bottom.plot(epoch, history[f"val_{term}"], color=cmap(i % 10), linestyle="--")
        values = history[parts].to_numpy(dtype=float) if parts else np.array([])
        if values.size and np.nanmin(values) > 0 and np.nanmax(values) / np.nanmin(values) > 50:
            bottom.set_yscale("log")
        bottom.set_title(f"{name}: terms (dashed: validation)", fontsize=10)
        bottom.set_xlabel("epoch", fontsize=8)
        if parts:
            bottom.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
