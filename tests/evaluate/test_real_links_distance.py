"""benchmarks/real_links_distance.py: the distance bins, the null genes scored on the marker's
own peaks, and on the real PBMC subset that its two scoring paths agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bench_scripts import load_benchmark


@pytest.fixture(scope="module")
def script():
    return load_benchmark("real_links_distance")


def test_distance_bins_at_their_edges(script):
    distance = np.array([0, -2_000, 2_001, -10_000, 10_001, 100_000, 1_000_000, -1_000_001, np.nan])
    assert list(script.distance_bin(distance)) == [
        "<=2 kb",
        "<=2 kb",
        "2-10 kb",
        "2-10 kb",
        "10-100 kb",
        "10-100 kb",
        "100 kb-1 Mb",
        ">1 Mb same chr",
        "other chr",
    ]


def test_null_genes_are_scored_on_the_markers_peaks_less_their_own_locus(script):
    # marker A (peak p1 at its promoter), null genes B (p2 at B's promoter) and C
    nan = np.nan
    rows = [
        ("A", "p1", 500.0, 3.0),
        ("A", "p2", nan, 2.0),
        ("A", "p3", nan, 0.2),
        ("B", "p1", nan, 0.5),
        ("B", "p2", 300.0, 4.0),  # B's own cis pair: never part of A's null
        ("B", "p3", nan, 0.3),
        ("C", "p1", 5_000_000.0, 1.5),
        ("C", "p2", nan, 0.1),
        ("C", "p3", nan, 0.4),
    ]
    pairs = pd.DataFrame(rows, columns=["gene", "peak", "distance_to_tss", "abs_z"])
    pairs["link_score"] = pairs["abs_z"]
    pairs["called"] = (pairs["abs_z"] > 2.5).astype(float)
    pairs["bin"] = script.distance_bin(pairs["distance_to_tss"].to_numpy())
    nulls = {"A": ["B", "C"], "B": ["A", "C"], "C": ["A", "B"]}
    per_bin = script.with_far(script.marker_bins(pairs, nulls, exclude=1_000_000))
    a = per_bin[per_bin["gene"] == "A"].set_index("bin")
    assert a.loc["<=2 kb", "abs_z"] == 3.0
    assert a.loc["<=2 kb", "null_abs_z"] == pytest.approx((0.5 + 1.5) / 2)
    assert a.loc["<=2 kb", ["called", "null_called"]].tolist() == [1.0, 0.0]
    assert a.loc["other chr", "abs_z"] == pytest.approx((2.0 + 0.2) / 2)
    assert a.loc["other chr", "null_pairs"] == 3  # B-p2 left out
    assert a.loc["other chr", "null_abs_z"] == pytest.approx((0.3 + 0.1 + 0.4) / 3)
    assert a.loc[script.FAR, "null_abs_z"] == pytest.approx(a.loc["other chr", "null_abs_z"])
    table = script.summary(per_bin, n_boot=200, seed=0)
    near = table[(table["bin"] == "<=2 kb") & (table["measure"] == "abs_z")].iloc[0]
    assert near["markers"] == 2  # A and B have a pair at <= 2 kb
    assert near["diff"] == pytest.approx(((3.0 - 1.0) + (4.0 - (2.0 + 0.1) / 2)) / 2)


def test_real_subset_link_genes_and_every_pair_agree(script, shared_data, tmp_path):
    data = shared_data("pbmc_multiome_1k_markers", "pbmc_1k_markers.h5mu").parents[1]
    shared_data("annotations", "orgHsEgDb_3.16_hg38_gene_coords.tsv.gz")
    mdata = script.prepared(data, tmp_path / "prepared.h5mu")
    pairs, info = script.score_every_pair(mdata, state_pcs=15)  # raises where they disagree
    assert len(pairs) == mdata.mod["rna"].n_vars * mdata.mod["atac"].n_vars
    same = pairs["distance_to_tss"].notna()
    assert same.sum() == info["same_chrom_pairs"]
    assert int(pairs.loc[same, "called"].sum()) == info["called_by_link_genes"] > 0
    # other-chromosome pairs are each gene's empirical null: median z 0 by construction
    medians = pairs[~same].groupby("gene", observed=True)["z"].median()
    assert np.abs(medians.to_numpy()).max() < 1e-6
