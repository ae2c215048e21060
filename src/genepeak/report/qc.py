"""Figures of the preparation step: QC violins, HVG dispersion, peak activity, RNA UMAP."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mudata as md  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from genepeak._utils import atomic_path  # noqa: E402
from genepeak.errors import InputError  # noqa: E402

_VIOLIN_METRICS = ("total_counts", "n_genes_by_counts", "pct_counts_mt", "pct_counts_ribo")


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_qc_violins(mdata: md.MuData, path: Path) -> Path:
    """Per-cell QC metrics of all input cells (before) and of the cells kept (after)."""
    qc = mdata.uns["genepeak"]["qc_before"]
    kept = qc.index.isin(mdata.obs_names)
    fig, axes = plt.subplots(1, len(_VIOLIN_METRICS), figsize=(3.2 * len(_VIOLIN_METRICS), 3.4))
    for ax, metric in zip(axes, _VIOLIN_METRICS):
        before = qc[metric].to_numpy(np.float64)
        after = before[kept]
        data = [v if v.size > 1 and np.ptp(v) > 0 else np.r_[v, v + 1e-9] for v in (before, after)]
        ax.violinplot(data, showmedians=True)
        ax.set_xticks([1, 2], [f"before\n(n={before.size})", f"after\n(n={after.size})"])
        ax.set_title(metric, fontsize=10)
    fig.suptitle("RNA quality control")
    return _save(fig, path)


def plot_hvg_dispersion(mdata: md.MuData, path: Path) -> Path:
    """Normalised dispersion against mean expression; HVGs highlighted."""
    var = mdata.mod["rna"].var
    fig, ax = plt.subplots(figsize=(4.5, 3.6))
    hvg = var["highly_variable"].to_numpy(bool)
    x = var["means"].to_numpy(np.float64) if "means" in var else np.zeros(len(var))
    y = (
        var["dispersions_norm"].to_numpy(np.float64)
        if "dispersions_norm" in var
        else np.zeros(len(var))
    )
    ax.scatter(
        x[~hvg],
        y[~hvg],
        s=3,
        c="lightgrey",
        label=f"other genes ({int((~hvg).sum())})",
        rasterized=True,
    )
    ax.scatter(
        x[hvg], y[hvg], s=3, c="black", label=f"highly variable ({int(hvg.sum())})", rasterized=True
    )
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("mean expression (log1p)")
    ax.set_ylabel("normalised dispersion")
    ax.legend(fontsize=8, markerscale=3)
    return _save(fig, path)


def plot_peak_activity(mdata: md.MuData, path: Path) -> Path:
    """Histogram of the fraction of cells in which each peak is open, with the threshold."""
    info = mdata.uns["genepeak"]
    frac = np.asarray(info["peak_frac_before"], dtype=np.float64)
    threshold = float(info["prepare"].get("min_peak_fraction", 0.0))
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    upper = max(frac.max(initial=0.0), threshold) * 1.02 + 1e-6
    bins = np.linspace(0, upper, 60)
    ax.hist(frac, bins=bins, color="steelblue")
    ax.axvline(threshold, color="crimson", lw=1, label=f"min fraction {threshold:g}")
    ax.set_yscale("log")
    ax.set_xlabel("fraction of cells with the peak open")
    ax.set_ylabel("peaks")
    ax.set_title(f"{int((frac >= threshold).sum())} of {frac.size} peaks pass", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_rna_umap(mdata: md.MuData, path: Path, labels_key: str | None = None) -> Path:
    """RNA UMAP coloured by the reference labels."""
    rna = mdata.mod["rna"]
    if "X_umap" not in rna.obsm:
        raise InputError("RNA has no obsm['X_umap']; prepare with compute_umap=True")
    key = labels_key or mdata.uns["genepeak"]["prepare"].get("labels_key") or "leiden"
    labels = (mdata.obs[key] if key in mdata.obs else rna.obs["leiden"]).astype(str)
    coords = rna.obsm["X_umap"]
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    cmap = plt.get_cmap("tab20")
    for i, label in enumerate(pd.unique(labels)):
        mask = (labels == label).to_numpy()
        ax.scatter(
            coords[mask, 0], coords[mask, 1], s=4, color=cmap(i % 20), label=label, rasterized=True
        )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"RNA UMAP ({key})", fontsize=10)
    ax.legend(fontsize=6, markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5), frameon=False)
    return _save(fig, path)


def plot_prepare_qc(mdata: md.MuData, out_dir: str | Path) -> dict[str, Path]:
    """Write the preparation figures as PNG into ``out_dir``.

    Returns
    -------
    ``{"qc_violins", "hvg_dispersion", "peak_activity", "rna_umap"}`` -> path (UMAP only
    when the RNA has one).
    """
    if "genepeak" not in mdata.uns or "qc_before" not in mdata.uns["genepeak"]:
        raise InputError("plot_prepare_qc needs a MuData from genepeak.prepare (uns['genepeak'])")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "qc_violins": plot_qc_violins(mdata, out_dir / "qc_violins.png"),
        "hvg_dispersion": plot_hvg_dispersion(mdata, out_dir / "hvg_dispersion.png"),
        "peak_activity": plot_peak_activity(mdata, out_dir / "peak_activity.png"),
    }
    if "X_umap" in mdata.mod["rna"].obsm:
        paths["rna_umap"] = plot_rna_umap(mdata, out_dir / "rna_umap.png")
    return paths
