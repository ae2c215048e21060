"""Figures of the preparation step: QC violins and rule removals (RNA, ATAC), HVG dispersion,
peak activity, RNA UMAP."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mudata as md  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from genepeak.errors import InputError  # noqa: E402
from genepeak.io import prepared  # noqa: E402
from genepeak.report.figures import save_figure  # noqa: E402

_VIOLIN_METRICS = ("total_counts", "n_genes_by_counts", "pct_counts_mt", "pct_counts_ribo")
_ATAC_METRICS = (
    "atac_fragments",
    "atac_tsse",
    "atac_nucleosome_signal",
    "atac_frip",
    "atac_tss_fraction",
)
_LOG_METRICS = ("total_counts", "n_genes_by_counts", "atac_fragments")


def _bounds(rules: pd.DataFrame | None, metric: str) -> list[float]:
    """The active lower / upper bounds of the QC rules on ``metric``."""
    if rules is None or not len(rules):
        return []
    rows = rules[rules["metric"] == metric]
    values = pd.to_numeric(pd.concat([rows["lower"], rows["upper"]]), errors="coerce")
    return [float(v) for v in values if np.isfinite(v)]


def _violins(mdata: md.MuData, metrics: Sequence[str], title: str, path: Path) -> Path:
    """Violins of ``metrics`` over all input cells and the cells kept, with the QC bounds."""
    info = prepared.record(mdata)
    qc, rules = info["qc_before"], info.get("qc_rules")
    kept = qc.index.isin(mdata.obs_names)
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        before = qc[metric].to_numpy(np.float64)
        log_scale = metric in _LOG_METRICS
        scale = np.log1p if log_scale else (lambda v: v)
        groups = [scale(v[np.isfinite(v)]) for v in (before, before[kept])]
        data = [v if v.size > 1 and np.ptp(v) > 0 else np.r_[v, v + 1e-9, 0.0] for v in groups]
        ax.violinplot(data, showmedians=True)
        for bound in _bounds(rules, metric):
            ax.axhline(scale(bound), color="crimson", lw=1, ls="--")
        ax.set_xticks([1, 2], [f"input\n(n={before.size})", f"kept\n(n={int(kept.sum())})"])
        ax.set_title(f"log1p({metric})" if log_scale else metric, fontsize=10)
    fig.suptitle(f"{title} (dashed: QC rule bounds)")
    return save_figure(fig, path)


def plot_qc_violins(mdata: md.MuData, path: Path) -> Path:
    """Per-cell RNA QC metrics of all input cells and of the cells kept, with rule bounds."""
    return _violins(mdata, _VIOLIN_METRICS, "RNA quality control", path)


def plot_atac_qc(mdata: md.MuData, path: Path) -> Path | None:
    """The ATAC QC metrics (fragments, TSS enrichment, ...) like :func:`plot_qc_violins`."""
    qc = prepared.record(mdata)["qc_before"]
    metrics = [m for m in _ATAC_METRICS if m in qc.columns and qc[m].notna().any()]
    if not metrics:
        return None
    return _violins(mdata, metrics, "ATAC quality control", path)


def plot_qc_rules(mdata: md.MuData, path: Path) -> Path | None:
    """Cells removed by each QC rule (all its failures, and those it alone removed)."""
    rules = prepared.record(mdata).get("qc_rules")
    if rules is None or not len(rules):
        return None
    n_in = len(prepared.record(mdata)["qc_before"])
    labels = [f"{r.modality.upper()}: {r.rule}" for r in rules.itertuples()]
    y = np.arange(len(rules))[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rules) + 1.2))
    ax.barh(y, rules["n_removed"], color="lightsteelblue", label="fails this rule")
    ax.barh(y, rules["n_removed_only"], color="steelblue", label="fails only this rule")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("cells removed")
    ax.set_title(f"QC: {mdata.n_obs} of {n_in} cells kept", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)


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
    return save_figure(fig, path)


def plot_peak_activity(mdata: md.MuData, path: Path) -> Path:
    """Histogram of the fraction of cells in which each peak is open, with the threshold."""
    info = prepared.record(mdata)
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
    return save_figure(fig, path)


def plot_rna_umap(mdata: md.MuData, path: Path, labels_key: str | None = None) -> Path:
    """RNA UMAP coloured by the reference labels."""
    rna = mdata.mod["rna"]
    if "X_umap" not in rna.obsm:
        raise InputError("RNA has no obsm['X_umap']; prepare with compute_umap=True")
    key = labels_key or prepared.record(mdata).get("prepare", {}).get("labels_key") or "leiden"
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
    return save_figure(fig, path)


def plot_prepare_qc(mdata: md.MuData, out_dir: str | Path) -> dict[str, Path]:
    """Write the preparation figures as PNG into ``out_dir``.

    Returns
    -------
    ``{"qc_violins", "qc_rules", "atac_qc", "hvg_dispersion", "peak_activity", "rna_umap"}``
    -> path (QC rules when recorded, ATAC QC when ATAC metrics exist, UMAP when computed).
    """
    if "qc_before" not in prepared.record(mdata):
        raise InputError(
            f"plot_prepare_qc needs a MuData from genepeak.prepare (uns['{prepared.RECORD_KEY}'])"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "qc_violins": plot_qc_violins(mdata, out_dir / "qc_violins.png"),
        "qc_rules": plot_qc_rules(mdata, out_dir / "qc_rules.png"),
        "atac_qc": plot_atac_qc(mdata, out_dir / "atac_qc.png"),
        "hvg_dispersion": plot_hvg_dispersion(mdata, out_dir / "hvg_dispersion.png"),
        "peak_activity": plot_peak_activity(mdata, out_dir / "peak_activity.png"),
    }
    if "X_umap" in mdata.mod["rna"].obsm:
        paths["rna_umap"] = plot_rna_umap(mdata, out_dir / "rna_umap.png")
    return {name: path for name, path in paths.items() if path is not None}
