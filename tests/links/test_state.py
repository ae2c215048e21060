"""The state-adjusted link evidence: the model's latent read without the gene, its null."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from genepeak.links import state


class _Encoder:
    """A 'model' whose latent is the first gene column: it sees a gene only if it is there."""

    def __init__(self):
        self.seen = []

    def cell_state(self, x):
        self.seen.append(x[:, 0].copy())
        return x[:, :1] * 1.0


def test_held_out_latent_reads_the_gene_at_its_mean_and_restores_the_rows():
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=(n, 3)).astype(np.float32)
    before = x.copy()
    peaks = sp.csr_matrix(np.column_stack([x[:, 0] + rng.normal(0, 0.5, n), rng.normal(size=n)]))
    model = _Encoder()
    residual = state.residual_peaks(peaks, None)
    t = state.state_t(residual, x[:, 0], state.held_out_latent(model, x, 0))
    # the latent saw gene 0 at its mean, so it cannot explain the peak away
    assert np.allclose(model.seen[0], before[:, 0].mean())
    assert t[0] > 10 and abs(t[1]) < 3
    np.testing.assert_array_equal(x, before)
    # gene 1 is tested against a state that holds gene 0: peak 0 is then explained by it
    t1 = state.state_t(residual, x[:, 1], state.held_out_latent(model, x, 1))
    assert np.all(np.abs(t1) < 4)


def test_held_out_latent_keeps_its_leading_directions_or_none():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 3)).astype(np.float32)

    class Wide:
        def cell_state(self, rows):
            strong = rows[:, 1:2] * 10.0
            return np.hstack([strong, rows[:, 2:3] * 0.1, strong + rows[:, 2:3] * 0.1])

    full = state.held_out_latent(Wide(), x, 0)
    one = state.held_out_latent(Wide(), x, 0, dims=1)
    assert full.shape == (200, 3) and one.shape == (200, 1)
    assert abs(np.corrcoef(one[:, 0], x[:, 1])[0, 1]) > 0.99  # the leading direction
    assert state.held_out_latent(Wide(), x, 0, dims=0) is None
    assert state.held_out_latent(Wide(), x, 0, dims=5).shape == (200, 3)  # all there is


def test_state_t_equals_the_dense_least_squares_t():
    rng = np.random.default_rng(3)
    n = 300
    shared, own = rng.normal(size=(n, 2)), rng.normal(size=(n, 3))
    gene = shared[:, 0] + own[:, 0] + rng.normal(size=n)
    dense = np.column_stack([gene * 0.3 + own[:, 1], rng.poisson(1.0, n), own[:, 0]])
    dense = dense + shared[:, [1]] + rng.normal(size=(n, 3))
    t = state.state_t(state.residual_peaks(sp.csr_matrix(dense), shared), gene, own)
    design = np.column_stack([np.ones(n), shared, own, gene])  # the gene's coefficient's t
    for j in range(dense.shape[1]):
        beta, rss = np.linalg.lstsq(design, dense[:, j], rcond=None)[:2]
        cov = rss[0] / (n - design.shape[1]) * np.linalg.inv(design.T @ design)
        np.testing.assert_allclose(t[j], beta[-1] / np.sqrt(cov[-1, -1]), rtol=1e-8)


def test_two_group_fit_recovers_a_known_mixture_and_ranks_by_posterior_odds():
    rng = np.random.default_rng(4)
    linked = rng.random(20_000) < 0.1
    z = np.where(linked, rng.normal(0, 4.0, linked.size), rng.normal(size=linked.size))
    fit = state.fit_two_group(z)
    assert abs(fit.share - 0.1) < 0.015 and abs(np.sqrt(fit.variance) - 4.0) < 0.25
    # beyond the window links are rarer: the same z is then less likely a link
    far = np.where(rng.random(20_000) < 0.005, rng.normal(0, 4.0, 20_000), rng.normal(size=20_000))
    in_window = np.r_[np.ones(z.size, bool), np.zeros(far.size, bool)]
    odds, fits = state.two_group_log_odds(np.r_[z, far], in_window)
    assert fits["beyond"].share < 0.01 and fits["beyond"].variance == fits["window"].variance
    assert np.isfinite(odds).all()
    same = np.array([3.0, 3.0])
    assert fits["window"].log_odds(same)[0] > fits["beyond"].log_odds(same)[0]
    # too few pairs inside the window to say how rare links beyond it are: not ranked
    few, _ = state.two_group_log_odds(
        np.r_[z[:50], far], np.r_[np.ones(50, bool), in_window[z.size :]]
    )
    assert np.isfinite(few[:50]).all() and np.isneginf(few[50:]).all()
    # no signal at all: the linked share goes to its floor, nothing looks linked
    null = state.fit_two_group(rng.normal(size=20_000))
    assert null.share < 0.005


def test_empirical_z_uses_the_distant_peaks_and_never_narrows_the_theoretical_null():
    rng = np.random.default_rng(1)
    wide = rng.normal(0.5, 2.0, 500)  # a gene whose t is inflated everywhere
    z = state.empirical_z(np.array([0.5, 6.5]), wide)
    np.testing.assert_allclose(z, [0.0, 3.0], atol=0.5)  # the MAD of 500 draws: ~5% error
    narrow = rng.normal(0.0, 0.5, 500)
    np.testing.assert_allclose(state.empirical_z(np.array([2.0]), narrow), [2.0], atol=0.1)
    assert state.empirical_z(np.array([2.0]), narrow[:5])[0] == 2.0  # too few: theory


def test_distance_prior_learns_where_links_are_from_the_data_alone():
    rng = np.random.default_rng(7)
    n = 6_000
    distance = np.exp(rng.uniform(np.log(500), np.log(1e6), n)) * rng.choice([-1, 1], n)
    classes = state.distance_classes(distance)
    share = np.where(np.abs(distance) <= 30_000, 0.2, 0.01)  # links sit near the TSS
    linked = rng.random(n) < share
    z = np.where(linked, rng.normal(0, 4.0, n), rng.normal(size=n))
    fit = state.fit_distance_prior(z, classes)
    near, far = fit.shares[:3], fit.shares[4:6]  # up to 30 kb; 100 kb - 1 Mb
    assert near.min() > 0.1 and far.max() < 0.05  # learned, not built in
    assert fit.pairs[6] == 0 and abs(fit.shares[6] - 0.11) < 0.03  # no pairs: the pooled share
    odds, _ = state.distance_log_odds(np.array([3.0, 3.0, np.nan]), np.array([5e3, 5e5, 1e3]))
    assert np.isneginf(odds[2])
    # the same z ranks higher near the TSS, only because this data's links sit there
    refit = state.DistancePrior(fit.shares, fit.variance, fit.pairs)
    same = refit.log_odds(np.array([3.0, 3.0]), state.distance_classes(np.array([5e3, 5e5])))
    assert same[0] > same[1]
    # links at every distance alike: the classes' shares stay level
    flat_linked = rng.random(n) < 0.05
    flat = np.where(flat_linked, rng.normal(0, 4.0, n), rng.normal(size=n))
    flat_fit = state.fit_distance_prior(flat, classes)
    assert np.ptp(flat_fit.shares) < 0.04
    # other chromosomes (NaN distance) fall in the last class
    assert state.distance_classes(np.array([np.nan, 2e6, 2_000, 2_001])).tolist() == [6, 6, 0, 1]
