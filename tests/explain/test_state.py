"""The state-adjusted link evidence: the model's latent read without the gene, its null."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from genepeak.explain import state


class _Encoder:
    """A 'model' whose latent is the first gene column: it sees a gene only if it is there."""

    def __init__(self):
        self.seen = []

    def cell_state(self, x):
        self.seen.append(x[:, 0].copy())
        return x[:, :1] * 1.0


def test_gene_state_t_reads_the_latent_without_the_gene_and_restores_the_rows():
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=(n, 3)).astype(np.float32)
    before = x.copy()
    peaks = sp.csr_matrix(np.column_stack([x[:, 0] + rng.normal(0, 0.5, n), rng.normal(size=n)]))
    model = _Encoder()
    t = state.gene_state_t(model, x, 0, peaks, pcs=None)
    # the latent saw gene 0 at its mean, so it cannot explain the peak away
    assert np.allclose(model.seen[0], before[:, 0].mean())
    assert t[0] > 10 and abs(t[1]) < 3
    np.testing.assert_array_equal(x, before)
    # gene 1 is tested against a state that holds gene 0: peak 0 is then explained by it
    t1 = state.gene_state_t(model, x, 1, peaks, pcs=rng.normal(size=(n, 2)))
    assert np.all(np.abs(t1) < 4)


def test_empirical_z_uses_the_distant_peaks_and_never_narrows_the_theoretical_null():
    rng = np.random.default_rng(1)
    wide = rng.normal(0.5, 2.0, 500)  # a gene whose t is inflated everywhere
    z = state.empirical_z(np.array([0.5, 6.5]), wide)
    np.testing.assert_allclose(z, [0.0, 3.0], atol=0.5)  # the MAD of 500 draws: ~5% error
    narrow = rng.normal(0.0, 0.5, 500)
    np.testing.assert_allclose(state.empirical_z(np.array([2.0]), narrow), [2.0], atol=0.1)
    assert state.empirical_z(np.array([2.0]), narrow[:5])[0] == 2.0  # too few: theory


def test_rna_pcs_follow_the_cells_and_may_be_missing(tiny_mdata):
    rna = tiny_mdata.mod["rna"].copy()
    assert state.rna_pcs(rna, rna.obs_names, 5) is None
    rna.obsm["X_pca"] = np.arange(rna.n_obs * 8, dtype=float).reshape(rna.n_obs, 8)
    cells = list(rna.obs_names[[3, 1]])
    np.testing.assert_array_equal(state.rna_pcs(rna, cells, 5), rna.obsm["X_pca"][[3, 1], :5])
    assert state.rna_pcs(rna, cells, 0) is None
