"""Reduced-rank ridge: the hand computation, its rank choice, and when it beats the full ridge."""

from __future__ import annotations

import numpy as np
import pytest
from eval_fakes import make_typed_mdata, paired_counts_mdata, typed_split

from genepeak.config import EvaluateConfig
from genepeak.errors import ConfigError
from genepeak.evaluate import _data
from genepeak.evaluate.baselines import (
    DepthRidgeBaseline,
    ReducedRankRidgeBaseline,
    RidgeBaseline,
)
from genepeak.evaluate.metrics import auroc_columns

CONFIG = EvaluateConfig(n_pcs=10, compute_umap=False, reduced_ranks=[1, 2, 4])


def low_rank_mdata(n_cells: int = 400, n_genes: int = 60, n_peaks: int = 300, seed: int = 0):
    """Two hidden factors drive every gene and every peak; each peak alone is a noisy 0/1."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n_cells, 2))
    log_rate = 1.0 + factors @ rng.normal(0, 0.6, size=(2, n_genes))
    counts_rna = rng.poisson(np.exp(log_rate)).astype(np.float32)
    logits = -1.5 + factors @ rng.normal(0, 0.8, size=(2, n_peaks))
    counts_atac = (rng.random((n_cells, n_peaks)) < 1 / (1 + np.exp(-logits))).astype(np.float32)
    return paired_counts_mdata(counts_rna, counts_atac, np.where(factors[:, 0] > 0, "a", "b"))


@pytest.fixture(scope="module")
def typed():
    mdata = make_typed_mdata()
    return mdata, typed_split(mdata)


def test_reduced_rank_ridge_is_the_ridge_projected_on_its_leading_directions(typed):
    from sklearn.linear_model import Ridge

    mdata, split = typed
    baseline = ReducedRankRidgeBaseline(mdata, split, CONFIG)
    emb = baseline.embeddings
    train, val, test = split["train"], split["val"], split["test"]
    x_train, x_val, x_test = (emb.rna(mdata, c) for c in (train, val, test))
    y_train = _data.peaks_open(mdata, train).astype(float)
    y_val = _data.peaks_open(mdata, val)
    ridge = Ridge(alpha=CONFIG.ridge_alpha).fit(x_train, y_train)
    fitted = ridge.predict(x_train) - y_train.mean(0)
    _, _, vt = np.linalg.svd(fitted, full_matrices=False)

    def predict(x, rank):
        top = vt[:rank]
        return (ridge.predict(x) - y_train.mean(0)) @ top.T @ top + y_train.mean(0)

    errors = [((np.clip(predict(x_val, r), 0, 1) - y_val) ** 2).sum() for r in CONFIG.reduced_ranks]
    rank = CONFIG.reduced_ranks[int(np.argmin(errors))]
    assert baseline.peak_rank == rank
    np.testing.assert_allclose(
        baseline.predict_peaks(mdata, cells=test),
        np.clip(predict(x_test, rank), 0, 1),
        atol=1e-5,
    )


def test_a_rank_as_large_as_the_components_is_the_plain_ridge(typed):
    mdata, split = typed
    config = EvaluateConfig(n_pcs=10, compute_umap=False, reduced_ranks=[10])
    reduced = ReducedRankRidgeBaseline(mdata, split, config)
    plain = RidgeBaseline(mdata, split, config)
    for method in ("predict_peaks", "predict_genes"):
        np.testing.assert_allclose(
            getattr(reduced, method)(mdata, cells=split["test"]),
            getattr(plain, method)(mdata, cells=split["test"]),
            atol=1e-5,
        )


def test_reduced_rank_ridge_beats_the_full_ridge_when_targets_share_few_factors():
    mdata = low_rank_mdata()
    split = typed_split(mdata)
    config = EvaluateConfig(n_pcs=40, compute_umap=False)
    reduced = ReducedRankRidgeBaseline(mdata, split, config)
    plain = RidgeBaseline(mdata, split, config)
    test = split["test"]
    observed = _data.peaks_open(mdata, test)

    def auroc(baseline):
        return float(np.nanmean(auroc_columns(observed, baseline.predict_peaks(mdata, cells=test))))

    assert reduced.peak_rank == 2
    assert auroc(reduced) > auroc(plain) + 0.01


def test_reduced_rank_ridge_refuses_an_empty_or_zero_rank_grid(typed):
    mdata, split = typed
    for ranks in ([], [0, 2]):
        with pytest.raises(ConfigError, match="reduced_ranks"):
            ReducedRankRidgeBaseline(mdata, split, EvaluateConfig(n_pcs=10, reduced_ranks=ranks))


def depth_mdata(n_cells: int = 600, n_genes: int = 200, n_peaks: int = 300, seed: int = 0):
    """Two cell types; each cell's depth scales its RNA and ATAC counts alike. ``rna.X`` is
    depth-normalised log1p, as prepared data is, so only the detected genes carry the depth."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    types = rng.integers(0, 2, n_cells)
    depth = np.exp(rng.normal(0, 0.5, n_cells))
    rates = np.exp(rng.normal(-1.0, 1.0, (2, n_genes)))
    counts_rna = rng.poisson(depth[:, None] * rates[types]).astype(np.float32)
    open_rate = np.exp(rng.normal(-2.0, 0.7, (2, n_peaks)))
    p_open = 1 - np.exp(-depth[:, None] * open_rate[types])
    counts_atac = (rng.random((n_cells, n_peaks)) < p_open).astype(np.float32)
    mdata = paired_counts_mdata(counts_rna, counts_atac, np.where(types == 1, "a", "b"))
    totals = counts_rna.sum(1, keepdims=True)
    normalised = np.log1p(counts_rna / np.maximum(totals, 1) * np.median(totals))
    mdata.mod["rna"].X = sp.csr_matrix(normalised.astype(np.float32))
    return mdata


