"""Null genes of a one-cell perturbation: random genes matched on their value in that cell."""

from __future__ import annotations

import numpy as np


def matched_null_genes(
    x_cell: np.ndarray,
    mean_expression: np.ndarray,
    targets: list[int],
    n_sets: int,
    rng: np.random.Generator,
    pool_size: int | None = None,
) -> np.ndarray:
    """Pick ``n_sets`` sets of genes matched to the perturbed ``targets`` in the same cell.

    For each target gene the candidates are the ``pool_size`` non-target genes whose value in
    this cell is closest to the target's (ties broken by the closest mean expression across
    cells); each set draws one candidate per target at random, without repeating a gene
    within a target's draws while the pool lasts.

    Returns
    -------
    Integer array ``(n_sets, len(targets))`` of gene column indices.
    """
    n_genes = x_cell.shape[0]
    exclude = np.zeros(n_genes, dtype=bool)
    exclude[list(targets)] = True
    candidates_all = np.flatnonzero(~exclude)
    if n_sets == 0 or candidates_all.size == 0:
        return np.zeros((0, len(targets)), dtype=int)
    pool_size = pool_size or max(5 * n_sets, 50)
    pool_size = min(pool_size, candidates_all.size)
    out = np.empty((n_sets, len(targets)), dtype=int)
    for t, gene in enumerate(targets):
        d_cell = np.abs(x_cell[candidates_all] - x_cell[gene])
        d_mean = np.abs(mean_expression[candidates_all] - mean_expression[gene])
        order = np.lexsort((d_mean, d_cell))
        pool = candidates_all[order[:pool_size]]
        replace = n_sets > pool.size
        out[:, t] = rng.choice(pool, size=n_sets, replace=replace)
    return out
