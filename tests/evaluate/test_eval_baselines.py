"""Baselines: hand-checkable predictions, and proof that no test cell is used to fit anything."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from eval_fakes import FakeModel

from genepeak.config import EvaluateConfig
from genepeak.errors import InputError
from genepeak.evaluate import evaluate
from genepeak.evaluate.baselines import (
    KNNBaseline,
    MeanBaseline,
    PCABaseline,
    RidgeBaseline,
    fit_baselines,
)

CONFIG = EvaluateConfig(n_pcs=10, knn_k=5, compute_umap=False)


def _rows(matrix, names, cells):
    return matrix[names.get_indexer(cells)].toarray()


def test_mean_baseline_is_the_training_mean(fake_model):
    mdata, split = fake_model.mdata, fake_model.split
    baseline = MeanBaseline(mdata, split, CONFIG)
    atac, rna = mdata.mod["atac"], mdata.mod["rna"]
    open_train = _rows(atac.layers["counts"], atac.obs_names, split["train"]) > 0
    peaks = baseline.predict_peaks(mdata, cells=split["test"])
    assert peaks.shape == (len(split["test"]), atac.n_vars)
    np.testing.assert_allclose(peaks[0], open_train.mean(0), rtol=1e-6)
    np.testing.assert_allclose(peaks[-1], peaks[0])
    genes = baseline.predict_genes(mdata, cells=split["test"][:3])
    np.testing.assert_allclose(
        genes[1], _rows(rna.X, rna.obs_names, split["train"]).mean(0), rtol=1e-5
    )


def test_knn_with_k1_returns_the_nearest_training_cell(fake_model):
    mdata, split = fake_model.mdata, fake_model.split
    baseline = KNNBaseline(mdata, split, EvaluateConfig(n_pcs=10, knn_k=1))
    atac, rna = mdata.mod["atac"], mdata.mod["rna"]
    train = split["train"][:5]
    # a training cell's nearest training cell is itself
    np.testing.assert_array_equal(
        baseline.predict_peaks(mdata, cells=train),
        _rows(atac.layers["counts"], atac.obs_names, train) > 0,
    )
    np.testing.assert_allclose(
        baseline.predict_genes(mdata, cells=train), _rows(rna.X, rna.obs_names, train), rtol=1e-6
    )
    # a test cell gets the open fraction of its 5 neighbours: multiples of 1/5
    five = KNNBaseline(mdata, split, CONFIG).predict_peaks(mdata, cells=split["test"])
    np.testing.assert_allclose(five * 5, np.round(five * 5), atol=1e-5)


def test_knn_averages_in_row_chunks_equal_one_product(fake_model, monkeypatch):
    from genepeak.evaluate import baselines

    mdata, split = fake_model.mdata, fake_model.split
    baseline = KNNBaseline(mdata, split, CONFIG)
    cells = split["test"]
    whole = baseline.predict_peaks(mdata, cells=cells), baseline.predict_genes(mdata, cells=cells)
    monkeypatch.setattr(baselines, "AVERAGE_ROWS", 5)
    assert len(cells) > 5 and len(cells) % 5 != 0
    chunked = baseline.predict_peaks(mdata, cells=cells), baseline.predict_genes(mdata, cells=cells)
    for a, b in zip(whole, chunked):
        assert b.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_openness_and_tfidf_match_their_formulas_in_any_number_of_passes(fake_model, monkeypatch):
    from genepeak.evaluate import baselines
    from genepeak.io import prepared

    mdata, split = fake_model.mdata, fake_model.split
    atac = mdata.mod["atac"]
    cells = split["test"]
    opened = baselines.Embeddings._open(mdata, cells)
    expected_open = _rows(atac.layers["counts"], atac.obs_names, cells) > 0
    np.testing.assert_array_equal(opened.toarray(), expected_open)
    assert opened.dtype == np.float32 and opened.nnz == expected_open.sum()
    embeddings = baselines.Embeddings(mdata, split["train"], n_components=5)
    tf = expected_open / np.maximum(expected_open.sum(1, keepdims=True), 1.0)
    expected = np.log1p(np.float32(1e4) * (tf * embeddings.idf[None, :]).astype(np.float32))
    monkeypatch.setattr(prepared, "VALUES_PER_PASS", 7)  # passes that split rows
    tfidf = embeddings._tfidf(baselines.Embeddings._open(mdata, cells))
    np.testing.assert_allclose(tfidf.toarray(), expected, rtol=1e-5)


def test_ridge_matches_scikit_learn_on_the_same_components(fake_model):
    from sklearn.linear_model import Ridge

    mdata, split = fake_model.mdata, fake_model.split
    baseline = RidgeBaseline(mdata, split, EvaluateConfig(n_pcs=10, ridge_alpha=2.0))
    atac = mdata.mod["atac"]
    features = baseline.embeddings.rna(mdata, split["train"])
    target = _rows(atac.layers["counts"], atac.obs_names, split["train"]) > 0
    reference = Ridge(alpha=2.0).fit(features, target.astype(float))
    test_features = baseline.embeddings.rna(mdata, split["test"])
    expected = np.clip(reference.predict(test_features), 0, 1)
    np.testing.assert_allclose(
        baseline.predict_peaks(mdata, cells=split["test"]), expected, atol=1e-5
    )


def test_pca_baseline_latents_and_errors(fake_model):
    mdata, split = fake_model.mdata, fake_model.split
    baseline = PCABaseline(mdata, split, CONFIG)
    assert baseline.latent(mdata, cells=split["test"], key="rna").shape == (len(split["test"]), 10)
    assert baseline.latent(mdata, cells=split["test"], key="atac").shape[0] == len(split["test"])
    with pytest.raises(KeyError, match="rna"):
        baseline.latent(mdata, key="z1")
    with pytest.raises(InputError, match="overlap"):
        MeanBaseline(mdata, {**split, "test": split["train"][:3]}, CONFIG)


def _scramble_test_cells(mdata, test_cells, seed=7):
    """Replace every test cell's RNA and ATAC values with random ones (train/val untouched)."""
    rng = np.random.default_rng(seed)
    rows = mdata.obs_names.get_indexer(test_cells)
    for mod in ("rna", "atac"):
        adata = mdata.mod[mod]
        counts = adata.layers["counts"].toarray()
        values = adata.X.toarray()
        counts[rows] = rng.poisson(2.0, size=(len(rows), counts.shape[1]))
        values[rows] = np.log1p(counts[rows])
        adata.layers["counts"] = sp.csr_matrix(counts)
        adata.X = sp.csr_matrix(values)
    return mdata


