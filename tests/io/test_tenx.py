"""10x ARC h5 / MEX readers on the real format fixtures and on written ARC files."""

from __future__ import annotations

import shutil
import tarfile

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from genepeak.errors import InputError
from genepeak.io.tenx import read_10x_h5, read_10x_mex
from genepeak.io.tenx_write import write_10x_h5
from genepeak.prepare.pipeline import read_input


def write_arc(path, counts, n_genes, barcodes=None):
    """A small ARC h5: the first ``n_genes`` columns are genes, the rest peaks."""
    n_cells, n_features = counts.shape
    names = [f"G{i}" for i in range(n_genes)] + [
        f"chr1:{1000 * i}-{1000 * i + 500}" for i in range(n_features - n_genes)
    ]
    features = pd.DataFrame(
        {
            "id": [f"ENSG{i:011d}" for i in range(n_genes)] + names[n_genes:],
            "name": names,
            "feature_type": ["Gene Expression"] * n_genes + ["Peaks"] * (n_features - n_genes),
            "genome": "GRCh38",
            "interval": [f"chr1:{100 * i}-{100 * i + 50}" for i in range(n_genes)]
            + names[n_genes:],
        }
    )
    barcodes = barcodes or [f"AAAC{i:04d}-1" for i in range(n_cells)]
    write_10x_h5(path, sp.csr_matrix(counts), barcodes, features)
    return path


def test_real_arc_gene_expression_fixture(shared_data):
    adata = read_10x_h5(shared_data("tenx_format_fixtures", "pbmc_granulocyte_ff_bc_ex.h5"))
    assert adata.shape == (10, 10)
    assert adata.obs_names[0] == "AAACAGCCAAATATCC-1"
    assert adata.var_names[6] == "AL627309.5"
    assert adata.var.loc["AL627309.5", "interval"] == "chr1:149706-173862"
    assert adata.var["feature_types"].unique().tolist() == ["Gene Expression"]
    # the fixture's two non-zero entries: cells 7 and 9 of gene 6 with counts 1 and 2
    assert sp.isspmatrix_csr(adata.X) and adata.X.dtype == np.float32
    assert adata.X[7, 6] == 1 and adata.X[9, 6] == 2 and adata.X.sum() == 3


def test_real_atac_fixture_and_one_modality_error(shared_data):
    path = shared_data("tenx_format_fixtures", "10k_pbmc_ATACv2_f_bc_ex.h5")
    adata = read_10x_h5(path)
    assert adata.var_names[9] == "chr1:629538-630397" and adata.X[8, 9] == 2
    with pytest.raises(InputError, match=r"only one modality: no 'Gene Expression' features"):
        read_input(path)
    gex = shared_data("tenx_format_fixtures", "pbmc_granulocyte_ff_bc_ex.h5")
    with pytest.raises(InputError, match=r"only one modality: no 'Peaks' features"):
        read_input(gex)


def test_real_mex_folder_matches_h5_features(shared_data, tmp_path):
    archive = shared_data(
        "tenx_format_fixtures", "pbmc_granulocyte_sorted_3k_ff_bc_ex_matrix.tar.gz"
    )
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="data")
    folder = next(tmp_path.rglob("filtered_feature_bc_matrix"))
    mex = read_10x_mex(folder)
    h5 = read_10x_h5(shared_data("tenx_format_fixtures", "pbmc_granulocyte_ff_bc_ex.h5"))
    assert mex.shape == (10, 10) and mex.X.nnz == 0
    assert mex.var_names.tolist() == h5.var_names.tolist()
    assert mex.var["interval"].tolist() == h5.var["interval"].tolist()
    assert mex.obs_names.tolist() == h5.obs_names.tolist()


def test_arc_h5_round_trip_and_coordinates(tmp_path):
    counts = np.array([[1, 0, 3, 0, 2], [0, 5, 0, 1, 0], [2, 2, 0, 0, 4]])
    path = write_arc(tmp_path / "filtered_feature_bc_matrix.h5", counts, n_genes=3)
    mdata = read_input(tmp_path)  # an outs folder
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    assert rna.X.toarray().tolist() == counts[:, :3].tolist()
    assert atac.X.toarray().tolist() == counts[:, 3:].tolist()
    assert list(rna.obs_names) == list(atac.obs_names) == ["AAAC0000-1", "AAAC0001-1", "AAAC0002-1"]
    assert rna.var["start"].tolist() == [0, 100, 200] and rna.var["end"].tolist() == [50, 150, 250]
    assert atac.var["chrom"].tolist() == ["chr1", "chr1"]
    assert atac.var["start"].tolist() == [0, 1000] and atac.var["end"].tolist() == [500, 1500]
    # the .h5 itself reads the same
    again = read_input(path)
    assert (again.mod["atac"].X != atac.X).nnz == 0


