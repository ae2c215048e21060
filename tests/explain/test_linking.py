"""Population link scores: vectorised silencing and the calibrated table (the statistics
themselves: tests/links/test_calibration.py; the matched null genes: tests/links/test_nulls.py)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats
from tests.explain.explain_fakes import LinearFakeModel, linear_model_for
from tests.synthetic_mdata import make_prepared_mdata

from genepeak.config import ExplainConfig
from genepeak.errors import InputError
from genepeak.explain import linking


def test_population_effects_equal_the_linear_weights_times_mean_expression():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(6, 4)).astype(np.float32)
    model = LinearFakeModel([f"G{i}" for i in range(6)], list("abcd"), weights, np.zeros(4))
    x = rng.gamma(2.0, 1.0, size=(50, 6)).astype(np.float32)
    effects = linking.population_effects(model, x, np.array([0, 3, 5]))
    expected = -x[:, [0, 3, 5]].mean(axis=0)[:, None] * weights[[0, 3, 5]]
    np.testing.assert_allclose(effects, expected, rtol=1e-4, atol=1e-5)


def _noisy_linear_model(mdata, seed=0):
    """linear_model_for's planted map plus small random weights from every gene to every peak."""
    model = linear_model_for(mdata)
    rng = np.random.default_rng(seed)
    model.weights = model.weights + rng.normal(0, 0.02, model.weights.shape).astype(np.float32)
    return model


def test_p_values_of_a_sham_gene_are_uniform_and_a_driver_is_found():
    mdata = make_prepared_mdata(n_cells=200, n_genes=60, n_peaks=90, seed=3)
    model = _noisy_linear_model(mdata)
    table = linking.link_scores(
        model, mdata, ["GENE3", "GENE40"], config=ExplainConfig(link_flip_cells=0)
    )
    driver = table[table["gene"] == "GENE3"].sort_values("link_score", ascending=False)
    assert set(driver["peak"].head(2)) == {model.peaks[6], model.peaks[7]}
    assert (driver["fdr"].head(2) < 0.05).all()
    sham = table[table["gene"] == "GENE40"]
    assert (sham["fdr"] < 0.05).sum() == 0
    assert stats.kstest(sham["p_value"], "uniform").pvalue > 1e-3


def test_silencing_a_gene_that_is_zero_everywhere_is_refused_with_a_hint():
    mdata = make_prepared_mdata(n_cells=120, n_genes=30, n_peaks=40, seed=4)
    rna = mdata.mod["rna"]
    x = rna.X.toarray()
    x[:, 5] = 0
    rna.X = sp.csr_matrix(x)
    model = linear_model_for(mdata)
    with pytest.raises(InputError, match="GENE5 is 0 in every cell.*changes nothing"):
        linking.link_scores(model, mdata, ["GENE5"], config=ExplainConfig(link_flip_cells=0))


def test_a_population_needs_a_labels_column():
    mdata = make_prepared_mdata(n_cells=120, n_genes=30, n_peaks=40, seed=5)
    model = linear_model_for(mdata)
    with pytest.raises(InputError, match="labels_key"):
        linking.link_scores(model, mdata, ["GENE1"], cell_type="0")
    with pytest.raises(InputError, match="no cell has leiden == 'X'"):
        linking.link_scores(model, mdata, ["GENE1"], labels_key="leiden", cell_type="X")


def test_link_scores_of_a_gpg_rank_every_peak_by_the_state_adjusted_evidence(tiny_mdata):
    from sklearn.decomposition import PCA

    from genepeak.models import GPG

    rna = tiny_mdata.mod["rna"]  # prepared data carries PCs; these 60 genes carry 3 of them
    rna.obsm["X_pca"] = PCA(3, random_state=0).fit_transform(rna.X.toarray())
    fast = dict(latent_dim=8, hidden=[32], lr=1e-2, batch_size=64, beta_max=0.01)
    model = GPG(tiny_mdata, epochs=25, cis_window=50_000, **fast).train()
    table = linking.link_scores(
        model, tiny_mdata, ["GENE3"], config=ExplainConfig(link_flip_cells=0, state_pcs=3)
    )
    inside = np.abs(np.nan_to_num(table["distance_to_tss"], nan=np.inf)) <= 50_000
    assert {"state_t", "state_z", "state_p_value", "state_fdr"} <= set(table.columns)
    assert table.loc[~inside, "state_fdr"].isna().all()  # calls are made inside the window
    assert table["state_z"].notna().all()  # the evidence is read on every peak
    # one gene has 2 peaks in its window: too few to learn how rare links beyond it are
    assert np.isfinite(table.loc[inside, "link_score"]).all()
    assert np.isneginf(table.loc[~inside, "link_score"]).all()
    # GENE3 drives the two peaks at its own TSS (tests/synthetic_mdata.py)
    top = table.sort_values("link_score", ascending=False)["peak"].head(2)
    assert set(top) == {model.peaks[6], model.peaks[7]}
    assert (table.set_index("peak").loc[list(top), "state_t"] > 0).all()  # it opens them
