"""A tiny prepared MuData that follows docs/architecture.md (importable from any test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


def make_prepared_mdata(
    n_cells: int = 240, n_genes: int = 60, n_peaks: int = 90, n_types: int = 4, seed: int = 0
):
    """A small paired MuData with the prepared layout and real gene -> peak structure.

    Cell types drive gene programs; each of the first ``n_genes // 2`` genes opens two peaks
    in proportion to its own expression, so translation models have something to learn.
    """
    import anndata as ad
    import mudata as md

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_types, n_cells)
    type_means = rng.gamma(0.6, 2.0, size=(n_types, n_genes))
    cell_var = rng.gamma(4.0, 0.25, size=(n_cells, n_genes))
    rate = type_means[labels] * cell_var
    library = rng.lognormal(0.0, 0.3, n_cells)[:, None]
    counts_rna = rng.poisson(rate * library * 3).astype(np.float32)

    log_expr = np.log1p(rate)
    logits = rng.normal(-2.0, 0.5, size=(n_cells, n_peaks))
    for g in range(n_genes // 2):
        for p in (2 * g, 2 * g + 1):
            if p < n_peaks:
                logits[:, p] += 2.5 * (log_expr[:, g] - log_expr[:, g].mean())
    prob = 1.0 / (1.0 + np.exp(-logits))
    counts_atac = (rng.random((n_cells, n_peaks)) < prob).astype(np.float32)
    counts_atac *= rng.integers(1, 3, size=counts_atac.shape)

    barcodes = [f"AAAC{i:06d}-1" for i in range(n_cells)]
    total = counts_rna.sum(1) + 1.0
    size_factor = total / np.median(total)
    rna = ad.AnnData(
        X=sp.csr_matrix(np.log1p(counts_rna / size_factor[:, None]).astype(np.float32)),
        obs=pd.DataFrame(
            {
                "total_counts": total,
                "n_genes_by_counts": (counts_rna > 0).sum(1),
                "size_factor": size_factor,
                "leiden": pd.Categorical([str(x) for x in labels]),
            },
            index=barcodes,
        ),
        var=pd.DataFrame(
            {
                "gene_ids": [f"ENSG{i:011d}" for i in range(n_genes)],
                "chrom": "chr1",
                "start": np.arange(n_genes) * 200_000 + 10_000,
                "end": np.arange(n_genes) * 200_000 + 30_000,
                "strand": "+",
                "tss": np.arange(n_genes) * 200_000 + 10_000,
                "highly_variable": True,
            },
            index=[f"GENE{i}" for i in range(n_genes)],
        ),
    )
    rna.layers["counts"] = sp.csr_matrix(counts_rna)
    rna.uns["target_sum"] = float(np.median(total))
    peak_start = np.arange(n_peaks) // 2 * 200_000 + 10_000 + (np.arange(n_peaks) % 2) * 5_000
    peak_names = [f"chr1:{s}-{s + 500}" for s in peak_start]
    atac = ad.AnnData(
        X=sp.csr_matrix(np.log1p(counts_atac)),
        obs=pd.DataFrame({"total_counts": counts_atac.sum(1)}, index=barcodes),
        var=pd.DataFrame(
            {
                "chrom": "chr1",
                "start": peak_start,
                "end": peak_start + 500,
                "frac_cells": (counts_atac > 0).mean(0),
            },
            index=peak_names,
        ),
    )
    atac.layers["counts"] = sp.csr_matrix(counts_atac)
    mdata = md.MuData({"rna": rna, "atac": atac})
    mdata.obs["leiden"] = rna.obs["leiden"].values
    mdata.uns["genepeak"] = {"source": "tests/conftest.py"}
    return mdata


def gene_var() -> pd.DataFrame:
    """Four genes' coordinates as ``rna.var`` holds them: + strand, - strand without a TSS,
    another chromosome, and one without any coordinate."""
    return pd.DataFrame(
        {
            "chrom": ["chr1", "chr1", "chr2", "chr1"],
            "start": [1000, 50_000, 7000, -1],
            "end": [2000, 60_000, 9000, -1],
            "strand": ["+", "-", "+", "."],
            "tss": [1000, -1, 7000, -1],
        },
        index=["A", "B", "C", "D"],
    )
