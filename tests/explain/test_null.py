"""Null model: matched genes, empirical p-values and Benjamini-Hochberg, against hand values."""

from __future__ import annotations

import numpy as np

from genepeak.explain.null import benjamini_hochberg, empirical_pvalues, matched_null_genes


def test_benjamini_hochberg_hand_computed():
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2, np.nan]))
    # sorted p 0.01, 0.03, 0.04, 0.2 -> p*m/rank = 0.04, 0.06, 0.0533, 0.2 -> running min from top
    np.testing.assert_allclose(q[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert np.isnan(q[4])


def test_empirical_pvalues_hand_computed():
    observed = np.array([0.5, 0.1, 0.0])
    null = np.array([[0.1, 0.1, 0.0], [0.3, 0.1, 0.0]])
    effect, p = empirical_pvalues(observed, null)
    np.testing.assert_allclose(effect, [0.3, 0.0, 0.0])
    # leave-one-out null effects: gene0 [-0.2, 0, 0], gene1 [0.2, 0, 0] -> 6 pooled values
    np.testing.assert_allclose(p, [1 / 7, 6 / 7, 6 / 7])


def test_empirical_pvalues_need_two_null_genes():
    effect, p = empirical_pvalues(np.array([0.5]), np.array([[0.1]]))
    np.testing.assert_allclose(effect, [0.4])
    assert np.isnan(p).all()


def test_pvalues_uniformish_under_the_null():
    rng = np.random.default_rng(0)
    null = rng.binomial(100, 0.1, size=(21, 400)) / 100
    effect, p = empirical_pvalues(null[0], null[1:])
    assert 0.35 < np.mean(p) < 0.65
    assert np.mean(p < 0.05) < 0.1


def test_matched_null_genes_are_close_in_the_cell_and_exclude_targets():
    x = np.array([0.0, 3.0, 2.9, 3.1, 0.1, 5.0, 3.3])
    mean = np.array([0.1, 1.0, 0.9, 2.0, 0.1, 3.0, 1.0])
    sets = matched_null_genes(x, mean, [1], n_sets=4, rng=np.random.default_rng(0), pool_size=2)
    assert sets.shape == (4, 1)
    # closest in the cell: genes 2 and 3 (|dx| 0.1), then 6 (0.3)
    assert set(sets.ravel()) <= {2, 3}
    multi = matched_null_genes(x, mean, [1, 4], n_sets=3, rng=np.random.default_rng(0), pool_size=1)
    np.testing.assert_array_equal(multi, [[2, 0]] * 3)  # gene 2 ties 3 on x, wins on mean
