"""A small seeded Cell Ranger ARC dataset with planted QC failures, for prepare tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

N_CELLS = 150
HIGH_MT_CELLS = (3, 40, 77)  # > 25 % of their counts on MT- genes
FEW_GENES_CELLS = (10, 90)  # fewer than 100 genes detected
SPECIAL_GENES = ["MT-CO1", "MT-ND1", "RPL3", "RPS6", "HBB", "HBA1", "HBP1"]
NON_STANDARD_PEAKS = ["chrM:100-600", "chrUn_KI270742v1:1000-1500"]


def make_arc_counts(seed: int = 0):
    """Counts, barcodes, features of a 3-type RNA+ATAC dataset (150 cells, 400 genes, 300 peaks)."""
    rng = np.random.default_rng(seed)
    n_genes, n_peaks = 400, 300
    types = np.repeat(np.arange(3), N_CELLS // 3)
    gene_means = rng.gamma(0.8, 1.0, size=(3, n_genes))
    gene_means[:, :7] = [0.3, 0.3, 1.0, 1.0, 0.05, 0.05, 0.05]  # MT, ribo, HB, HBP: modest
    rna = rng.poisson(gene_means[types] * rng.lognormal(0, 0.2, (N_CELLS, 1)) * 2)
    for cell in HIGH_MT_CELLS:
        rna[cell, :2] = rna[cell].sum()  # two MT genes now hold 2/3 of the counts
    for cell in FEW_GENES_CELLS:
        rna[cell, 50:] = 0
    peak_prob = rng.beta(0.5, 3.0, size=(3, n_peaks))
    peak_prob[:, :20] = 0.005  # rarely open: below the 3 % threshold in expectation
    atac = (rng.random((N_CELLS, n_peaks)) < peak_prob[types]) * rng.integers(
        1, 3, (N_CELLS, n_peaks)
    )
    atac[:, -2:] = 1  # the two non-standard peaks are open everywhere
    gene_names = SPECIAL_GENES + [f"GENE{i}" for i in range(len(SPECIAL_GENES), n_genes)]
    peak_names = [f"chr{1 + i % 2}:{10_000 * i}-{10_000 * i + 500}" for i in range(n_peaks - 2)]
    peak_names += NON_STANDARD_PEAKS
    features = pd.DataFrame(
        {
            "id": [f"ENSG{i:011d}" for i in range(n_genes)] + peak_names,
            "name": gene_names + peak_names,
            "feature_type": ["Gene Expression"] * n_genes + ["Peaks"] * n_peaks,
            "genome": "GRCh38",
            "interval": [f"chr1:{5_000 * i}-{5_000 * i + 2_000}" for i in range(n_genes)]
            + peak_names,
        }
    )
    barcodes = [f"{''.join(rng.choice(list('ACGT'), 16))}-1" for _ in range(N_CELLS)]
    counts = sp.csr_matrix(np.hstack([rna, atac]).astype(np.int64))
    return counts, barcodes, features, types
