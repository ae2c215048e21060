"""ATAC preparation: peak coordinates, standard chromosomes, blacklist, open-fraction filter,
log1p; optional peak calling from fragments (snapatac2 / MACS3) with cut-site counting."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from genepeak._utils import log
from genepeak.config import PrepareConfig
from genepeak.errors import InputError
from genepeak.io.fragments import count_cut_sites
from genepeak.io.genome import get_genome
from genepeak.io.peaks import (
    is_standard_chromosome,
    overlaps_any,
    peak_coordinates,
    peak_names,
    read_bed,
    require_ucsc,
)
from genepeak.io.prepared import positions


def open_fraction(
    counts: sp.csr_matrix, rows: np.ndarray | None = None, block: int = 4096
) -> np.ndarray:
    """Fraction of cells (all, or the positions ``rows``) in which each peak has a count > 0.

    Works through blocks of rows, so no copy of the matrix is made.
    """
    csr = sp.csr_matrix(counts)
    selected = np.ones(csr.shape[0], dtype=bool) if rows is None else np.zeros(csr.shape[0], bool)
    if rows is not None:
        selected[rows] = True
    n_cells = int(selected.sum())
    if n_cells == 0:
        return np.zeros(csr.shape[1])
    opened = np.zeros(csr.shape[1], dtype=np.int64)
    for start in range(0, csr.shape[0], block):
        stop = min(start + block, csr.shape[0])
        lo, hi = csr.indptr[start], csr.indptr[stop]
        row_of_entry = np.repeat(selected[start:stop], np.diff(csr.indptr[start : stop + 1]))
        use = row_of_entry & (csr.data[lo:hi] > 0)
        opened += np.bincount(csr.indices[lo:hi][use], minlength=csr.shape[1])
    return opened / n_cells


def prepare_atac(
    adata: ad.AnnData, config: PrepareConfig, source: str = "ATAC", cells: pd.Index | None = None
) -> tuple[ad.AnnData, np.ndarray]:
    """Filter peaks and normalise raw ATAC counts (X = counts).

    Parameters
    ----------
    adata
        Raw ATAC counts in X.
    config
        Peak filters.
    source
        Name used in error messages.
    cells
        The cells to keep (e.g. those passing RNA QC), in order; default all. Selecting them
        here, together with the peaks, avoids an intermediate copy of the matrix.

    Returns
    -------
    The prepared ATAC AnnData and the open fraction (over the kept cells) of every input peak
    before filtering.
    """
    rows = (
        np.arange(adata.n_obs)
        if cells is None
        else positions(adata.obs_names, cells, "requested cells", f"the {source} data")
    )
    counts = sp.csr_matrix(adata.X, dtype=np.float32)
    coords = peak_coordinates(adata.var, source=f"{source} peak names")
    frac_before = open_fraction(counts, rows)
    cols = np.flatnonzero(peaks_to_keep(coords, frac_before, config, source))
    kept = counts[rows][:, cols] if cells is not None else counts[:, cols]
    var = _kept_var(adata, coords, cols, frac_before[cols])
    atac = ad.AnnData(X=kept.copy(), obs=adata.obs.iloc[rows].copy(), var=var)
    atac.layers["counts"] = kept
    np.log1p(atac.X.data, out=atac.X.data)
    atac.obs["total_counts"] = np.asarray(kept.sum(axis=1)).ravel().astype(np.float64)
    atac.obs["n_peaks_by_counts"] = np.diff(kept.indptr).astype(np.int64)
    log(f"ATAC: {atac.n_vars} of {adata.n_vars} peaks kept")
    return atac, frac_before


def peaks_to_keep(
    coords: pd.DataFrame, frac_before: np.ndarray, config: PrepareConfig, source: str = "ATAC"
) -> np.ndarray:
    """Mask of the peaks passing the filters: standard chromosomes, blacklist, open fraction.

    Raises InputError when none passes.
    """
    keep = np.ones(len(coords), dtype=bool)
    if config.standard_chromosomes_only:
        require_ucsc(coords["chrom"], f"{source} peaks")
        genome = get_genome(config.genome or "hg38")
        keep &= is_standard_chromosome(coords["chrom"], genome.standard_chromosomes)
    if config.blacklist:
        blacklist = read_bed(config.blacklist, source=f"blacklist {config.blacklist}")
        listed = overlaps_any(coords, blacklist)
        log(f"ATAC: {int((listed & keep).sum())} peaks overlap the blacklist and are dropped")
        keep &= ~listed
    keep &= frac_before >= config.min_peak_fraction
    if not keep.any():
        raise InputError(
            f"{source}: no peak left after filtering ({len(coords)} peaks in; "
            f"{int((frac_before >= config.min_peak_fraction).sum())} open in >= "
            f"{config.min_peak_fraction:.0%} of cells). Lower PrepareConfig.min_peak_fraction "
            "or check the chromosome names"
        )
    return keep


def _kept_var(
    adata: ad.AnnData, coords: pd.DataFrame, cols: np.ndarray, frac_cells: np.ndarray
) -> pd.DataFrame:
    """var of the kept peaks: coordinates, open fraction, canonical (unique) names, then the
    input's other columns."""
    var = coords.iloc[cols].reset_index(drop=True)
    var["frac_cells"] = frac_cells
    var.index = peak_names(var)
    if var.index.has_duplicates:
        var.index = pd.Index(ad.utils.make_index_unique(var.index))
    extra = [c for c in adata.var.columns if c not in var.columns and c not in ("chr",)]
    for column in extra:
        var[column] = adata.var[column].to_numpy()[cols]
    return var


def call_peaks(
    fragments_path: str | Path,
    barcodes: Sequence[str],
    qvalue: float = 0.05,
    n_jobs: int = 1,
    genome: str = "hg38",
) -> pd.DataFrame:
    """Call peaks from a fragments file with snapatac2 (MACS3) over all given cells.

    ``genome`` (hg38, hg19, mm10, GRCm39) sets the genome size and the chromosomes.
    ``n_jobs`` is kept for compatibility: one pseudobulk is called in this process.

    Returns
    -------
    DataFrame of merged, fixed-width (501 bp) peaks: ``chrom``, ``start``, ``end``.
    """
    from genepeak.io.genome import get_genome
    from genepeak.prepare.atac_qc import call_peaks_on, import_fragments

    path = Path(fragments_path)
    with tempfile.TemporaryDirectory(prefix="genepeak_peaks_") as tmp:
        data, ensembl = import_fragments(path, list(barcodes), get_genome(genome), tmp)
        peaks = call_peaks_on(data, get_genome(genome), ensembl, qvalue)
    if peaks.empty:
        raise InputError(f"MACS3 called no peak from {path}; check the fragments and barcodes")
    log(f"called {len(peaks)} peaks from {path.name}")
    return peaks


def atac_from_fragments(
    fragments_path: str | Path,
    barcodes: Sequence[str],
    peaks: pd.DataFrame | None = None,
    genome: str = "hg38",
    qvalue: float = 0.05,
) -> ad.AnnData:
    """Cell x peak counts from fragments: call peaks (when ``peaks`` is None) and count cut sites."""
    if peaks is None:
        peaks = call_peaks(fragments_path, barcodes, qvalue=qvalue, genome=genome)
    counts = count_cut_sites(fragments_path, peaks, barcodes)
    var = peaks[["chrom", "start", "end"]].reset_index(drop=True)
    var.index = peak_names(var)
    return ad.AnnData(
        X=counts, obs=pd.DataFrame(index=pd.Index(list(barcodes), dtype=str)), var=var
    )
