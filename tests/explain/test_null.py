"""Null genes of a one-cell perturbation, against hand values."""

from __future__ import annotations

import numpy as np

from genepeak.explain.null import matched_null_genes


def test_matched_null_genes_are_close_in_the_cell_and_exclude_targets():
    x = np.array([0.0, 3.0, 2.9, 3.1, 0.1, 5.0, 3.3])
    mean = np.array([0.1, 1.0, 0.9, 2.0, 0.1, 3.0, 1.0])
    sets = matched_null_genes(x, mean, [1], n_sets=4, rng=np.random.default_rng(0), pool_size=2)
    assert sets.shape == (4, 1)
    # closest in the cell: genes 2 and 3 (|dx| 0.1), then 6 (0.3)
    assert set(sets.ravel()) <= {2, 3}
    multi = matched_null_genes(x, mean, [1, 4], n_sets=3, rng=np.random.default_rng(0), pool_size=1)
    np.testing.assert_array_equal(multi, [[2, 0]] * 3)  # gene 2 ties 3 on x, wins on mean
