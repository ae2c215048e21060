"""The field's pictures of gene -> peak links, drawn from the data object and a link table.

- :func:`track_plot`: a genome region around one gene, as Signac's ``CoveragePlot`` with links
  and ArchR's browser tracks draw it: pseudo-bulk accessibility per group (the mean of the
  prepared peak matrix over each group's cells), the peaks, the gene models, and an arc from the
  gene's TSS to each tested peak, coloured by ``link_score`` (called links solid and thick).
- :func:`link_heatmap`: ArchR's peak-to-gene heatmap: for the top called links, the gene's
  mean expression beside its peak's mean accessibility in every group, each row z-scored.

Both take the table of :func:`genepeak.links.genome.link_genes` (``LinkResult.links``).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Arc  # noqa: E402

from genepeak.errors import InputError  # noqa: E402
from genepeak.io.annotation import gene_coordinates, recorded_annotation  # noqa: E402
from genepeak.links.genome import group_means  # noqa: E402
from genepeak.report.figures import label_colours, natural_key  # noqa: E402

#: the smallest region drawn around a gene (bp on each side of its TSS)
MIN_FLANK = 20_000


def _population(links: pd.DataFrame, group: str) -> pd.DataFrame:
    table = links[links["group"].astype(str) == group]
    if table.empty:
        raise InputError(f"the link table has no population {group!r}")
    return table


def track_plot(
    mdata,
    links: pd.DataFrame,
    gene: str,
    *,
    groupby: str | None = None,
    group: str = "all",
    flank: int | None = None,
    max_groups: int = 12,
):
    """Accessibility per group, peaks, genes and link arcs in the region around ``gene``.

    The region spans the gene's TSS and its called links (or its 5 best-scored peaks when none
    is called), padded by 10 % and at least ``MIN_FLANK`` each side; ``flank`` fixes it.
    """
    table = _population(links, group)
    table = table[table["gene"].astype(str) == gene]
    if table.empty:
        raise InputError(f"{gene} has no tested peaks in the link table")
    coords = gene_coordinates(mdata.mod["rna"].var, recorded_annotation(mdata))
    chrom, tss = str(coords.loc[gene, "chrom"]), int(coords.loc[gene, "tss"])
    lo, hi = _region(table, tss, flank)
    atac_var = mdata.mod["atac"].var
    in_region = table[(table["end"] >= lo) & (table["start"] <= hi)]
    labels = _labels(mdata, groupby)
    groups = sorted(pd.unique(labels.dropna()), key=natural_key)[:max_groups]
    peak_cols = atac_var.index.get_indexer(in_region["peak"].astype(str))
    means = group_means(mdata.mod["atac"], peak_cols, labels, groups)
    fig, axes = _track_axes(len(groups))
    starts, ends = in_region["start"].to_numpy(), in_region["end"].to_numpy()
    _draw_accessibility(axes[: len(groups)], groups, means, starts, ends, (hi - lo) / 400)
    n_tracks = len(groups)
    peaks_ax, genes_ax, arcs_ax = axes[n_tracks:]
    _draw_peaks(peaks_ax, starts, ends, in_region["called"].to_numpy())
    _draw_genes(genes_ax, coords, chrom, lo, hi, gene)
    _draw_arcs(arcs_ax, in_region, tss)
    arcs_ax.set_xlim(lo, hi)
    arcs_ax.set_xlabel(f"{chrom} (Mb)")
    arcs_ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v / 1e6:.3f}"))
    title = f"{gene}: {int(in_region['called'].sum())} called links ({group})"
    axes[0].set_title(title + "; tracks: mean accessibility per group", fontsize=10, loc="left")
    return fig


def _region(table: pd.DataFrame, tss: int, flank: int | None) -> tuple[int, int]:
    """The drawn span: the TSS and the called links (or the 5 best peaks), padded 10 %."""
    if flank is None:
        shown = table[table["called"]]
        if shown.empty:
            shown = table.nlargest(5, "link_score")
        centres = ((shown["start"] + shown["end"]) // 2).to_numpy()
        reach = max(int(np.abs(centres - tss).max()) if centres.size else 0, MIN_FLANK)
        flank = int(reach * 1.1)
    return tss - flank, tss + flank


def _track_axes(n_tracks: int):
    """A figure of ``n_tracks`` accessibility rows over a peaks, a genes and a links row."""
    heights = [0.55] * n_tracks + [0.35, 0.6, 1.6]
    return plt.subplots(
        n_tracks + 3,
        1,
        figsize=(9, 0.55 * n_tracks + 3.2),
        sharex=True,
        gridspec_kw={"height_ratios": heights, "hspace": 0.08},
    )


def _draw_accessibility(axes, groups, means, starts, ends, min_width: float) -> None:
    """One bar per peak and group: its mean accessibility, on a shared scale."""
    colours = label_colours(np.asarray(groups, dtype=object))
    top = float(means.max()) if means.size else 1.0
    for ax, name, row in zip(axes, groups, means):
        ax.bar(
            (starts + ends) / 2,
            row,
            width=np.maximum(ends - starts, min_width),
            color=colours[str(name)],
        )
        ax.set_ylim(0, top * 1.05 if top > 0 else 1)
        ax.set_yticks([])
        ax.set_ylabel(str(name), rotation=0, ha="right", va="center", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)


def _labels(mdata, groupby: str | None) -> pd.Series:
    """Each cell's group (by cell name); one group of all cells without ``groupby``."""
    names = mdata.obs_names.astype(str)
    if groupby is None:
        return pd.Series("all cells", index=names, dtype=object)
    if groupby not in mdata.obs:
        raise InputError(f"groupby {groupby!r} is not a column of mdata.obs")
    return pd.Series(mdata.obs[groupby].astype(str).to_numpy(dtype=object), index=names)


