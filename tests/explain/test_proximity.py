"""TSS proximity of top links against matched null genes (the real-data check of issue 10.6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact
from tests.explain.explain_fakes import linear_model_for
from tests.synthetic_mdata import make_prepared_mdata

from genepeak.config import ExplainConfig
from genepeak.errors import InputError
from genepeak.explain import proximity


def _table(gene: str, distances, scores) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "gene": gene,
            "peak": [f"p{i}" for i in range(len(scores))],
            "distance_to_tss": np.asarray(distances, np.float64),
            "zscore": np.asarray(scores, np.float64),
        }
    )


def test_fractions_interval_and_fisher_p_by_hand():
    near, far = 1_000.0, 500_000.0
    # 6 peaks each; gene A: its 3 best peaks (by |z|) are near its TSS; peak 5 is near but weak
    links = pd.concat(
        [
            _table("A", [near, -near, near, far, np.nan, near], [-9, 8, 7, 1, 0.5, 0.1]),
            _table("B", [near, far, far, far, far, far], [5, 4, 3, 0, 0, 0]),
            _table("C", [far, far, far, near, far, far], [5, 4, 3, 0, 0, 0]),
        ]
    )
    table = proximity.tss_proximity(links, {"A": ["B", "C"]}, k=3, n_boot=500)
    row = table.iloc[0]
    assert row["hits"] == 3 and row["fraction"] == 1.0
    assert row["null_fraction"] == pytest.approx(1 / 6)  # B 1 of 3, C 0 of 3
    assert row["difference"] == pytest.approx(5 / 6)
    # resampling B and C: the null mean is 0, 1/6 or 1/3
    assert row["null_low"] == 0.0 and row["null_high"] == pytest.approx(1 / 3)
    assert row["difference_low"] == pytest.approx(2 / 3) and row["beats_null"]
    assert row["p_value"] == pytest.approx(fisher_exact([[3, 0], [1, 5]], "greater").pvalue)
    assert row["peaks_near"] == 4 and row["random_fraction"] == pytest.approx(4 / 6)
    assert row["null_random_fraction"] == pytest.approx((1 / 6 + 1 / 6) / 2)
    # the null genes' top peaks p0..p2 are A's p0, p1, p2, all near A's TSS
    assert row["null_at_gene_fraction"] == 1.0 and row["difference_at_gene"] == 0.0
    assert not row["beats_null_at_gene"] and row["p_value_at_gene"] == 1.0


def test_ties_are_broken_at_random_and_every_gene_keeps_k_links():
    links = _table("A", [0, 0, 9e5, 9e5], [1, 1, 1, 1])
    hits = {
        proximity.top_links(links, "zscore", 2, seed=s)["distance_to_tss"].eq(0).sum()
        for s in range(20)
    }
    assert hits == {0, 1, 2}  # all outcomes of a random tie-break occur
    assert len(proximity.top_links(links, "zscore", 2, seed=3)) == 2


def test_matched_genes_name_the_nearest_genes_of_each_target():
    # gene j is j + 1 in its first 5 (j + 1) cells: mean and detection both rise with j, and the
    # distance to G15 on the log scale is |log((j + 1) / 16)| (the rule: tests/links/test_nulls.py)
    x = np.zeros((200, 30))
    for j in range(30):
        x[: 5 * (j + 1), j] = j + 1
    genes = [f"G{i}" for i in range(30)]
    assert proximity.matched_genes(x, genes, ["G15"], 4) == {"G15": ["G16", "G14", "G17", "G13"]}
    with pytest.raises(InputError, match="only 29 genes can be null genes"):
        proximity.matched_genes(x, genes, ["G1"], 30)
    with pytest.raises(InputError, match="NOPE not among the 30 genes"):
        proximity.matched_genes(x, genes, ["NOPE"], 3)


def _planted_model(mdata):
    """GENE0-9 drive their own two peaks (by the TSS); GENE12 drives peaks 60, 61 (6 Mb away)."""
    model = linear_model_for(mdata)
    rng = np.random.default_rng(0)
    model.weights = model.weights + rng.normal(0, 0.02, model.weights.shape).astype(np.float32)
    model.weights[12, [60, 61]] = 0.6
    return model


def test_drivers_beat_their_null_genes_and_a_distal_driver_and_a_sham_do_not():
    # synthetic_mdata: gene g's TSS is at g * 200 kb, its two peaks 0-5 kb from it
    mdata = make_prepared_mdata(n_cells=200, n_genes=60, n_peaks=90, seed=3)
    model = _planted_model(mdata)
    config = ExplainConfig(link_flip_cells=0)
    genes = ["GENE2", "GENE3", "GENE7", "GENE12", "GENE40"]
    table, links = proximity.marker_tss_proximity(
        model, mdata, genes, scores=("zscore",), k=2, n_null=8, config=config
    )
    table = table.set_index("gene")
    for driver in ("GENE2", "GENE3", "GENE7"):
        assert table.loc[driver, "fraction"] == 1.0
        assert table.loc[driver, "beats_null"]
        assert table.loc[driver, "difference_low"] > 0.4
    # its top links are its planted peaks, 6 Mb from its TSS: the check says "not near"
    top12 = proximity.top_links(links[links["gene"] == "GENE12"], "zscore", 2)
    assert set(top12["peak"]) == {model.peaks[60], model.peaks[61]}
    assert table.loc["GENE12", "fraction"] == 0.0 and not table.loc["GENE12", "beats_null"]
    # a sham gene (no weights) with two peaks by its TSS: not better than its null genes
    assert not table.loc["GENE40", "beats_null"]
    assert table.loc["GENE40", "random_fraction"] == pytest.approx(2 / 90)
    # other genes' top links do not land by the drivers' TSS: drivers beat that null too
    assert table.loc[["GENE2", "GENE3", "GENE7"], "beats_null_at_gene"].all()
    assert not table.loc[["GENE12", "GENE40"], "beats_null_at_gene"].any()
    # 2 of 2 near vs at most a few of the 16 null links: Fisher's p is small
    assert (table.loc[["GENE2", "GENE3", "GENE7"], "p_value_at_gene"] < 0.05).all()
    summary = proximity.summarise(table.reset_index()).iloc[0]
    assert summary["genes"] == 5 and summary["genes_beating_null"] == 3
    assert summary["genes_beating_null_at_gene"] == 3


def test_a_baseline_matrix_becomes_a_link_table_with_distances():
    mdata = make_prepared_mdata(n_cells=50, n_genes=10, n_peaks=20, seed=1)
    score = np.arange(2 * 20, dtype=float).reshape(2, 20)
    links = proximity.links_from_matrix(mdata, ["GENE1", "GENE4"], score, "pearson")
    assert len(links) == 40 and links["pearson"].iloc[21] == 21
    first = links[links["gene"] == "GENE1"]
    # GENE1's TSS is at 210 kb, its peaks (2, 3) at 210 kb and 215 kb (centres +250 bp)
    np.testing.assert_allclose(first["distance_to_tss"].to_numpy()[2:4], [250, 5_250])
    with pytest.raises(InputError, match="shape"):
        proximity.links_from_matrix(mdata, ["GENE1"], score, "pearson")
