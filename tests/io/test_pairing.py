"""Pairing RNA and ATAC cells by barcode, raw-count validation, .h5mu / .h5ad inputs."""

from __future__ import annotations

import anndata as ad
import mudata as md
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from genepeak.errors import InputError
from genepeak.io.pairing import pair_modalities, raw_counts, read_h5ad, strip_modality_tag
from genepeak.prepare.pipeline import read_input


def make(barcodes, values, var_names=None):
    matrix = sp.csr_matrix(np.asarray(values, dtype=np.float32))
    var_names = var_names or [f"f{i}" for i in range(matrix.shape[1])]
    return ad.AnnData(X=matrix, obs=pd.DataFrame(index=barcodes), var=pd.DataFrame(index=var_names))


def test_strip_modality_tags():
    codes = ["AAAC-1_rna", "AAAC-1_atac", "AAAC-1-RNA", "atac_GGGT-1", "CCCT-1", "TTTA-1_s1d1"]
    assert strip_modality_tag(codes).tolist() == [
        "AAAC-1",
        "AAAC-1",
        "AAAC-1",
        "GGGT-1",
        "CCCT-1",
        "TTTA-1_s1d1",
    ]


def test_pairing_with_suffixes_keeps_rna_order():
    rna = make(["B-1_rna", "A-1_rna", "C-1_rna"], [[1, 0], [2, 0], [3, 0]])
    atac = make(["A-1_atac", "B-1_atac", "C-1_atac", "D-1_atac"], [[10], [20], [30], [40]])
    mdata = pair_modalities(rna, atac)
    assert list(mdata.obs_names) == ["B-1", "A-1", "C-1"]
    assert list(mdata.mod["atac"].obs_names) == ["B-1", "A-1", "C-1"]
    assert mdata.mod["atac"].X.toarray().ravel().tolist() == [20, 10, 30]


def test_barcodes_that_do_not_pair_report_the_count():
    rna = make(["A-1", "B-1", "C-1", "D-1"], np.ones((4, 2)))
    atac = make(["A-1", "X-1", "Y-1", "Z-1"], np.ones((4, 1)))
    with pytest.raises(
        InputError, match=r"barcodes do not pair: 1 of 4 RNA barcodes \(rna.h5ad\) match the 4 ATAC"
    ):
        pair_modalities(rna, atac, "rna.h5ad", "atac.h5ad")
    with pytest.raises(InputError, match=r"0 of 4 RNA barcodes"):
        pair_modalities(rna, make(["Q-1"], [[1]]))


def test_raw_counts_prefers_counts_layer_and_rejects_normalised():
    adata = make(["A", "B"], [[0.5, 1.2], [0.0, 2.7]])
    with pytest.raises(
        InputError, match=r"cells X: non-integer values \(e.g. 0.5\).*layers\['counts'\]"
    ):
        raw_counts(adata, "cells")
    adata.layers["counts"] = sp.csr_matrix(np.array([[1, 2], [0, 5]], dtype=np.float32))
    assert raw_counts(adata, "cells").toarray().tolist() == [[1, 2], [0, 5]]
    negative = make(["A"], [[-1, 2]])
    with pytest.raises(
        InputError, match=r"neg X: negative values \(e.g. -1\); raw counts are required"
    ):
        raw_counts(negative, "neg")


def test_h5mu_with_one_modality(tmp_path):
    path = tmp_path / "one.h5mu"
    md.MuData({"rna": make(["A", "B"], [[1, 2], [3, 4]])}).write_h5mu(path)
    with pytest.raises(
        InputError, match=r"only one modality: no ATAC \('atac'\) modality among \['rna'\]"
    ):
        read_input(path)


def test_single_h5ad_is_refused(tmp_path):
    path = tmp_path / "rna.h5ad"
    make(["A"], [[1]]).write_h5ad(path)
    with pytest.raises(
        InputError, match=r"one .h5ad holds one modality; give .*'rna.h5ad,atac.h5ad'"
    ):
        read_input(path)
    with pytest.raises(InputError, match=r".h5ad file .*missing.h5ad does not exist"):
        read_input(f"{path},{tmp_path / 'missing.h5ad'}")


def test_real_pbmc10k_h5ad_pair(shared_data):
    rna = shared_data("pbmc10k_multiome_100cells", "10xpbmc_rna_subset.h5ad")
    atac = shared_data("pbmc10k_multiome_100cells", "10xpbmc_atac_subset.h5ad")
    mdata = read_input(f"{rna},{atac}")
    assert mdata.mod["rna"].shape == (100, 10000) and mdata.mod["atac"].shape == (100, 10000)
    assert mdata.obs_names[0] == "GCACCTAAGTTAGTGC-1"
    assert (mdata.mod["rna"].obs_names == mdata.mod["atac"].obs_names).all()
    # peaks named chr_start_end with chr/start/end columns: coordinates agree with the names
    var = mdata.mod["atac"].var
    assert var.index[0] == "chr18_11980068_11982718"
    assert (var["chrom"].iloc[0], var["start"].iloc[0], var["end"].iloc[0]) == (
        "chr18",
        11980068,
        11982718,
    )


def test_real_bmmc_counts_from_layers(shared_data):
    rna = shared_data("bmmc_neurips2021_500cells", "starter.output_rna.h5ad")
    atac = shared_data("bmmc_neurips2021_500cells", "starter.output_mod2.h5ad")
    mdata = read_input(f"{rna},{atac}")
    original = read_h5ad(rna)
    assert mdata.n_obs == 500
    # X there is normalised; the reader took layers['counts']
    assert (mdata.mod["rna"].X != sp.csr_matrix(original.layers["counts"])).nnz == 0
    assert mdata.mod["atac"].X.max() > 1  # ATAC X is binarised; the counts layer is not
    assert mdata.mod["atac"].var["chrom"].iloc[0] == "chr1"


def test_real_h5mu_finds_its_fragments(shared_data):
    mdata = read_input(shared_data("pbmc_multiome_1k_markers", "pbmc_1k_markers.h5mu"))
    assert mdata.mod["rna"].shape == (1000, 45) and mdata.mod["atac"].shape == (1000, 174)
    # muon stored a path relative to its own test folder; the reader resolves it next to the file
    assert (
        mdata.mod["atac"]
        .uns["files"]["fragments"]
        .endswith("pbmc_multiome_1k_markers/atac_fragments.tsv.gz")
    )
    assert mdata.mod["rna"].var.loc["CD2", "start"] == 116754429