def test_outs_folder_picks_up_fragments_peaks_and_metrics(tmp_path, shared_data):
    counts = np.array([[1, 0, 3, 0, 2], [0, 5, 0, 1, 0]])
    write_arc(tmp_path / "filtered_feature_bc_matrix.h5", counts, n_genes=3)
    frag = shared_data("fragments_tiny", "fragments.tsv.gz")
    shutil.copy(frag, tmp_path / "atac_fragments.tsv.gz")
    shutil.copy(str(frag) + ".tbi", tmp_path / "atac_fragments.tsv.gz.tbi")
    (tmp_path / "atac_peaks.bed").write_text("chr1\t0\t500\nchr1\t1000\t1500\n")
    (tmp_path / "per_barcode_metrics.csv").write_text(
        "barcode,is_cell,gex_umis_count,atac_fragments\nAAAC0001-1,1,7,40\nAAAC0000-1,1,9,30\n"
    )
    mdata = read_input(tmp_path)
    files = mdata.mod["atac"].uns["files"]
    assert files["fragments"].endswith("atac_fragments.tsv.gz")
    assert files["peaks_bed"].endswith("atac_peaks.bed")
    assert mdata.mod["rna"].obs["gex_umis_count"].tolist() == [9, 7]
    assert mdata.mod["atac"].obs["atac_fragments"].tolist() == [30, 40]


def test_missing_inputs(tmp_path):
    with pytest.raises(InputError, match=r"input .*nowhere.h5 does not exist"):
        read_input(tmp_path / "nowhere.h5")
    with pytest.raises(InputError, match="10x h5 file .* does not exist"):
        read_10x_h5(tmp_path / "nowhere.h5")
    with pytest.raises(InputError, match=r"folder without filtered_feature_bc_matrix.h5"):
        read_input(tmp_path)


def test_truncated_h5(tmp_path, shared_data):
    data = shared_data("tenx_format_fixtures", "pbmc_granulocyte_ff_bc_ex.h5").read_bytes()
    path = tmp_path / "filtered_feature_bc_matrix.h5"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match=r"not a readable HDF5 file \(truncated or not HDF5"):
        read_input(path)


def test_non_10x_h5(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("X", data=np.zeros(3))
    with pytest.raises(
        InputError, match=r"not a 10x feature-barcode matrix: it has no 'matrix' group.*\['X'\]"
    ):
        read_input(path)
    with h5py.File(path, "w") as handle:
        handle.create_group("matrix").create_dataset("data", data=np.zeros(3))
    with pytest.raises(InputError, match="lacks barcodes, indices, indptr, shape, features"):
        read_10x_h5(path)


def test_non_integer_counts_in_h5(tmp_path):
    path = write_arc(tmp_path / "m.h5", np.array([[1, 2, 3, 4], [1, 1, 1, 1]]), n_genes=2)
    with h5py.File(path, "r+") as handle:
        del handle["matrix/data"]
        handle["matrix/data"] = np.array([1.5, 2, 3, 4, 1, 1, 1, 1], dtype=np.float32)
    with pytest.raises(
        InputError, match=r"non-integer values \(e.g. 1.5\); raw integer counts are required"
    ):
        read_input(path)


def test_arc_mex_outs_folder(tmp_path):
    """An outs folder holding only the MEX matrix (ARC features.tsv has chrom/start/end)."""
    import gzip

    import scipy.io

    mex = tmp_path / "filtered_feature_bc_matrix"
    mex.mkdir()
    counts = sp.csr_matrix(np.array([[0, 2, 1], [3, 0, 4]]))  # cells x features
    with gzip.open(mex / "matrix.mtx.gz", "wb") as handle:
        scipy.io.mmwrite(handle, counts.T.tocoo())
    features = [
        "ENSG1\tCD3E\tGene Expression\tchr11\t118304729\t118304730",
        "ENSG2\tMS4A1\tGene Expression\tchr11\t60455808\t60455809",
        "chr1:100-600\tchr1:100-600\tPeaks\tchr1\t100\t600",
    ]
    with gzip.open(mex / "features.tsv.gz", "wt") as handle:
        handle.write("\n".join(features) + "\n")
    with gzip.open(mex / "barcodes.tsv.gz", "wt") as handle:
        handle.write("AAAC-1\nGGGT-1\n")
    mdata = read_input(tmp_path)
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    assert rna.var_names.tolist() == ["CD3E", "MS4A1"]
    assert rna.X.toarray().tolist() == [[0, 2], [3, 0]]
    assert rna.var.loc["CD3E", "start"] == 118304729 and rna.var.loc["MS4A1", "chrom"] == "chr11"
    assert atac.X.toarray().ravel().tolist() == [1, 4]
    assert atac.var[["chrom", "start", "end"]].values.tolist() == [["chr1", 100, 600]]
    (mex / "barcodes.tsv.gz").unlink()
    with pytest.raises(InputError, match=r"not a 10x MEX folder: barcodes.tsv.gz missing"):
        read_input(tmp_path)
