"""Genomic context of perturbation results: nearest genes and distances to a TSS.

The link files (TSV, BEDPE, Signac-style) are written by :mod:`genepeak.outputs`.

Gene coordinates come from :func:`genepeak.io.annotation.gene_coordinates`, peak coordinates
and centres from :func:`genepeak.io.peaks.peak_coordinates` / :func:`~genepeak.io.peaks.peak_centres`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genepeak.io.peaks import peak_centres, peak_coordinates
from genepeak.links.baselines import tss_distance


def nearest_genes(peaks: pd.DataFrame, genes: pd.DataFrame) -> pd.DataFrame:
    """Nearest gene TSS to each peak's midpoint: columns ``nearest_gene``, ``nearest_gene_distance``."""
    mid = ((peaks["start"].to_numpy() + peaks["end"].to_numpy()) // 2).astype(np.int64)
    nearest = np.full(len(peaks), "", dtype=object)
    distance = np.full(len(peaks), -1, dtype=np.int64)
    known = genes[genes["tss"] >= 0]
    for chrom, group in known.groupby("chrom", sort=False):
        rows = np.flatnonzero(peaks["chrom"].to_numpy() == chrom)
        if rows.size == 0:
            continue
        order = np.argsort(group["tss"].to_numpy(), kind="stable")
        tss = group["tss"].to_numpy()[order]
        names = group.index.to_numpy()[order]
        pos = np.searchsorted(tss, mid[rows])
        left = np.clip(pos - 1, 0, tss.size - 1)
        right = np.clip(pos, 0, tss.size - 1)
        use_right = np.abs(tss[right] - mid[rows]) < np.abs(tss[left] - mid[rows])
        best = np.where(use_right, right, left)
        nearest[rows] = names[best]
        distance[rows] = np.abs(tss[best] - mid[rows])
    return pd.DataFrame(
        {"nearest_gene": nearest, "nearest_gene_distance": distance}, index=peaks.index
    )


def distance_to_tss(peaks: pd.DataFrame, chrom: str, tss: int) -> np.ndarray:
    """Peak midpoint minus gene TSS in bp (genomic, not strand, orientation); NaN off-chromosome."""
    mid = (peaks["start"].to_numpy() + peaks["end"].to_numpy()) // 2
    return tss_distance(peaks["chrom"].to_numpy(), mid, chrom, tss)


def distance_context(atac_var, peaks, genes_coords, genes, null_sets, model_genes, window) -> dict:
    """Distances of every peak to the perturbed genes' TSS and to each null set's genes.

    Each peak takes the distance to the nearest TSS of the set's genes; ``in_window`` marks
    those within ``window`` bp.
    """
    peak_chrom, peak_centre = peak_centres(atac_var, peaks)

    def nearest(names: list[str]) -> np.ndarray:
        rows = []
        for g in names:
            tss = int(genes_coords.at[g, "tss"]) if g in genes_coords.index else -1
            chrom = str(genes_coords.at[g, "chrom"]) if g in genes_coords.index else ""
            rows.append(tss_distance(peak_chrom, peak_centre, chrom, tss))
        stacked = np.vstack(rows)
        size = np.where(np.isnan(stacked), np.inf, np.abs(stacked))
        return stacked[np.argmin(size, axis=0), np.arange(stacked.shape[1])]

    target = nearest(genes)
    nulls = (
        np.vstack([nearest([model_genes[j] for j in s]) for s in null_sets])
        if len(null_sets)
        else np.zeros((0, len(peaks)))
    )
    inside = lambda d: np.abs(np.nan_to_num(d, nan=np.inf)) <= window  # noqa: E731
    return {
        "distance": target,
        "null_distance": nulls,
        "in_window": inside(target),
        "null_in_window": inside(nulls),
    }


def add_context(table, atac_var, genes_coords, genes) -> pd.DataFrame:
    """The table with each peak's coordinates, nearest gene and distance to the genes' TSS."""
    table = table.copy()
    coords = peak_coordinates(atac_var, source="atac.var").loc[table["peak"]]
    table["chrom"] = coords["chrom"].to_numpy()
    table["start"] = coords["start"].to_numpy()
    table["end"] = coords["end"].to_numpy()
    near = nearest_genes(coords, genes_coords)
    table["nearest_gene"] = near["nearest_gene"].to_numpy()
    table["nearest_gene_distance"] = near["nearest_gene_distance"].to_numpy()
    distances = [
        distance_to_tss(coords, genes_coords.at[g, "chrom"], int(genes_coords.at[g, "tss"]))
        for g in genes
    ]
    stacked = np.vstack(distances)
    with np.errstate(all="ignore"):
        pick = np.nanargmin(np.where(np.isnan(stacked), np.inf, np.abs(stacked)), axis=0)
    table["distance_to_tss"] = stacked[pick, np.arange(stacked.shape[1])]
    return table
