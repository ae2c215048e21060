"""Cluster-profile and per-type ridge baselines on data with known types and within-type state."""

from __future__ import annotations

import numpy as np
import pytest
from eval_fakes import make_typed_mdata, typed_split

from genepeak.config import EvaluateConfig
from genepeak.evaluate import evaluate
from genepeak.evaluate.baselines import (
    ClusterProfileBaseline,
    PerTypeRidgeBaseline,
    RidgeBaseline,
    fit_baselines,
)
from genepeak.evaluate.metrics import auroc_columns

CONFIG = EvaluateConfig(n_pcs=10, knn_k=5, compute_umap=False, per_type_min_cells=30)


@pytest.fixture(scope="module")
def typed():
    mdata = make_typed_mdata()
    return mdata, typed_split(mdata)


def _open(mdata, cells):
    atac = mdata.mod["atac"]
    return atac.layers["counts"][atac.obs_names.get_indexer(cells)].toarray() > 0


def _rna(mdata, cells):
    rna = mdata.mod["rna"]
    return rna.X[rna.obs_names.get_indexer(cells)].toarray()


def _types(mdata, cells):
    return mdata.obs["leiden"].astype(str).to_numpy()[mdata.obs_names.get_indexer(cells)]


def test_cluster_profile_is_the_training_fraction_of_the_cells_type(typed):
    mdata, split = typed
    baseline = ClusterProfileBaseline(mdata, split, CONFIG)
    test = split["test"]
    train_types, test_types = _types(mdata, split["train"]), _types(mdata, test)
    open_train = _open(mdata, split["train"])
    peaks = baseline.predict_peaks(mdata, cells=test)
    for t in np.unique(test_types):
        expected = open_train[train_types == t].mean(0)
        np.testing.assert_allclose(
            peaks[test_types == t], np.tile(expected, ((test_types == t).sum(), 1)), rtol=1e-6
        )
    # within one type every cell gets the same profile: nothing ranks cells inside a type
    rows = test_types == "t0"
    assert np.isnan(auroc_columns(_open(mdata, test)[rows], peaks[rows])[8:]).sum() == 0
    np.testing.assert_allclose(auroc_columns(_open(mdata, test)[rows], peaks[rows])[8:], 0.5)


def test_cluster_profile_genes_come_from_the_cluster_read_off_atac(typed):
    mdata, split = typed
    baseline = ClusterProfileBaseline(mdata, split, CONFIG)
    test = split["test"]
    predicted = baseline.clusters.atac(mdata, test)
    # the marker peaks make the type readable from ATAC alone
    assert np.mean(predicted == _types(mdata, test)) > 0.9
    train_types, rna_train = _types(mdata, split["train"]), _rna(mdata, split["train"])
    genes = baseline.predict_genes(mdata, cells=test)
    for i, t in enumerate(predicted):
        np.testing.assert_allclose(genes[i], rna_train[train_types == t].mean(0), rtol=1e-5)


def test_cluster_profile_falls_back_to_the_mean_for_unseen_labels(typed):
    mdata, split = typed
    baseline = ClusterProfileBaseline(mdata, split, CONFIG)
    mdata = mdata.copy()
    first = split["test"][0]
    labels = mdata.obs["leiden"].astype(str)
    labels[first] = "never-seen"
    mdata.obs["leiden"] = labels
    np.testing.assert_allclose(
        baseline.predict_peaks(mdata, cells=[first])[0],
        _open(mdata, split["train"]).mean(0),
        rtol=1e-6,
    )


