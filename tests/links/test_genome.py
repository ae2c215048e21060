"""Genome-wide links (``genepeak.links.genome``): the algebra, the calls' error rate, groups,
and every bad input named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from link_fakes import COPY, FAR_COPY, TYPE_ONLY, make_link_mdata
from sklearn.decomposition import PCA
from tests.synthetic_mdata import make_prepared_mdata

from genepeak.errors import InputError
from genepeak.links import baselines, state
from genepeak.links.genome import LinkOptions, compare_groups, link_genes

SEEDS = (21, 22, 23, 24, 25)


def _with_pcs(mdata, n_pcs: int = 3):
    rna = mdata.mod["rna"]
    rna.obsm["X_pca"] = PCA(n_pcs, random_state=0).fit_transform(rna.X.toarray())
    return mdata


def test_window_pairs_match_the_state_scores_computed_peak_by_peak():
    """The chunked window algebra gives the partial correlation of the dense route."""
    mdata = _with_pcs(make_prepared_mdata(n_cells=300, n_genes=40, n_peaks=80, seed=3))
    genes = [f"GENE{i}" for i in range(40)]
    options = LinkOptions(window=500_000, state_pcs=3, min_cells=10)
    result = link_genes(mdata, genes, options=options, key_added=None)
    covariates = state.shared_covariates(mdata, list(mdata.mod["rna"].obs_names), 3)
    residual = state.residual_peaks(mdata.mod["atac"].X, covariates)
    dense = residual.correlation(baselines.gene_matrix(mdata, genes))
    rows = pd.Index(genes).get_indexer(result.links["gene"].astype(str))
    cols = mdata.mod["atac"].var_names.get_indexer(result.links["peak"].astype(str))
    np.testing.assert_allclose(result.links["partial_r"], dense[rows, cols], atol=1e-5)
    inside = baselines.cis_mask(mdata, genes, 500_000)
    assert len(result.links) == inside.sum()  # every pair in the window, and no other


def test_known_answers_and_the_distance_column():
    mdata = make_link_mdata()
    # three genes only: their PCs would absorb GA itself; the state here is the cell type
    codes = pd.factorize(mdata.obs["leiden"])[0]
    mdata.mod["rna"].obsm["X_pca"] = np.eye(3)[codes][:, 1:]
    options = LinkOptions(window=1_000_000, state_pcs=2, min_cells=10)
    table = link_genes(mdata, ["GA", "GB"], options=options, key_added=None).links
    ga = table[table["gene"] == "GA"].set_index("peak")
    assert ga.loc[COPY, "called"] and ga.loc[FAR_COPY, "called"]
    assert not ga.loc[TYPE_ONLY, "called"]  # the type means are the state, not a link
    assert ga.loc[COPY, "distance_to_tss"] == 10_000
    assert ga.loc[COPY, "link_score"] > ga.loc[TYPE_ONLY, "link_score"]


def _driven(genes, peaks, mdata) -> np.ndarray:
    """tests/synthetic_mdata.py: GENE g < n_genes / 2 opens peaks 2g and 2g + 1."""
    index = {p: i for i, p in enumerate(mdata.mod["atac"].var_names)}
    half = mdata.mod["rna"].n_vars // 2
    numbers = [int(g.removeprefix("GENE")) for g in genes]
    return np.asarray([g < half and index[p] // 2 == g for g, p in zip(numbers, peaks)])


@pytest.mark.parametrize("groupby", [None, "leiden"], ids=["all-cells", "per-group"])
def test_calls_keep_the_false_discovery_proportion(groupby):
    """Over five worlds (cell-type programs move every gene and peak; half the genes drive
    two peaks each, the other half nothing), at most 5 % of the calls are unplanted, with two
    binomial standard errors of slack, and most planted links are found."""
    calls = false = found = planted = 0
    for seed in SEEDS:
        mdata = _with_pcs(make_prepared_mdata(n_cells=400, n_genes=80, n_peaks=120, seed=seed))
        options = LinkOptions(window=1_000_000, state_pcs=3, min_cells=40)
        table = link_genes(mdata, "all", groupby=groupby, options=options, key_added=None).links
        truth = _driven(table["gene"].astype(str), table["peak"].astype(str), mdata)
        hit = table["called"].to_numpy()
        calls += hit.sum()
        false += (hit & ~truth).sum()
        everyone = (table["group"] == "all").to_numpy()
        found += (hit & truth & everyone).sum()
        planted += (truth & everyone).sum()
    assert calls > 0
    assert false / calls <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / calls)
    # and the calls are not empty: over all cells 37 % of planted links were found here
    assert found >= 0.25 * planted


def _noisy_type_world(seed: int, n_genes: int = 30, n_peaks: int = 240):
    """Genes and the peaks near them vary three times as much in cell type 0 as elsewhere,
    independently (a type-matched neighbourhood, no link); the first ten genes drive their
    first peak. Peaks beyond every gene's window are plain noise. The state is the type."""
    mdata = make_prepared_mdata(n_cells=800, n_genes=n_genes, n_peaks=n_peaks, seed=seed)
    rng = np.random.default_rng(seed)
    types = mdata.mod["rna"].obs["leiden"].astype(int).to_numpy()
    scale = np.where(types == 0, 3.0, 1.0)[:, None]
    genes = 2.0 + rng.normal(size=(800, n_genes)) * scale + types[:, None]
    peaks = 2.0 + rng.normal(size=(800, n_peaks)) * types[:, None] / 4
    near = np.arange(n_peaks) < 2 * n_genes + 10  # within 1 Mb of some gene
    peaks[:, near] += rng.normal(size=(800, near.sum())) * scale
    peaks[:, ~near] += rng.normal(size=(800, (~near).sum()))
    for g in range(10):
        peaks[:, 2 * g] += 0.4 * (genes[:, g] - genes[:, g].mean())
    mdata.mod["rna"].X = sp.csr_matrix(genes.astype(np.float32))
    mdata.mod["atac"].X = sp.csr_matrix(peaks.astype(np.float32))
    mdata.mod["rna"].obsm["X_pca"] = np.eye(4)[types][:, 1:]
    return mdata


