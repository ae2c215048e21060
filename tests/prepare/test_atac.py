"""ATAC peak filters (chromosomes, blacklist, open fraction), log1p, and peak calling."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from genepeak.config import PrepareConfig
from genepeak.errors import InputError
from genepeak.prepare.atac import open_fraction, prepare_atac


def make_atac(names, counts):
    return ad.AnnData(
        X=sp.csr_matrix(np.asarray(counts, dtype=np.float32)),
        obs=pd.DataFrame(index=[f"c{i}" for i in range(len(counts))]),
        var=pd.DataFrame(index=names),
    )


NAMES = ["chr1:100-200", "chr1:1000-1200", "chrM:5-50", "chr2_300_400", "chrX-10-20"]
COUNTS = [
    [2, 0, 1, 1, 0],
    [0, 0, 1, 4, 0],
    [1, 0, 1, 0, 0],
    [0, 0, 1, 0, 1],
]


def test_open_fraction():
    matrix = sp.csr_matrix(np.array(COUNTS))
    assert open_fraction(matrix).tolist() == [0.5, 0.0, 1.0, 0.5, 0.25]
    # over cells 1 and 3 only, in blocks of one row
    assert open_fraction(matrix, rows=np.array([1, 3]), block=1).tolist() == [
        0.0,
        0.0,
        1.0,
        0.5,
        0.5,
    ]


def test_selecting_cells_with_peaks():
    config = PrepareConfig(min_peak_fraction=0.5)
    atac, frac = prepare_atac(make_atac(NAMES, COUNTS), config, cells=pd.Index(["c3", "c1"]))
    assert atac.obs_names.tolist() == ["c3", "c1"]
    assert frac.tolist() == [0.0, 0.0, 1.0, 0.5, 0.5]
    assert atac.var_names.tolist() == ["chr2:300-400", "chrX:10-20"]
    assert atac.layers["counts"].toarray().tolist() == [[0, 1], [4, 0]]
    with pytest.raises(InputError, match=r"1 of \d+ requested cells are not in the ATAC data"):
        prepare_atac(make_atac(NAMES, COUNTS), config, cells=pd.Index(["c9"]))


def test_filters_and_log1p(tmp_path):
    blacklist = tmp_path / "blacklist.bed"
    blacklist.write_text("chr2\t350\t360\n")
    config = PrepareConfig(min_peak_fraction=0.25, blacklist=str(blacklist))
    atac, frac_before = prepare_atac(make_atac(NAMES, COUNTS), config)
    # chr1:1000-1200 never open; chrM non-standard; chr2 peak blacklisted
    assert atac.var_names.tolist() == ["chr1:100-200", "chrX:10-20"]
    assert atac.var["frac_cells"].tolist() == [0.5, 0.25]
    assert frac_before.tolist() == [0.5, 0.0, 1.0, 0.5, 0.25]
    assert atac.layers["counts"].toarray().tolist() == [[2, 0], [0, 0], [1, 0], [0, 1]]
    np.testing.assert_allclose(atac.X.toarray(), np.log1p([[2, 0], [0, 0], [1, 0], [0, 1]]))
    assert atac.obs["total_counts"].tolist() == [2, 0, 1, 1]
    assert atac.obs["n_peaks_by_counts"].tolist() == [1, 0, 1, 1]
    assert atac.var[["chrom", "start", "end"]].values.tolist() == [
        ["chr1", 100, 200],
        ["chrX", 10, 20],
    ]


def test_keeping_all_chromosomes():
    config = PrepareConfig(min_peak_fraction=0.0, standard_chromosomes_only=False)
    atac, _ = prepare_atac(make_atac(NAMES, COUNTS), config)
    assert atac.n_vars == 5


def test_ensembl_naming_is_detected():
    names = ["1:100-200", "2:300-400"]
    with pytest.raises(
        InputError, match=r"Ensembl chromosome names \('1', 'X'\).*Add the 'chr' prefix"
    ):
        prepare_atac(make_atac(names, [[1, 1]]), PrepareConfig())


def test_unrecognised_peak_names():
    with pytest.raises(
        InputError, match=r"ATAC peak names: 1 of 2 peak names are not in a recognised format"
    ):
        prepare_atac(make_atac(["chr1:1-5", "peak7"], [[1, 1]]), PrepareConfig())


def test_no_peak_left():
    with pytest.raises(
        InputError, match=r"no peak left after filtering \(2 peaks in; 0 open in >= 90%"
    ):
        prepare_atac(
            make_atac(["chr1:1-5", "chr1:8-9"], [[1, 0], [0, 1]]),
            PrepareConfig(min_peak_fraction=0.9),
        )


@pytest.mark.slow
def test_call_peaks_on_real_fragments(shared_data):
    """MACS3 via snapatac2 on the real PBMC marker-region fragments, then cut-site counts."""
    import warnings

    import mudata as md

    from genepeak.io.peaks import overlaps_any, parse_peak_names
    from genepeak.prepare.atac import atac_from_fragments

    folder = shared_data("pbmc_multiome_1k_markers")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arc = md.read_h5mu(folder / "pbmc_1k_markers.h5mu").mod["atac"]
    called = atac_from_fragments(folder / "atac_fragments.tsv.gz", arc.obs_names)
    assert called.n_obs == 1000 and called.n_vars > 20
    assert (called.var["end"] - called.var["start"] == 501).all()
    # most ARC peaks in covered regions are found again by MACS3
    arc_peaks = parse_peak_names(arc.var_names)
    covered = np.asarray(arc.X.sum(axis=0)).ravel() > 50
    found = overlaps_any(arc_peaks[covered], called.var)
    assert found.mean() > 0.6
    assert called.X.sum() > 0