def test_no_test_cell_is_used_to_fit_anything(tiny_mdata):
    model = FakeModel(tiny_mdata)
    split = model.split
    altered_mdata = _scramble_test_cells(tiny_mdata.copy(), split["test"])
    altered_model = FakeModel(altered_mdata)
    assert all(np.array_equal(split[k], altered_model.split[k]) for k in split)

    fitted = fit_baselines(tiny_mdata, split, CONFIG)
    refitted = fit_baselines(altered_mdata, split, CONFIG)
    emb, emb2 = fitted["knn"].embeddings, refitted["knn"].embeddings
    np.testing.assert_array_equal(emb.rna_pca.components_, emb2.rna_pca.components_)
    np.testing.assert_array_equal(emb.rna_pca.mean_, emb2.rna_pca.mean_)
    np.testing.assert_array_equal(emb.pca_genes, emb2.pca_genes)
    np.testing.assert_array_equal(emb.idf, emb2.idf)
    np.testing.assert_allclose(emb.atac_svd.components_, emb2.atac_svd.components_)
    np.testing.assert_array_equal(fitted["mean"].peak_fraction, refitted["mean"].peak_fraction)
    np.testing.assert_array_equal(fitted["mean"].gene_mean, refitted["mean"].gene_mean)
    for part in range(3):
        np.testing.assert_allclose(
            fitted["ridge"].peak_model[part], refitted["ridge"].peak_model[part]
        )
        np.testing.assert_allclose(
            fitted["ridge"].gene_model[part], refitted["ridge"].gene_model[part]
        )
    np.testing.assert_allclose(fitted["knn"].rna_index._fit_X, refitted["knn"].rna_index._fit_X)
    kernel, kernel2 = fitted["kernel_ridge"], refitted["kernel_ridge"]
    for kernel_fit, kernel_fit2 in (
        (kernel.peak_model, kernel2.peak_model),
        (kernel.gene_model, kernel2.gene_model),
    ):
        np.testing.assert_allclose(kernel_fit[0].landmarks, kernel_fit2[0].landmarks)
        np.testing.assert_allclose(kernel_fit[1], kernel_fit2[1], rtol=1e-6, atol=1e-8)
    assert (kernel.peak_alpha, kernel.gene_alpha) == (kernel2.peak_alpha, kernel2.gene_alpha)
    profile, profile2 = fitted["cluster_profile"], refitted["cluster_profile"]
    np.testing.assert_array_equal(profile.peak_profiles, profile2.peak_profiles)
    np.testing.assert_array_equal(profile.gene_profiles, profile2.gene_profiles)
    typed, typed2 = fitted["per_type_ridge"], refitted["per_type_ridge"]
    assert (typed.peak_alpha, typed.gene_alpha) == (typed2.peak_alpha, typed2.gene_alpha)
    for models, models2 in (
        (typed.peak_models, typed2.peak_models),
        (typed.gene_models, typed2.gene_models),
    ):
        assert models.keys() == models2.keys()
        for key in models:
            for part in range(3):
                np.testing.assert_allclose(models[key][part], models2[key][part], rtol=1e-6)

    before = evaluate(tiny_mdata, {"fake": model}, CONFIG)
    after = evaluate(altered_mdata, {"fake": altered_model}, CONFIG)
    for name, curves in before.threshold_curves.items():
        assert curves["threshold"] == after.threshold_curves[name]["threshold"], name
        np.testing.assert_array_equal(
            curves["sweep_val"]["f1"], after.threshold_curves[name]["sweep_val"]["f1"]
        )
    # the scrambled test cells did reach the scores
    assert before.metrics["knn"]["peaks"]["auroc"] != after.metrics["knn"]["peaks"]["auroc"]
    # (the fake's genes are 0.9 x the truth: Pearson is 1 either way, the error is not)
    assert before.metrics["fake"]["genes"]["rmse"] != after.metrics["fake"]["genes"]["rmse"]
