"""Genomic context of perturbation results and link files (TSV, BEDPE, Signac-style).

Gene TSS come from ``rna.var`` (``tss``; else the ``start``/``end`` interval and strand; else a
10x ``interval`` column ``chr1:100-200``) and, for genes without coordinates, from a gene
annotation TSV (columns ``gene``/``symbol``, ``chrom``, ``start``, ``end``[, ``strand``, ``tss``]).
Peaks are parsed from ``atac.var`` (``chrom``/``start``/``end``) or their names
(``chr1:100-200``, ``chr1-100-200``, ``chr1_100_200``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from genepeak._utils import atomic_path
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


# --------------------------------------------------------------------------- link files

LINK_COLUMNS = [
    "peak",
    "gene",
    "score",
    "direction",
    "p_value",
    "fdr",
    "effect_size",
    "zscore",
    "distance_to_tss",
    "nearest_gene",
    "nearest_gene_distance",
    "flip_frequency",
    "f_gain",
    "f_loss",
    "baseline",
    "mean_perturbed",
    "mean_shift",
    "shift",
    "noise_rate",
    "chrom",
    "start",
    "end",
]


def write_link_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the per-peak link table as TSV (documented columns first, extras after)."""
    cols = [c for c in LINK_COLUMNS if c in table] + [c for c in table if c not in LINK_COLUMNS]
    with atomic_path(path) as tmp:
        table[cols].to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    return Path(path)


def _one_gene_per_row(table: pd.DataFrame, genes: pd.DataFrame) -> pd.DataFrame:
    """Rows of a multi-gene perturbation ("A,B") split into one link per gene with a known TSS."""
    rows = table.assign(gene=table["gene"].astype(str).str.split(",")).explode("gene")
    rows["gene"] = rows["gene"].str.strip()
    return rows[rows["gene"].isin(genes.index[genes["tss"] >= 0])].reset_index(drop=True)


def _browser_score(score: np.ndarray) -> np.ndarray:
    """Scores scaled to integers 0-1000 (the strongest link 1000)."""
    score = np.clip(np.nan_to_num(np.asarray(score, np.float64)), 0.0, None)
    top = score.max() if score.size else 0.0
    return np.round(1000 * score / top).astype(int) if top > 0 else np.zeros(score.size, int)


def write_bedpe(table: pd.DataFrame, genes: pd.DataFrame, path: str | Path) -> Path:
    """BEDPE (IGV / UCSC interaction track): gene TSS (1 bp) paired with each linked peak.

    Links whose gene has no known TSS are left out. ``score`` is the table's score scaled so
    that the strongest link is 1000 (negative scores are 0), as browsers expect 0-1000.
    """
    rows = _one_gene_per_row(table, genes)
    gene = rows["gene"]
    tss = genes.loc[gene, "tss"].to_numpy()
    bedpe = pd.DataFrame(
        {
            "chrom1": genes.loc[gene, "chrom"].to_numpy(),
            "start1": tss,
            "end1": tss + 1,
            "chrom2": rows["chrom"].to_numpy(),
            "start2": rows["start"].to_numpy(),
            "end2": rows["end"].to_numpy(),
            "name": (gene + "|" + rows["peak"].astype(str) + "|" + rows["direction"]).to_numpy(),
            "score": _browser_score(rows["score"].to_numpy()),
            "strand1": genes.loc[gene, "strand"].replace({"": "."}).to_numpy(),
            "strand2": ".",
        }
    )
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write("#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tname\tscore\tstrand1\tstrand2\n")
            bedpe.to_csv(fh, sep="\t", header=False, index=False)
    return Path(path)


def write_signac_links(table: pd.DataFrame, genes: pd.DataFrame, path: str | Path) -> Path:
    """Signac ``Links()``-style TSV: one genomic span from the gene TSS to the peak midpoint.

    Columns as ``LinkPeaks`` returns them (1-based closed ``start``/``end``): seqnames, start,
    end, width, strand, score, gene, peak (``chr-start-end``), zscore, pvalue. In R:
    ``Links(obj) <- makeGRangesFromDataFrame(read.delim(path), keep.extra.columns = TRUE)``.
    """
    rows = _one_gene_per_row(table, genes)
    rows = rows[rows["chrom"].to_numpy() == genes.loc[rows["gene"], "chrom"].to_numpy()]
    tss = genes.loc[rows["gene"], "tss"].to_numpy()
    mid = ((rows["start"].to_numpy() + rows["end"].to_numpy()) // 2).astype(np.int64)
    start = np.minimum(tss, mid) + 1
    end = np.maximum(tss, mid) + 1
    signac = pd.DataFrame(
        {
            "seqnames": rows["chrom"].to_numpy(),
            "start": start,
            "end": end,
            "width": end - start + 1,
            "strand": "*",
            "score": rows["score"].to_numpy(),
            "gene": rows["gene"].to_numpy(),
            "peak": (
                rows["chrom"] + "-" + rows["start"].astype(str) + "-" + rows["end"].astype(str)
            ).to_numpy(),
            "zscore": rows["zscore"].to_numpy() if "zscore" in rows else np.nan,
            "pvalue": rows["p_value"].to_numpy() if "p_value" in rows else np.nan,
        }
    )
    with atomic_path(path) as tmp:
        signac.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    return Path(path)
