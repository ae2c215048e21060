"""Fragments-only input on the real PBMC 1k-marker subset: an RNA-only 10x h5 plus the real
fragments, prepared with MACS3 peak calling (or with ARC's atac_peaks.bed), compared with
Cell Ranger ARC's own peak matrix of the same cells."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import mudata as md
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from extras import requires_snapatac2
from genepeak.config import PrepareConfig
from genepeak.io.fragments import count_cut_sites
from genepeak.io.peaks import overlaps_any, parse_peak_names
from genepeak.io.tenx_write import write_10x_h5
from genepeak.prepare.pipeline import prepare

pytestmark = pytest.mark.realdata
FAST = dict(n_top_genes=20, compute_umap=False, run_scrublet=False)


@pytest.fixture(scope="module")
def arc_subset():
    folder = Path(__file__).resolve().parents[2].parent / "shared/data/pbmc_multiome_1k_markers"
    if not folder.is_dir():
        pytest.skip(f"real data not available: {folder} is absent (see shared/data/README.md)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arc = md.read_h5mu(folder / "pbmc_1k_markers.h5mu")
    return folder, arc


@pytest.fixture(scope="module")
def rna_only_outs(arc_subset, tmp_path_factory):
    """An ARC-like outs folder without a peak matrix: RNA-only h5 + the real fragments."""
    folder, arc = arc_subset
    rna = arc.mod["rna"]
    features = pd.DataFrame(
        {
            "id": rna.var["gene_ids"].astype(str).to_numpy(),
            "name": rna.var_names.to_numpy(),
            "feature_type": "Gene Expression",
            "genome": "GRCh38",
            "interval": rna.var["interval"].astype(str).to_numpy(),
        }
    )
    outs = tmp_path_factory.mktemp("rna_only")
    counts = sp.csr_matrix(rna.X).astype(np.int64)
    write_10x_h5(outs / "filtered_feature_bc_matrix.h5", counts, list(rna.obs_names), features)
    for name in ("atac_fragments.tsv.gz", "atac_fragments.tsv.gz.tbi"):
        os.symlink(folder / name, outs / name)  # linked, never copied
    return outs


def covered_arc_peaks(arc_subset):
    """ARC peaks and which of them the fragments subset (+-5 kb around markers) covers."""
    folder, arc = arc_subset
    peaks = parse_peak_names(arc.mod["atac"].var_names).reset_index(drop=True)
    ours = count_cut_sites(folder / "atac_fragments.tsv.gz", peaks, list(arc.obs_names))
    return peaks, np.asarray(ours.sum(axis=0)).ravel() > 0


@requires_snapatac2
def test_fragments_only_calls_peaks_that_match_arc(arc_subset, rna_only_outs, tmp_path):
    folder, arc = arc_subset
    out = tmp_path / "called.h5mu"
    mdata = prepare(
        rna_only_outs / "filtered_feature_bc_matrix.h5",
        PrepareConfig(**FAST, genome="hg38"),
        out=out,
        fragments=folder / "atac_fragments.tsv.gz",
    )
    info = mdata.uns["genepeak"]
    assert info["peaks_called"] and out.is_file()
    assert mdata.n_obs == 922  # the same cells as with the ARC matrix (same QC metrics)
    atac = mdata.mod["atac"]
    assert len(info["peak_frac_before"]) == 160  # MACS3 peaks, merged to 501 bp
    assert (atac.var["end"] - atac.var["start"] == 501).all()
    assert atac.n_vars == 115  # open in >= 3 % of the cells
    arc_peaks, covered = covered_arc_peaks(arc_subset)
    assert covered.sum() == 136
    # every called peak lies on an ARC peak; MACS3 finds the strongest covered ARC peaks
    assert overlaps_any(atac.var, arc_peaks).all()
    found = overlaps_any(arc_peaks[covered], atac.var)
    assert found.sum() == 79
    strong = covered & (np.asarray((arc.mod["atac"].X > 0).mean(axis=0)).ravel() >= 0.1)
    assert overlaps_any(arc_peaks[strong], atac.var).mean() > 0.9
    # per cell, a called peak's cut sites follow ARC's counts in the peak(s) it overlaps
    arc_counts = sp.csc_matrix(arc.mod["atac"][atac.obs_names].X)
    called = sp.csc_matrix(atac.layers["counts"])
    pearson = []
    for j, (chrom, start, end) in enumerate(atac.var[["chrom", "start", "end"]].to_numpy()):
        hit = np.flatnonzero(
            (arc_peaks["chrom"] == chrom) & (arc_peaks["start"] < end) & (arc_peaks["end"] > start)
        )
        ours = called[:, j].toarray().ravel()
        theirs = np.asarray(arc_counts[:, hit].sum(axis=1)).ravel()
        pearson.append(np.corrcoef(ours, theirs)[0, 1])
    assert np.median(pearson) > 0.7  # 0.71: 501 bp summit windows vs ARC peaks of any width


@requires_snapatac2
def test_outs_without_matrix_counts_arc_peaks_exactly(arc_subset, rna_only_outs, tmp_path):
    """With ARC's atac_peaks.bed next to the fragments, its peaks are counted, not called."""
    _, arc = arc_subset
    outs = tmp_path / "outs"
    outs.mkdir()
    for path in rna_only_outs.iterdir():
        os.symlink(path.resolve(), outs / path.name)
    arc_peaks, covered = covered_arc_peaks(arc_subset)
    arc_peaks.to_csv(outs / "atac_peaks.bed", sep="\t", header=False, index=False)
    config = PrepareConfig(**FAST, min_peak_fraction=0.0, standard_chromosomes_only=False)
    mdata = prepare(outs, config)
    atac = mdata.mod["atac"]
    assert not mdata.uns["genepeak"]["peaks_called"] and mdata.n_obs == 922
    assert atac.var_names.tolist() == arc.mod["atac"].var_names.tolist()
    ours = atac.layers["counts"].toarray()
    theirs = arc.mod["atac"][atac.obs_names].X.toarray()
    exact = (ours == theirs).all(axis=0) & covered
    # the same 121 of 136 covered peaks as the cut-site rule on all 1000 cells
    # (tests/io/test_fragments.py); elsewhere the subset misses cut sites, never adds one
    assert exact.sum() == 121
    assert (ours[:, covered] <= theirs[:, covered]).all()
