"""Genomic context of perturbation results: nearest genes and distances to a TSS.

The link files (TSV, BEDPE, Signac-style) are written by :mod:`genepeak.outputs`.

Gene TSS come from ``rna.var`` (``tss``; else the ``start``/``end`` interval and strand; else a
10x ``interval`` column ``chr1:100-200``) and, for genes without coordinates, from a gene
annotation TSV (columns ``gene``/``symbol``, ``chrom``, ``start``, ``end``[, ``strand``, ``tss``]).
Peaks are parsed from ``atac.var`` (``chrom``/``start``/``end``) or their names
(``chr1:100-200``, ``chr1-100-200``, ``chr1_100_200``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from genepeak.errors import InputError

_PEAK_NAME = re.compile(
    r"^(?P<chrom>[^:_\-]+(?:_[^:_\-]+)*?)[:_\-](?P<start>\d+)[\-_](?P<end>\d+)$"
)


def peak_coordinates(atac_var: pd.DataFrame, peaks: list[str] | None = None) -> pd.DataFrame:
    """``chrom``, ``start``, ``end`` of each peak (index = peak name), from var or names."""
    names = pd.Index([str(p) for p in (peaks if peaks is not None else atac_var.index)])
    if {"chrom", "start", "end"} <= set(atac_var.columns):
        coords = atac_var.loc[names, ["chrom", "start", "end"]].copy()
        coords["chrom"] = coords["chrom"].astype(str)
        coords[["start", "end"]] = coords[["start", "end"]].astype(np.int64)
        return coords
    rows = []
    for name in names:
        match = _PEAK_NAME.match(name)
        if match is None:
            raise InputError(
                f"peak name {name!r} is not in a recognised format (chr1:100-200, chr1-100-200 "
                "or chr1_100_200) and atac.var has no chrom/start/end columns"
            )
        rows.append((match["chrom"], int(match["start"]), int(match["end"])))
    return pd.DataFrame(rows, index=names, columns=["chrom", "start", "end"])


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
    mid = (peaks["start"].to_numpy() + peaks["end"].to_numpy()) / 2.0
    out = np.where(peaks["chrom"].to_numpy() == chrom, np.floor(mid) - tss, np.nan)
    if tss < 0:
        out[:] = np.nan
    return out