def test_calls_hold_where_gene_and_peaks_vary_more_in_the_same_type():
    """The t of each pair is robust to both varying more in the same cells (the plain t
    called 54 false of 84 calls over these three seeds): at most 5 % of the calls are false,
    with two binomial standard errors of slack, and most planted links are found."""
    calls = false = found = 0
    for seed in SEEDS[:3]:
        mdata = _noisy_type_world(seed)
        options = LinkOptions(window=1_000_000, state_pcs=3, min_cells=40)
        table = link_genes(mdata, "all", options=options, key_added=None).links
        planted = np.asarray(
            [
                int(g.removeprefix("GENE")) < 10
                and p == mdata.mod["atac"].var_names[2 * int(g.removeprefix("GENE"))]
                for g, p in zip(table["gene"].astype(str), table["peak"].astype(str))
            ]
        )
        hit = table["called"].to_numpy()
        calls, false, found = (
            calls + hit.sum(),
            false + (hit & ~planted).sum(),
            found + (hit & planted).sum(),
        )
    assert calls > 0
    assert false / calls <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / calls)
    assert found >= 0.6 * 30  # of the 3 x 10 planted links


def test_groups_are_scored_and_compared():
    mdata = _with_pcs(make_prepared_mdata(n_cells=400, n_genes=40, n_peaks=80, seed=5))
    options = LinkOptions(state_pcs=3, min_cells=40)
    result = link_genes(mdata, "hvg", groupby="leiden", options=options, key_added="links")
    groups = set(result.links["group"].astype(str))
    assert groups == {"all"} | set(mdata.obs["leiden"].astype(str))
    assert {"links", "comparison", "params"} <= set(mdata.uns["links"])
    assert mdata.uns["links"]["params"]["groupby"] == "leiden"
    comparison = result.comparison
    assert {"p_differs", "fdr_differs", "groups_called"} <= set(comparison.columns)
    assert comparison["p_differs"].between(0, 1).all()
    assert comparison.columns.name is None  # no stray header cell in the page's table


