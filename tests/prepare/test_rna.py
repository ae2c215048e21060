"""RNA QC metrics, thresholds, normalisation and the histogram-minimum doublet threshold."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from genepeak.config import PrepareConfig
from genepeak.errors import InputError
from genepeak.prepare.rna import (
    gene_sets,
    histogram_minimum,
    normalise,
    qc_filter,
    qc_metrics,
)


def test_gene_sets_exclude_hbp():
    names = pd.Index(
        [
            "MT-CO1",
            "mt-nd1",
            "RPL3",
            "RPS6",
            "RPLP0",
            "RPS27A",
            "RPL13A",
            "RPSA",
            "RPS6KA1",
            "RPS6KB2",
            "HBB",
            "HBA1",
            "HBG2",
            "HBP1",
            "HBEGF",
            "HBS1L",
            "CD3E",
        ]
    )
    sets = gene_sets(names)
    assert names[sets["mt"]].tolist() == ["MT-CO1", "mt-nd1"]
    assert names[sets["ribo"]].tolist() == ["RPL3", "RPS6", "RPLP0", "RPS27A", "RPL13A", "RPSA"]
    assert names[sets["hb"]].tolist() == ["HBB", "HBA1", "HBG2"]


def test_qc_metrics_hand_computed():
    names = pd.Index(["MT-CO1", "RPL3", "HBB", "HBP1", "CD3E"])
    counts = sp.csr_matrix(np.array([[5, 10, 0, 3, 2], [0, 0, 4, 0, 4]], dtype=np.float32))
    qc = qc_metrics(counts, names, pd.Index(["a", "b"]))
    assert qc["total_counts"].tolist() == [20, 8]
    assert qc["n_genes_by_counts"].tolist() == [4, 2]
    assert qc["pct_counts_mt"].tolist() == [25.0, 0.0]
    assert qc["pct_counts_ribo"].tolist() == [50.0, 0.0]
    assert qc["pct_counts_hb"].tolist() == [0.0, 50.0]  # HBP1 is not a haemoglobin gene


def test_qc_filter_fixed_thresholds_and_zero_cells_message():
    qc = pd.DataFrame(
        {
            "total_counts": [1000, 1000, 1000],
            "n_genes_by_counts": [500, 50, 500],
            "pct_counts_mt": [10.0, 10.0, 30.0],
            "pct_counts_ribo": [5.0, 5.0, 5.0],
            "pct_counts_hb": [0.0, 0.0, 0.0],
        }
    )
    fixed = PrepareConfig(qc_mode="fixed")
    assert qc_filter(qc, fixed).tolist() == [True, False, False]
    relaxed = PrepareConfig(qc_mode="fixed", max_pct_mt=40, min_genes_per_cell=10)
    assert qc_filter(qc, relaxed).tolist() == [True] * 3
    strict = PrepareConfig(qc_mode="fixed", max_pct_mt=5.0)
    with pytest.raises(
        InputError,
        match=r"zero cells left after QC \(3 cells in\). Per rule: pct_counts_mt <= 5: 3 fail; "
        r"pct_counts_ribo <= 15: 0 fail; n_genes_by_counts >= 100: 1 fail.*Relax",
    ):
        qc_filter(qc, strict)


def test_qc_metrics_equal_the_hand_computed_definition():
    """scanpy's calculate_qc_metrics gives exactly the definitions of docs/architecture.md."""
    rng = np.random.default_rng(1)
    names = pd.Index(["MT-CO1", "MT-ND1", "RPL3", "RPS6", "HBB"] + [f"G{i}" for i in range(45)])
    counts = sp.csr_matrix(rng.poisson(0.8, (40, 50)).astype(np.float32))
    qc = qc_metrics(counts, names, pd.Index([f"c{i}" for i in range(40)]))
    dense = counts.toarray().astype(np.float64)
    total = dense.sum(axis=1)
    np.testing.assert_array_equal(qc["total_counts"], total)
    np.testing.assert_array_equal(qc["n_genes_by_counts"], (dense > 0).sum(axis=1))
    np.testing.assert_allclose(qc["pct_counts_mt"], 100 * dense[:, :2].sum(axis=1) / total)
    np.testing.assert_allclose(qc["pct_counts_ribo"], 100 * dense[:, 2:4].sum(axis=1) / total)


def test_normalise_to_median_library():
    counts = sp.csr_matrix(np.array([[1, 3], [2, 2], [0, 10]], dtype=np.float32))
    adata = ad.AnnData(X=counts.copy())
    adata.layers["counts"] = counts
    normalise(adata)
    # totals 4, 4, 10 -> median 4 -> size factors 1, 1, 2.5
    assert adata.uns["target_sum"] == 4.0
    assert adata.obs["size_factor"].tolist() == [1.0, 1.0, 2.5]
    expected = np.log1p(np.array([[1, 3], [2, 2], [0, 4]], dtype=np.float32))
    assert sp.isspmatrix_csr(adata.X) and adata.X.dtype == np.float32
    np.testing.assert_allclose(adata.X.toarray(), expected, rtol=1e-6)


def test_histogram_minimum_finds_the_valley():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0.1, 0.03, 2000), rng.normal(0.6, 0.05, 500)])
    threshold = histogram_minimum(values)
    assert 0.2 < threshold < 0.5
    assert histogram_minimum(rng.normal(0, 1, 5)) is None  # too few values
    assert histogram_minimum(np.full(100, 0.3)) is None  # no spread
