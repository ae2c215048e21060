"""Matched null genes: the one rule (nearest in log mean and log detection), on hand values."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from genepeak.errors import InputError
from genepeak.links.nulls import expression_coordinates, matched_null_genes


def _ladder(n_genes: int = 30, n_cells: int = 200) -> np.ndarray:
    """Gene j is j + 1 in its first 5 (j + 1) cells: mean and detection both rise with j."""
    x = np.zeros((n_cells, n_genes))
    for j in range(n_genes):
        x[: 5 * (j + 1), j] = j + 1
    return x


def _population(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.gamma(0.5, 1.0, size=(300, 2000)) * rng.gamma(1.0, 1.0, size=2000)
    x[rng.random(x.shape) < rng.uniform(0.05, 0.95, size=2000)] = 0  # detection varies
    return x


def test_the_nearest_genes_on_the_log_scale_nearest_first():
    # mean 5 (j + 1)^2 / 200 and detection 5 (j + 1) / 200: both coordinates are linear in
    # log(j + 1), so the distance to G15 is |log((j + 1) / 16)|: 17/16 < 16/15 < 18/16 < 16/14
    found = matched_null_genes(_ladder(), [15], 4, np.random.default_rng(0))
    np.testing.assert_array_equal(found, [[16, 14, 17, 13]])


def test_matched_genes_are_closer_in_mean_and_detection_than_random_genes():
    x = _population()
    rng = np.random.default_rng(2)
    targets = rng.choice(2000, 25, replace=False)
    found = matched_null_genes(x, targets, 20, np.random.default_rng(0))
    log_mean = np.log(x.mean(0))
    detection = (x > 0).mean(0)
    for values in (log_mean, detection):
        matched = np.abs(values[found] - values[targets][:, None])
        random = np.abs(values[rng.choice(2000, (25, 20))] - values[targets][:, None])
        assert np.median(matched) < 0.1 * np.median(random)


def test_a_target_is_never_its_own_null_and_other_targets_only_when_allowed():
    x = _population()
    targets = np.arange(0, 2000, 7)
    excluded = matched_null_genes(x, targets, 20, np.random.default_rng(0))
    assert not np.isin(excluded, targets).any()
    allowed = matched_null_genes(x, targets, 20, np.random.default_rng(0), exclude_targets=False)
    assert not (allowed == targets[:, None]).any()
    assert np.isin(allowed, targets).any()  # the other targets are candidates too
    # "auto": other targets are excluded while 3 x n_null other genes are expressed ...
    auto = matched_null_genes(x, targets, 20, np.random.default_rng(0), exclude_targets=None)
    np.testing.assert_array_equal(auto, excluded)
    # ... and serve as each other's null genes when fewer are (here 5 of 30 genes are not targets)
    ladder_targets = np.arange(25)
    ladder = matched_null_genes(
        _ladder(), ladder_targets, 4, np.random.default_rng(0), exclude_targets=None
    )
    assert not (ladder == ladder_targets[:, None]).any() and np.isin(ladder, ladder_targets).any()


def test_genes_at_zero_in_every_cell_are_never_null_genes_of_an_expressed_target():
    x = _population()
    x[:, 1000:1500] = 0
    found = matched_null_genes(x, [3, 10, 42], 20, np.random.default_rng(0))
    assert not ((found >= 1000) & (found < 1500)).any()


def test_the_same_seed_gives_the_same_genes_and_ties_fall_to_the_reference_then_the_seed():
    x = _population()
    first = matched_null_genes(x, [5, 6], 10, np.random.default_rng(7))
    np.testing.assert_array_equal(
        first, matched_null_genes(x, [5, 6], 10, np.random.default_rng(7))
    )
    # one cell: genes 1-4 share the target's value; the reference (all cells) ranks them
    cell = np.array([[2.0, 2.0, 2.0, 2.0, 2.0, 3.0, 0.0]])
    reference = np.array(
        [[1.0, 1.0, 4.0, 1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 4.0, 1.2, 0.0, 1.0, 1.0]] * 2
    )
    found = matched_null_genes(
        cell, [0], 3, np.random.default_rng(0), reference=sp.csr_matrix(reference)
    )
    np.testing.assert_array_equal(found, [[1, 3, 4]])  # gene 1 matches gene 0 everywhere
    # without a reference the tie among genes 1-4 is broken by the seed: every order occurs
    picks = {
        tuple(matched_null_genes(cell, [0], 1, np.random.default_rng(s))[0]) for s in range(40)
    }
    assert picks == {(1,), (2,), (3,), (4,)}


def test_a_target_at_zero_takes_genes_at_zero_first():
    cell = np.array([[0.0, 1.0, 0.0, 2.0, 0.0, 0.5]])
    reference = np.array([[1.0, 1.0, 1.0, 2.0, 9.0, 0.5]] * 3)
    found = matched_null_genes(cell, [0], 3, np.random.default_rng(0), reference=reference)
    assert set(found[0, :2]) == {2, 4} and found[0, 0] == 2  # 2 is like 0 over all cells
    assert found[0, 2] == 5  # then the least expressed gene


def test_too_few_candidates_is_an_input_error_that_says_how_many():
    x = _ladder()
    with pytest.raises(InputError, match="only 29 genes can be null genes"):
        matched_null_genes(x, [1], 30, np.random.default_rng(0))
    with pytest.raises(InputError, match="only 3 genes"):
        matched_null_genes(x, np.arange(27), 5, np.random.default_rng(0), exclude_targets=True)
    x[:, 10:] = 0  # 10 expressed genes: an expressed target has 9 candidates
    with pytest.raises(InputError, match="only 9 genes.*expressed in these cells"):
        matched_null_genes(x, [2], 10, np.random.default_rng(0))


def test_coordinates_are_the_same_for_dense_and_sparse_and_standardised():
    x = _population()
    x[:, :3] = 0
    dense = expression_coordinates(x)
    np.testing.assert_allclose(dense, expression_coordinates(sp.csr_matrix(x)))
    np.testing.assert_allclose(dense[3:].std(axis=0), 1.0)
    assert np.isfinite(dense).all() and (dense[:3] < dense[3:].min(axis=0)).all()