def _draw_peaks(ax, starts, ends, called) -> None:
    for s, e, c in zip(starts, ends, called):
        ax.add_patch(
            plt.Rectangle((s, 0.2), max(e - s, 1), 0.6, color="#b2182b" if c else "#777777")
        )
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel("peaks", rotation=0, ha="right", va="center", fontsize=8)
    ax.spines[["top", "right", "left"]].set_visible(False)


def _draw_genes(ax, coords: pd.DataFrame, chrom: str, lo: int, hi: int, focus: str) -> None:
    here = coords[
        (coords["chrom"].astype(str) == chrom) & (coords["end"] >= lo) & (coords["start"] <= hi)
    ]
    here = here[here["start"] >= 0].sort_values("start")
    crowded = len(here) > 12  # then only the linked gene is named
    for i, (name, row) in enumerate(here.iterrows()):
        y = 0.15 + 0.3 * (i % 3)
        colour = "#1f4e9c" if name == focus else "#555555"
        ax.plot([max(row["start"], lo), min(row["end"], hi)], [y, y], color=colour, lw=3)
        arrow = 1 if row["strand"] != "-" else -1
        ax.annotate(
            "",
            xy=(row["tss"] + arrow * (hi - lo) / 60, y),
            xytext=(row["tss"], y),
            arrowprops={"arrowstyle": "->", "color": colour, "lw": 1},
        )
        if crowded and name != focus:
            continue
        ax.text(
            min(max(row["tss"], lo), hi),
            y + 0.12,
            str(name),
            fontsize=7,
            color=colour,
            ha="center",
            fontweight="bold" if name == focus else "normal",
        )
    ax.set_ylim(0, 1.1)
    ax.set_yticks([])
    ax.set_ylabel("genes", rotation=0, ha="right", va="center", fontsize=8)
    ax.spines[["top", "right", "left"]].set_visible(False)


#: |link_score| (log posterior odds) at which an arc's colour saturates: odds of e^10, a
#: posterior probability of a link above 0.9999, the same on every gene's plot
SCORE_COLOUR_LIMIT = 10.0