def test_a_link_in_one_group_only_is_found_to_differ():
    """Two groups; the gene drives its peak in group a only: the comparison says it differs,
    and a link present in both groups does not."""
    rng = np.random.default_rng(0)
    rows = []
    n = 300
    for group, strength in (("a", 1.0), ("b", 0.0)):
        g1, g2 = rng.normal(size=n), rng.normal(size=n)
        p1 = strength * g1 + rng.normal(size=n)  # only in a
        p2 = 0.8 * g2 + rng.normal(size=n)  # in both
        rows.append((group, g1, g2, p1, p2))
    table = []
    for group, g1, g2, p1, p2 in rows:
        for gene, peak, x, y in (("G1", "P1", g1, p1), ("G2", "P2", g2, p2)):
            r = float(np.corrcoef(x, y)[0, 1])
            table.append(
                {
                    "group": group,
                    "gene": gene,
                    "peak": peak,
                    "partial_r": r,
                    "n_cells": n,
                    "called": abs(r) > 0.2,
                }
            )
    frame = pd.DataFrame(table)
    comparison = compare_groups(frame).set_index("gene")
    assert comparison.loc["G1", "differs"]
    assert not comparison.loc["G2", "differs"]


def test_missing_pcs_are_computed_once_and_logged(capsys, monkeypatch):
    monkeypatch.delenv("GENEPEAK_QUIET", raising=False)
    mdata = make_prepared_mdata(n_cells=200, n_genes=40, n_peaks=60, seed=1)
    assert "X_pca" not in mdata.mod["rna"].obsm
    link_genes(mdata, ["GENE1"], options=LinkOptions(min_cells=10), key_added=None)
    assert "PCs computed from rna.X" in capsys.readouterr().out
    assert "X_pca" not in mdata.mod["rna"].obsm  # not stored behind the user's back


def test_bad_inputs_are_named(tiny_mdata):
    options = LinkOptions(min_cells=10)
    with pytest.raises(InputError, match="NOPE1, NOPE2"):
        link_genes(tiny_mdata, ["GENE1", "NOPE1", "NOPE2"], options=options)
    with pytest.raises(InputError, match="'celltype' is not a column of mdata.obs"):
        link_genes(tiny_mdata, ["GENE1"], groupby="celltype", options=options)
    with pytest.raises(InputError, match=r"fewer than 1000 cells: 0 \(\d+ cells\)"):
        link_genes(tiny_mdata, ["GENE1"], groupby="leiden", options=LinkOptions(min_cells=1000))
    del tiny_mdata.mod["rna"].var["highly_variable"]
    with pytest.raises(InputError, match="no 'highly_variable' column"):
        link_genes(tiny_mdata, "hvg", options=options)


def test_small_groups_can_be_skipped(tiny_mdata):
    counts = tiny_mdata.obs["leiden"].value_counts()
    options = LinkOptions(min_cells=int(counts.max()), skip_small_groups=True)
    result = link_genes(tiny_mdata, ["GENE1"], groupby="leiden", options=options)
    assert set(result.links["group"].astype(str)) == {"all", str(counts.idxmax())}


def test_peaks_without_coordinates_are_refused(tiny_mdata):
    atac = tiny_mdata.mod["atac"]
    atac.var = atac.var.drop(columns=["chrom", "start", "end"])
    atac.var_names = [f"peak{i}" for i in range(atac.n_vars)]
    with pytest.raises(InputError, match="peaks need coordinates"):
        link_genes(tiny_mdata, ["GENE1"], options=LinkOptions(min_cells=10))


def test_a_model_of_other_genes_is_refused(tiny_mdata):
    class OtherModel:
        genes = ["GENE1", "GENE2"]
        peaks = list(tiny_mdata.mod["atac"].var_names)

    with pytest.raises(InputError, match="trained on other genes"):
        link_genes(tiny_mdata, ["GENE1", "GENE5"], model=OtherModel(), key_added=None)

    class OtherPeaks(OtherModel):
        genes = list(tiny_mdata.mod["rna"].var_names)
        peaks = ["chr9:1-100"]

    with pytest.raises(InputError, match="trained on other peaks"):
        link_genes(tiny_mdata, ["GENE1"], model=OtherPeaks(), key_added=None)