def test_the_depth_ridge_beats_the_reduced_rank_ridge_when_depth_opens_peaks():
    mdata = depth_mdata()
    split = typed_split(mdata)
    config = EvaluateConfig(n_pcs=10, compute_umap=False)
    depth = DepthRidgeBaseline(mdata, split, config)
    reduced = ReducedRankRidgeBaseline(mdata, split, config, embeddings=depth.embeddings)
    test = split["test"]
    observed = _data.peaks_open(mdata, test)

    def auroc(baseline):
        return float(np.nanmean(auroc_columns(observed, baseline.predict_peaks(mdata, cells=test))))

    predicted = depth.predict_peaks(mdata, cells=test)
    assert predicted.shape == observed.shape and 0 <= predicted.min() <= predicted.max() <= 1
    assert auroc(depth) > auroc(reduced) + 0.02
    assert depth.gene_task is None  # RNA -> ATAC only


def test_detected_genes_ignore_stored_zeros():
    import scipy.sparse as sp

    from genepeak.evaluate.baselines import _log_detected

    mdata = depth_mdata(n_cells=20, n_genes=5, n_peaks=4)
    x = sp.csr_matrix(np.array([[1.0, 0, 2, 0, 0]] * 20, dtype=np.float32))
    x.data[0] = 0.0  # an explicit zero stored in the first cell
    mdata.mod["rna"].X = x
    detected = _log_detected(mdata, mdata.obs_names[:3])
    np.testing.assert_array_equal(detected, np.log1p([1, 2, 2]))


def test_ridge_predictions_in_blocks_equal_one_block(typed, monkeypatch):
    from genepeak.evaluate import baselines

    mdata, split = typed
    ridge = ReducedRankRidgeBaseline(mdata, split, CONFIG)
    whole_peaks = ridge.predict_peaks(mdata, split["test"])
    whole_genes = ridge.predict_genes(mdata, split["test"])
    monkeypatch.setattr(baselines, "PREDICTION_ENTRIES", 7)  # one cell per block
    np.testing.assert_allclose(ridge.predict_peaks(mdata, split["test"]), whole_peaks, atol=1e-6)
    np.testing.assert_allclose(ridge.predict_genes(mdata, split["test"]), whole_genes, atol=1e-6)
    assert whole_peaks.dtype == np.float32 and whole_peaks.min() >= 0 and whole_peaks.max() <= 1