def _draw_arcs(ax, table: pd.DataFrame, tss: int) -> None:
    score = table["link_score"].to_numpy(np.float64)
    finite = np.isfinite(score)
    # colours saturate at SCORE_COLOUR_LIMIT: one promoter link with log odds in the hundreds
    # would otherwise leave every other arc the same pale shade
    norm = plt.Normalize(-SCORE_COLOUR_LIMIT, SCORE_COLOUR_LIMIT, clip=True)
    cmap = plt.get_cmap("RdBu_r")
    called = table["called"].to_numpy()
    centre = ((table["start"] + table["end"]) / 2).to_numpy()
    order = np.argsort(np.where(finite, score, -np.inf))  # strongest drawn last, on top
    widest = max(float(np.abs(centre - tss).max()) if centre.size else 1.0, 1.0)
    for i in order:
        width = max(abs(centre[i] - tss), widest / 200)  # a promoter peak: a small arc
        ax.add_patch(
            Arc(
                ((centre[i] + tss) / 2, 0),
                width,
                max(1.8 * width / widest, 0.12),  # as Signac: the farther, the higher
                theta1=180,
                theta2=360,
                color=cmap(norm(score[i])) if finite[i] else "#dddddd",
                lw=2.2 if called[i] else 0.6,
                alpha=1.0 if called[i] else 0.5,
            )
        )
    ax.set_ylim(-1.0, 0.05)
    ax.set_yticks([])
    ax.set_ylabel("links", rotation=0, ha="right", va="center", fontsize=8)
    ax.spines[["top", "right", "left"]].set_visible(False)
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    bar = ax.figure.colorbar(
        mappable, ax=ax, orientation="horizontal", fraction=0.08, pad=0.35, extend="both"
    )
    bar.set_label("link_score (log odds of a link); thick = called", fontsize=8)


def link_heatmap(mdata, links: pd.DataFrame, groupby: str, *, top: int = 50, group: str = "all"):
    """ArchR-style peak-to-gene heatmap of the ``top`` called links (by ``link_score``)."""
    table = _population(links, group)
    chosen = table[table["called"]].nlargest(top, "link_score")
    if chosen.empty:
        raise InputError("no link is called, so there is no heatmap of links to draw")
    labels = _labels(mdata, groupby)
    groups = sorted(pd.unique(labels.dropna()), key=natural_key)
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    genes = group_means(rna, rna.var_names.get_indexer(chosen["gene"].astype(str)), labels, groups)
    peaks = group_means(
        atac, atac.var_names.get_indexer(chosen["peak"].astype(str)), labels, groups
    )
    genes, peaks = _row_z(genes.T), _row_z(peaks.T)
    order = np.lexsort((-genes.max(axis=1), genes.argmax(axis=1)))
    genes, peaks = genes[order], peaks[order]
    names = (chosen["gene"].astype(str) + "  " + chosen["peak"].astype(str)).to_numpy()[order]
    height = max(3.0, 0.16 * len(chosen) + 1.5)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, height), sharey=True)
    for ax, values, title, cmap in (
        (left, genes, "gene expression", "viridis"),
        (right, peaks, "peak accessibility", "magma"),
    ):
        image = ax.imshow(values, aspect="auto", cmap=cmap, vmin=-2, vmax=2)
        ax.set_xticks(range(len(groups)), [str(g) for g in groups], rotation=90, fontsize=7)
        ax.set_title(title, fontsize=10)
    left.set_yticks(range(len(names)), names if len(names) <= 60 else [""] * len(names), fontsize=6)
    bar = fig.colorbar(image, ax=[left, right], fraction=0.03)
    bar.set_label("z-score across groups", fontsize=8)
    fig.suptitle(f"top {len(chosen)} called links ({group}) by link_score", fontsize=10)
    return fig


def _row_z(values: np.ndarray) -> np.ndarray:
    sd = values.std(axis=1, keepdims=True)
    return np.divide(
        values - values.mean(axis=1, keepdims=True), sd, out=np.zeros_like(values), where=sd > 0
    )
