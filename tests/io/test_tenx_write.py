"""The ARC h5 writer: layout and dtypes of real Cell Ranger ARC files, round trip, atomicity."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from genepeak.errors import InputError
from genepeak.io.tenx_write import TenxH5Writer, write_10x_h5


def _features() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["ENSG00000243485", "ENSG00000237613", "chr1:100-600", "chr2:5000-5400"],
            "name": ["MIR1302-2HG", "FAM138A", "chr1:100-600", "chr2:5000-5400"],
            "feature_type": ["Gene Expression", "Gene Expression", "Peaks", "Peaks"],
            "genome": "GRCh38",
            "interval": ["chr1:29553-30267", "chr1:36080-36081", "chr1:100-600", "chr2:5000-5400"],
        }
    )


COUNTS = sp.csr_matrix(np.array([[1, 0, 2, 0], [0, 3, 0, 4], [0, 0, 0, 0]]))
BARCODES = ["AAACAGCCAAATATCC-1", "AAACAGCCAGGAACTG-1", "AAACAGCCAGGCTTCG-1"]


def test_round_trip_and_layout(tmp_path):
    path = write_10x_h5(tmp_path / "m.h5", COUNTS, BARCODES, _features())
    with h5py.File(path) as f:
        m = f["matrix"]
        # CSC of features x barcodes == CSR of cells x features
        assert list(m["shape"][:]) == [4, 3]
        assert list(m["indptr"][:]) == [0, 2, 4, 4]
        assert list(m["indices"][:]) == [0, 2, 1, 3]
        assert list(m["data"][:]) == [1, 2, 3, 4]
        assert list(m["barcodes"][:]) == [b.encode() for b in BARCODES]
        assert m["features/feature_type"][2] == b"Peaks"
        assert m["features/interval"][0] == b"chr1:29553-30267"
        assert list(m["features/_all_tag_keys"][:]) == [b"genome", b"interval"]
        assert f.attrs["filetype"] == "matrix" and f.attrs["version"] == 2
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_same_datasets_and_dtypes_as_real_arc_file(tmp_path, shared_data):
    fixture = shared_data("tenx_format_fixtures", "pbmc_granulocyte_ff_bc_ex.h5")
    ours = write_10x_h5(tmp_path / "m.h5", COUNTS, BARCODES, _features())

    def layout(path):
        out = {}
        with h5py.File(path) as f:
            f["matrix"].visititems(
                lambda name, obj: (
                    out.__setitem__(
                        name,
                        obj.dtype.kind + str(obj.dtype.itemsize) if obj.dtype.kind != "S" else "S",
                    )
                    if isinstance(obj, h5py.Dataset)
                    else None
                )
            )
        return out

    assert layout(ours) == layout(fixture)


def test_scanpy_reads_both_modalities(tmp_path):
    sc = pytest.importorskip("scanpy")
    path = write_10x_h5(tmp_path / "m.h5", COUNTS, BARCODES, _features())
    adata = sc.read_10x_h5(path, gex_only=False)
    assert adata.shape == (3, 4)
    assert list(adata.var["feature_types"]) == ["Gene Expression"] * 2 + ["Peaks"] * 2
    assert np.array_equal(adata.X.toarray(), COUNTS.toarray())


def test_streamed_blocks_equal_one_write(tmp_path):
    rng = np.random.default_rng(0)
    counts = sp.random(50, 4, density=0.4, format="csr", random_state=1)
    counts.data = rng.integers(1, 9, counts.nnz).astype(float)
    barcodes = [f"AAAC{i:012d}-1" for i in range(50)]
    one = write_10x_h5(tmp_path / "one.h5", counts, barcodes, _features())
    with TenxH5Writer(tmp_path / "blocks.h5", barcodes, _features()) as writer:
        for start in range(0, 50, 7):
            writer.append(counts[start : start + 7])
    with h5py.File(one) as a, h5py.File(tmp_path / "blocks.h5") as b:
        for name in ("data", "indices", "indptr", "shape"):
            assert np.array_equal(a["matrix"][name][:], b["matrix"][name][:]), name


@pytest.mark.parametrize(
    ("counts", "features", "barcodes", "message"),
    [
        (
            COUNTS,
            _features().drop(columns="interval"),
            BARCODES,
            r"missing column\(s\) \['interval'\]",
        ),
        (
            COUNTS,
            _features().replace({"Peaks": "ATAC"}),
            BARCODES,
            r"feature_type: unknown value\(s\) \['ATAC'\]",
        ),
        (-COUNTS, _features(), BARCODES, "non-negative integers"),
        (COUNTS * 0.5, _features(), BARCODES, "non-negative integers"),
        (COUNTS, _features(), BARCODES[:2], "3 rows .* but 2 barcodes"),
        (COUNTS, _features(), [BARCODES[0]] * 3, "barcodes must be unique"),
        (COUNTS[:, :3], _features(), BARCODES, "3 columns but the features table has 4 rows"),
    ],
)
def test_bad_input_leaves_nothing(tmp_path, counts, features, barcodes, message):
    with pytest.raises(InputError, match=message):
        write_10x_h5(tmp_path / "m.h5", counts, barcodes, features)
    assert list(tmp_path.iterdir()) == []