def test_the_model_latent_joins_the_state(tiny_mdata):
    """With a model, its latent (gene held at its mean) is one more part of the state: the
    degrees of freedom fall, and a latent that is pure noise changes the evidence little."""
    from tests.explain.explain_fakes import linear_model_for

    model = linear_model_for(tiny_mdata)
    rng = np.random.default_rng(0)
    model.cell_state = lambda x: rng.normal(size=(len(x), 4))
    options = LinkOptions(min_cells=10, state_pcs=3)
    _with_pcs(tiny_mdata)
    plain = link_genes(tiny_mdata, ["GENE1", "GENE2"], options=options, key_added=None).links
    with_model = link_genes(
        tiny_mdata, ["GENE1", "GENE2"], model=model, options=options, key_added=None
    ).links
    assert len(plain) == len(with_model)
    assert np.corrcoef(plain["partial_r"], with_model["partial_r"])[0, 1] > 0.9
    assert not np.allclose(plain["partial_r"], with_model["partial_r"])


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_a_population_matrix_is_one_csc_copy_of_its_rows(fmt):
    import scipy.sparse as sp

    from genepeak.links import genome

    rng = np.random.default_rng(3)
    x = sp.random(40, 30, density=0.2, format=fmt, random_state=4, dtype=np.float32)
    x.data[:5] = 0.0  # explicit zeros are not "detected"
    x[:, 7] = 0.0  # an empty column
    atac = type("Atac", (), {"X": x, "n_obs": 40})()
    before = x.copy()
    for rows in (np.arange(40), np.sort(rng.choice(40, 25, replace=False))):
        peaks = genome._csc_peaks(atac, rows)
        assert peaks.format == "csc" and peaks.dtype == np.float32
        dense = x.toarray()[rows]
        np.testing.assert_array_equal(peaks.toarray(), dense)
        np.testing.assert_array_equal(genome._detected(peaks, 3), (dense != 0).sum(0) >= 3)
    assert (x != before).nnz == 0 and x.nnz == before.nnz  # the caller's matrix is untouched


def test_the_smaller_t_is_kept_and_one_gene_products_match_the_blocks():
    """``_Residuals.t`` keeps the plain t where the sandwich is narrower (a peak open in few
    cells) and the sandwich where it is wider (spread shared with the gene); the sparse
    one-gene products equal the blocked ones, also with the basis extended by a latent."""
    from genepeak.links.genome import _extend, _Residuals

    rng = np.random.default_rng(0)
    n = 400
    covariates = rng.normal(size=(n, 3))
    noisy = np.where(np.arange(n) < 80, 3.0, 1.0)
    gene = rng.normal(size=n) * noisy
    # open in the 3 cells whose gene value is nearest 0.2: the sandwich sees only their small
    # products and is narrower than the plain t's pooled spread
    rare = np.argsort(np.abs(gene - 0.2))[:3]
    peaks = np.column_stack(
        [
            rng.normal(size=n) * noisy + 0.2 * gene,  # shared spread: the sandwich is wider
            np.isin(np.arange(n), rare) * 5.0,
        ]
    )
    residual = _Residuals.fit(sp.csc_matrix(peaks), gene[:, None], covariates)
    cov, meat = residual.products(np.arange(2), np.array([0]))
    r, t = residual.t(cov[:, 0], meat[:, 0], residual.peak_ss, residual.gene_ss[0])
    plain = baselines.t_statistic(r, baselines.residual_df(residual.basis))
    robust = cov[:, 0] / np.sqrt(meat[:, 0])
    assert abs(robust[0]) < abs(plain[0]) and t[0] == pytest.approx(robust[0])
    assert abs(robust[1]) > abs(plain[1]) and t[1] == pytest.approx(plain[1])
    extended = _extend(residual, rng.normal(size=(n, 2)))
    assert extended.basis.shape[1] == residual.basis.shape[1] + 2
    one_cov, one_meat = extended.one_gene_products()
    block_cov, block_meat = extended.products(np.arange(2), np.array([0]))
    np.testing.assert_allclose(one_cov, block_cov[:, 0], rtol=1e-4)
    np.testing.assert_allclose(one_meat, block_meat[:, 0], rtol=1e-4)