def test_per_type_ridge_is_scikit_learn_ridge_within_each_large_cluster(typed):
    from sklearn.linear_model import Ridge

    mdata, split = typed
    baseline = PerTypeRidgeBaseline(mdata, split, CONFIG)
    emb = baseline.embeddings
    train, val, test = split["train"], split["val"], split["test"]
    train_types, val_types, test_types = (_types(mdata, c) for c in (train, val, test))
    x_train, x_val, x_test = (emb.rna(mdata, c) for c in (train, val, test))
    y_train, y_val = _open(mdata, train).astype(float), _open(mdata, val)
    # the penalty is the one with the least validation squared error over the large clusters
    errors = []
    for alpha in CONFIG.per_type_alphas:
        sse = 0.0
        for t in ("t0", "t1", "t2"):
            fit = Ridge(alpha=alpha).fit(x_train[train_types == t], y_train[train_types == t])
            pred = np.clip(fit.predict(x_val[val_types == t]), 0, 1)
            sse += ((pred - y_val[val_types == t]) ** 2).sum()
        errors.append(sse)
    assert baseline.peak_alpha == CONFIG.per_type_alphas[int(np.argmin(errors))]
    predicted = baseline.predict_peaks(mdata, cells=test)
    for t in ("t0", "t1", "t2"):
        fit = Ridge(alpha=baseline.peak_alpha).fit(
            x_train[train_types == t], y_train[train_types == t]
        )
        expected = np.clip(fit.predict(x_test[test_types == t]), 0, 1)
        np.testing.assert_allclose(predicted[test_types == t], expected, atol=1e-5)
    # t3 has 9 training cells (< per_type_min_cells): the global ridge answers for it
    assert "t3" not in baseline.peak_models and (test_types == "t3").any()
    global_ridge = RidgeBaseline(mdata, split, CONFIG).predict_peaks(mdata, cells=test)
    np.testing.assert_allclose(
        predicted[test_types == "t3"], global_ridge[test_types == "t3"], atol=1e-6
    )


def test_per_type_ridge_learns_the_within_type_state_the_others_miss(typed):
    mdata, split = typed
    result = evaluate(mdata, {}, CONFIG, split=split)
    test = split["test"]
    observed = _open(mdata, test)
    test_types = _types(mdata, test)
    fitted = fit_baselines(mdata, split, CONFIG)

    def within_type_auroc(name):
        """Per-peak AUROC of the state-driven peaks among the test cells of one type."""
        scores = fitted[name].predict_peaks(mdata, cells=test)
        values = []
        for t in ("t0", "t1", "t2"):
            rows = test_types == t
            values.append(np.nanmean(auroc_columns(observed[rows][:, 8:], scores[rows][:, 8:])))
        return float(np.mean(values))

    assert within_type_auroc("cluster_profile") == pytest.approx(0.5)
    assert within_type_auroc("per_type_ridge") > 0.75
    assert within_type_auroc("per_type_ridge") > within_type_auroc("ridge") + 0.1
    table = result.table
    assert {"cluster_profile", "per_type_ridge"} <= set(table.index)
    assert (
        table.loc["per_type_ridge", "peak_auroc_per_peak"]
        > table.loc["cluster_profile", "peak_auroc_per_peak"]
        > table.loc["mean", "peak_auroc_per_peak"]
    )
    assert table.loc["cluster_profile", "gene_pearson_per_gene"] > 0.3


def test_per_type_ridge_refuses_an_empty_penalty_grid(typed):
    from genepeak.errors import ConfigError

    mdata, split = typed
    with pytest.raises(ConfigError, match="per_type_alphas"):
        PerTypeRidgeBaseline(mdata, split, EvaluateConfig(n_pcs=10, per_type_alphas=[]))


def test_evaluate_fits_each_baseline_after_the_last_one_is_gone(typed, monkeypatch):
    """Baselines are fitted, scored and dropped one at a time: at PBMC-10k size holding them
    all at once costs GiB."""
    import gc
    import weakref

    from genepeak.evaluate import baselines, evaluation

    mdata, split = typed
    scored, alive_at_fit = [], []
    score = evaluation.score_predictor

    def watching(predictor, *args, **kwargs):
        scored.append(weakref.ref(predictor))
        return score(predictor, *args, **kwargs)

    build = baselines._Baseline.__init__

    def building(self, *args, **kwargs):
        gc.collect()
        alive_at_fit.append(sum(ref() is not None for ref in scored))
        build(self, *args, **kwargs)

    monkeypatch.setattr(evaluation, "score_predictor", watching)
    monkeypatch.setattr(baselines._Baseline, "__init__", building)
    result = evaluate(mdata, {}, CONFIG, split=split)
    assert len(scored) == len(result.table) >= 9
    assert len(alive_at_fit) == len(scored)  # one fit per baseline (this test has no models)
    assert alive_at_fit == [0] * len(scored)
