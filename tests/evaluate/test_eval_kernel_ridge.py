"""Kernel ridge (RBF): the hand computation, its width / penalty choice, when it beats the
linear ridge, its seeding, and its Nystroem / reduced-target shortcuts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from eval_fakes import make_typed_mdata, paired_counts_mdata, typed_split

from genepeak.config import EvaluateConfig
from genepeak.evaluate import _data
from genepeak.evaluate.baselines import (
    BASELINE_NAMES,
    KernelRidgeBaseline,
    ReducedRankRidgeBaseline,
    RidgeBaseline,
    _median_squared_distance,
    _target_basis,
    fit_baselines,
)
from genepeak.evaluate.metrics import auroc_columns

CONFIG = EvaluateConfig(n_pcs=10, compute_umap=False)


class ShortcutKernelRidge(KernelRidgeBaseline):
    """Both shortcuts on small data: 100 Nystroem landmarks, targets reduced to 8 directions."""

    NYSTROEM_COMPONENTS = 100
    TARGET_RANK = 8


@pytest.fixture(scope="module")
def typed():
    mdata = make_typed_mdata()
    return mdata, typed_split(mdata)


def xor_mdata(n_cells: int = 600, n_genes: int = 60, n_peaks: int = 40, seed: int = 0):
    """Two hidden factors, each driving half the genes; every peak opens with probability
    ``sigmoid(3 z1 z2)`` (an XOR of their signs), which no linear map of RNA-PCA can rank."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n_cells, 2))
    loadings = np.zeros((2, n_genes))
    loadings[0, : n_genes // 2] = 0.7
    loadings[1, n_genes // 2 :] = 0.7
    loadings *= rng.choice([-1.0, 1.0], size=(1, n_genes))
    counts_rna = rng.poisson(np.exp(1.5 + z @ loadings)).astype(np.float32)
    p_open = 1 / (1 + np.exp(-3.0 * z[:, :1] * z[:, 1:2]))
    counts_atac = (rng.random((n_cells, n_peaks)) < p_open).astype(np.float32)
    return paired_counts_mdata(counts_rna, counts_atac, np.where(z[:, 0] > 0, "a", "b"))


def test_kernel_ridge_is_scikit_learn_kernel_ridge_with_the_validation_choice(typed):
    from sklearn.kernel_ridge import KernelRidge

    mdata, split = typed
    baseline = KernelRidgeBaseline(mdata, split, CONFIG)
    emb = baseline.embeddings
    train, val, test = split["train"], split["val"], split["test"]
    assert len(train) <= KernelRidgeBaseline.NYSTROEM_COMPONENTS  # the exact kernel
    x_train, x_val, x_test = (emb.rna(mdata, c) for c in (train, val, test))
    y_train = _data.peaks_open(mdata, train).astype(float)
    y_val = _data.peaks_open(mdata, val)
    mean = y_train.mean(0)
    scale = _median_squared_distance(x_train, CONFIG.seed)

    def predict(x, gamma, alpha):
        fit = KernelRidge(alpha=alpha, kernel="rbf", gamma=gamma).fit(x_train, y_train - mean)
        return np.clip(fit.predict(x) + mean, 0, 1)

    grid = [(f / scale, a) for f in baseline.GAMMA_FACTORS for a in baseline.ALPHAS]
    errors = [((predict(x_val, g, a) - y_val) ** 2).sum() for g, a in grid]
    gamma, alpha = grid[int(np.argmin(errors))]
    assert (baseline.peak_gamma, baseline.peak_alpha) == pytest.approx((gamma, alpha))
    np.testing.assert_allclose(
        baseline.predict_peaks(mdata, cells=test), predict(x_test, gamma, alpha), atol=1e-5
    )
    # ATAC -> RNA: the same estimator on ATAC-LSI, at the pair chosen for genes
    a_train, a_test = emb.atac(mdata, train), emb.atac(mdata, test)
    g_train = _data.gene_values(mdata, train).astype(float)
    fit = KernelRidge(alpha=baseline.gene_alpha, kernel="rbf", gamma=baseline.gene_gamma)
    fit.fit(a_train, g_train - g_train.mean(0))
    np.testing.assert_allclose(
        baseline.predict_genes(mdata, cells=test),
        np.maximum(fit.predict(a_test) + g_train.mean(0), 0),
        atol=1e-4,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_ridge_beats_the_linear_ridges_when_peaks_follow_an_xor(seed):
    # measured on data seeds 0-9: kernel 0.81-0.87 mean per-peak AUROC, ridge 0.45-0.58,
    # margin 0.24-0.43
    mdata = xor_mdata(seed=seed)
    split = typed_split(mdata)
    kernel = KernelRidgeBaseline(mdata, split, CONFIG)
    ridge = RidgeBaseline(mdata, split, CONFIG, embeddings=kernel.embeddings)
    reduced = ReducedRankRidgeBaseline(mdata, split, CONFIG, embeddings=kernel.embeddings)
    test = split["test"]
    observed = _data.peaks_open(mdata, test)

    def auroc(baseline):
        return float(np.nanmean(auroc_columns(observed, baseline.predict_peaks(mdata, cells=test))))

    assert auroc(kernel) > 0.75
    assert auroc(kernel) > auroc(ridge) + 0.15
    assert auroc(kernel) > auroc(reduced) + 0.15


def test_kernel_ridge_is_seeded_and_reproducible(typed):
    mdata, split = typed
    test = split["test"]
    first = ShortcutKernelRidge(mdata, split, CONFIG)
    again = ShortcutKernelRidge(mdata, split, CONFIG)
    other = ShortcutKernelRidge(mdata, split, EvaluateConfig(n_pcs=10, seed=1))
    for method in ("predict_peaks", "predict_genes"):
        np.testing.assert_array_equal(
            getattr(first, method)(mdata, cells=test), getattr(again, method)(mdata, cells=test)
        )
    # another seed draws other landmarks (and PCs), so other predictions
    assert not np.array_equal(
        first.predict_peaks(mdata, cells=test), other.predict_peaks(mdata, cells=test)
    )
    landmarks = first.peak_model[0].landmarks
    assert len(landmarks) == 100
    np.testing.assert_array_equal(landmarks, again.peak_model[0].landmarks)


def test_the_shortcuts_stay_close_to_the_exact_kernel_ridge(typed):
    mdata, split = typed
    test = split["test"]
    exact = KernelRidgeBaseline(mdata, split, CONFIG)
    shortcut = ShortcutKernelRidge(mdata, split, CONFIG, embeddings=exact.embeddings)
    assert shortcut.peak_model[2].shape == (len(exact.peaks), 8)  # reduced targets
    assert exact.peak_model[2] is None
    for method in ("predict_peaks", "predict_genes"):
        a = getattr(exact, method)(mdata, cells=test).ravel()
        b = getattr(shortcut, method)(mdata, cells=test).ravel()
        assert np.corrcoef(a, b)[0, 1] > 0.95, method


@pytest.mark.parametrize("cls", [KernelRidgeBaseline, ShortcutKernelRidge])
def test_kernel_ridge_predicts_both_directions(typed, cls):
    mdata, split = typed
    baseline = cls(mdata, split, CONFIG)
    test = split["test"]
    peaks = baseline.predict_peaks(mdata, cells=test)
    genes = baseline.predict_genes(mdata, cells=test[:7])
    assert peaks.shape == (len(test), mdata.mod["atac"].n_vars) and peaks.dtype == np.float32
    assert genes.shape == (7, mdata.mod["rna"].n_vars) and genes.dtype == np.float32
    assert 0 <= peaks.min() <= peaks.max() <= 1 and genes.min() >= 0
    assert (baseline.peak_task, baseline.gene_task) == ("translation", "translation")
    assert baseline.peak_alpha in cls.ALPHAS and baseline.gene_alpha in cls.ALPHAS
    # the default cells are the test cells
    np.testing.assert_array_equal(baseline.predict_peaks(), peaks)


def test_kernel_ridge_is_fitted_with_every_baseline(tiny_mdata):
    from genepeak.train.split import stratified_split

    labels = tiny_mdata.obs["leiden"].astype(str).to_numpy()
    split = stratified_split(tiny_mdata.obs_names, labels, 0.1, 0.2, 0)
    fitted = fit_baselines(tiny_mdata, split, CONFIG)
    assert "kernel_ridge" in BASELINE_NAMES and isinstance(
        fitted["kernel_ridge"], KernelRidgeBaseline
    )
    assert fitted["kernel_ridge"].embeddings is fitted["ridge"].embeddings


def test_target_basis_spans_the_centred_targets_leading_directions():
    rng = np.random.default_rng(0)
    # every cell a copy of one of 5 binary profiles: the centred targets have rank 4
    profiles = (rng.random((5, 80)) < 0.3).astype(float)
    dense = profiles[rng.integers(0, 5, 200)]
    mean = dense.mean(0)
    basis, reduced = _target_basis(sp.csr_matrix(dense), mean, 4, seed=0)
    np.testing.assert_allclose(basis.T @ basis, np.eye(4), atol=1e-8)
    np.testing.assert_allclose(reduced, (dense - mean) @ basis, atol=1e-5)
    # the centring is implicit but exact: the basis reproduces the centred targets
    np.testing.assert_allclose(reduced @ basis.T, dense - mean, atol=1e-5)
