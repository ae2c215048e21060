"""The prepared-MuData contract: one lookup, one error form."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from genepeak.errors import InputError
from genepeak.io import prepared


def _rna() -> ad.AnnData:
    counts = sp.csr_matrix(np.array([[1, 0, 3], [0, 2, 0], [4, 4, 4]], dtype=np.float32))
    rna = ad.AnnData(
        X=counts.copy(),
        obs=pd.DataFrame(index=["c0", "c1", "c2"]),
        var=pd.DataFrame(index=["A", "B", "C"]),
    )
    rna.layers["counts"] = counts
    return rna


def test_positions_keep_order_and_name_the_absent():
    rna = _rna()
    assert list(prepared.feature_columns(rna, ["C", "A"], "rna")) == [2, 0]
    with pytest.raises(
        InputError, match=r"1 of 2 genes are not in mdata.mod\['rna'\].var_names.*'Z'"
    ):
        prepared.feature_columns(rna, ["A", "Z"], "rna")


def test_cell_rows_take_none_masks_and_names():
    names = pd.Index(["c0", "c1", "c2"])
    assert list(prepared.cell_rows(names)) == [0, 1, 2]
    assert list(prepared.cell_rows(names, np.array([True, False, True]))) == [0, 2]
    assert list(prepared.cell_rows(names, ["c2"])) == [2]
    with pytest.raises(InputError, match="mask has length 2"):
        prepared.cell_rows(names, np.array([True, False]))
    with pytest.raises(InputError, match="not in mdata.obs_names"):
        prepared.cell_rows(names, ["x"])


def test_blocks_select_without_densifying_the_whole_matrix():
    rna = _rna()
    dense = prepared.dense_block(rna.X, np.array([2, 0]), np.array([1]))
    assert dense.dtype == np.float32 and dense.ravel().tolist() == [4.0, 0.0]
    block = prepared.sparse_block(rna.X, np.array([0]), np.arange(3))
    assert sp.issparse(block) and block.toarray().ravel().tolist() == [1.0, 0.0, 3.0]


def test_size_factors_from_obs_else_from_counts_else_error():
    rna = _rna()
    assert np.allclose(prepared.size_factors(rna), np.array([4, 2, 12]) / 4)
    rna.obs["size_factor"] = [1.0, 2.0, 3.0]
    assert prepared.size_factors(rna).tolist() == [1.0, 2.0, 3.0]
    bare = ad.AnnData(X=np.ones((2, 2), dtype=np.float32))
    with pytest.raises(InputError, match="size_factor"):
        prepared.size_factors(bare)
    with pytest.raises(InputError, match=r"mdata.mod\['rna'\].layers has no 'counts'"):
        prepared.counts(bare, "rna")


def test_require_modalities_and_record():
    class Fake:
        mod = {"rna": None}
        uns = {"genepeak": {"source": "x"}}

    with pytest.raises(InputError, match="missing: atac"):
        prepared.require_modalities(Fake(), "evaluation")
    assert prepared.record(Fake()) == {"source": "x"}


def test_read_metadata_reads_the_tables_and_not_the_matrices(tiny_mdata, tmp_path):
    import mudata

    path = tmp_path / "prepared.h5mu"
    tiny_mdata.write(path)
    metadata, full = prepared.read_metadata(path), mudata.read_h5mu(path)
    pd.testing.assert_frame_equal(metadata.obs, full.obs)
    for name in prepared.MODALITIES:
        got, expected = metadata.mod[name], full.mod[name]
        pd.testing.assert_frame_equal(got.obs, expected.obs)
        pd.testing.assert_frame_equal(got.var, expected.var)
        assert got.X is None and not got.layers and not got.obsm
    assert metadata.mod["rna"].uns["target_sum"] == full.mod["rna"].uns["target_sum"]
    assert prepared.record(metadata) == {"source": "tests/conftest.py"}
    with pytest.raises(InputError, match=r"absent\.h5mu: no such file"):
        prepared.read_metadata(tmp_path / "absent.h5mu")


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "dense"])
def test_column_sums_are_exact_across_passes(fmt, monkeypatch):
    x = sp.random(50, 20, density=0.3, format="csr", random_state=2, dtype=np.float32)
    x.data *= 7.0
    dense = x.toarray().astype(np.float64)
    weights = np.random.default_rng(1).normal(size=50)
    matrix = x.toarray() if fmt == "dense" else x.asformat(fmt)
    monkeypatch.setattr(prepared, "VALUES_PER_PASS", 13)  # passes that split rows and columns
    assert x.nnz % 13 != 0
    np.testing.assert_allclose(prepared.column_sums(matrix), dense.sum(0), rtol=1e-12)
    np.testing.assert_allclose(prepared.column_sums(matrix, 2), (dense**2).sum(0), rtol=1e-12)
    np.testing.assert_allclose(
        prepared.column_sums(matrix, 1, weights), dense.T @ weights, rtol=1e-10, atol=1e-10
    )


def test_column_sums_of_squares_add_duplicate_entries_first():
    # row 0 stores column 1 twice (1 and 2): its value is 3, its square 9
    x = sp.csr_matrix((np.array([1.0, 2.0, 4.0]), np.array([1, 1, 0]), np.array([0, 2, 3])), (2, 2))
    assert not x.has_canonical_format
    np.testing.assert_allclose(prepared.column_sums(x, 2), [16.0, 9.0])
    np.testing.assert_allclose(prepared.column_sums(x), [4.0, 3.0])
    assert x.nnz == 3  # the caller's matrix keeps its entries


def test_read_names_files_that_are_not_prepared_h5mu(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        prepared.read(tmp_path)
    h5ad = tmp_path / "rna.h5ad"
    ad.AnnData(np.ones((3, 2), dtype=np.float32)).write_h5ad(h5ad)
    with pytest.raises(InputError, match="is not a readable .h5mu file"):
        prepared.read(h5ad, "--data")


def test_share_index_arrays_only_where_the_entries_match():
    import mudata as md

    counts = sp.random(30, 20, density=0.3, format="csr", random_state=0, dtype=np.float32)
    counts.data = np.ceil(counts.data * 5)
    same = ad.AnnData(counts.log1p(), layers={"counts": counts.copy()})
    other = counts.copy()
    other.data[0] = 0.0
    other.eliminate_zeros()  # one entry fewer: another structure
    differs = ad.AnnData(other.log1p(), layers={"counts": counts.copy()})
    mdata = md.MuData({"rna": same, "atac": differs})
    before = same.X.toarray()
    prepared.share_index_arrays(mdata)
    x, layer = mdata.mod["rna"].X, mdata.mod["rna"].layers["counts"]
    assert x.indices is layer.indices and x.indptr is layer.indptr
    np.testing.assert_array_equal(x.toarray(), before)  # same values
    atac = mdata.mod["atac"]
    assert atac.X.indices is not atac.layers["counts"].indices
    # unsorted indices are not shared: scipy sorts them in place on many reads
    indices = counts.indices.copy()
    indices[:2] = indices[1::-1]  # row 0's first two entries swapped

    def unsorted(values):
        return sp.csr_matrix((values, indices.copy(), counts.indptr.copy()), shape=counts.shape)

    x, layer = unsorted(np.log1p(counts.data)), unsorted(counts.data.copy())
    mdata.mod["rna"] = ad.AnnData(x, layers={"counts": layer})
    prepared.share_index_arrays(mdata)
    assert mdata.mod["rna"].X.indices is not mdata.mod["rna"].layers["counts"].indices
