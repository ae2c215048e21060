"""A tiny paired MuData whose gene -> peak answers are known, for the link scorers and metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

TSS_A = 1_000_000
#: peak names of the known answers for gene GA (chr1, TSS 1,000,000, + strand)
COPY = "chr1:1009750-1010250"  # follows GA cell by cell within types, 10 kb from the TSS
TYPE_ONLY = "chr1:1019750-1020250"  # follows only GA's cell-type means, 20 kb away
FAR_COPY = "chr1:1699750-1700250"  # follows GA within types, 700 kb away (outside 500 kb)


def make_link_mdata(n_per_type: int = 200, n_background: int = 300, seed: int = 0):
    """Three cell types; genes GA (chr1), GB (chr2) and GX (no coordinates); 303+ peaks.

    Background peaks on chr2-chr4 have random accessibility, widths and type effects.
    """
    import anndata as ad
    import mudata as md

    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(3), n_per_type)
    n = codes.size
    type_means = np.array([0.4, 1.4, 2.4])
    within_a = rng.normal(0.0, 0.5, n)
    expr = np.column_stack(
        [
            np.clip(type_means[codes] + within_a, 0, None),
            np.clip(rng.normal(1.0, 0.5, n) + 0.3 * codes, 0, None),
            np.clip(rng.normal(1.0, 0.5, n), 0, None),
        ]
    )
    own_type = rng.normal(0.0, 0.6, (3, 3))  # type effects of COPY, TYPE_ONLY, FAR_COPY
    log_rate = np.column_stack(
        [
            0.3 + 1.2 * within_a + own_type[0, codes],
            0.3 + 0.9 * (type_means[codes] - type_means.mean()),
            0.3 + 1.2 * within_a + own_type[2, codes],
        ]
    )
    base = rng.normal(-0.5, 1.0, n_background)
    bg_type = rng.normal(0.0, 0.5, (3, n_background))
    log_rate = np.column_stack([log_rate, base[None, :] + bg_type[codes]])
    counts = rng.poisson(np.exp(log_rate)).astype(np.float32)
    starts = np.concatenate(
        [[1_009_750, 1_019_750, 1_699_750], 10_000 + 20_000 * np.arange(n_background)]
    )
    widths = np.concatenate([[500, 500, 500], rng.choice([300, 500, 800, 1200], n_background)])
    chroms = ["chr1"] * 3 + [f"chr{2 + i % 3}" for i in range(n_background)]
    names = [f"{c}:{s}-{s + w}" for c, s, w in zip(chroms, starts, widths)]
    barcodes = [f"CELL{i:05d}-1" for i in range(n)]
    labels = pd.Categorical([f"type{c}" for c in codes])
    rna = ad.AnnData(
        X=sp.csr_matrix(expr.astype(np.float32)),
        obs=pd.DataFrame({"leiden": labels}, index=barcodes),
        var=pd.DataFrame(
            {
                "chrom": ["chr1", "chr2", ""],
                "start": [TSS_A, 5_000_000, -1],
                "end": [TSS_A + 20_000, 5_020_000, -1],
                "strand": ["+", "+", "."],
                "tss": [TSS_A, 5_000_000, -1],
            },
            index=["GA", "GB", "GX"],
        ),
    )
    atac = ad.AnnData(
        X=sp.csr_matrix(np.log1p(counts)),
        obs=pd.DataFrame(index=barcodes),
        var=pd.DataFrame({"chrom": chroms, "start": starts, "end": starts + widths}, index=names),
    )
    atac.layers["counts"] = sp.csr_matrix(counts)
    # the RNA PCs of preparation: here the cell types and some noise
    rna.obsm["X_pca"] = np.column_stack([type_means[codes], rng.normal(0, 1, (n, 2))])
    mdata = md.MuData({"rna": rna, "atac": atac})
    mdata.obs["leiden"] = labels
    return mdata
