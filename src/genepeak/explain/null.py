"""Null model for perturbation flips: expression-matched random genes, empirical p-values, BH FDR."""

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


def empirical_pvalues(observed: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-peak effect size and one-sided empirical p-value against null-gene perturbations.

    ``observed`` (peaks,) is a per-peak response to the real perturbation (explain uses the
    |posterior-mean shift|); ``null`` (null genes, peaks) the same under each null gene. The
    effect size is ``observed - mean(null)`` per peak. Each null gene's own effect is its excess
    over the mean of the *other* null genes (leave-one-out), which removes how easily each peak
    responds at all; these null effects are pooled over peaks, so with G null genes and P peaks

        p_j = (1 + #{null effects >= effect_j}) / (1 + G * P).

    Pooling gives a resolution of 1 / (G P) rather than 1 / G, which BH across thousands of
    peaks needs. With fewer than two null genes the p-values are NaN.
    """
    observed = np.asarray(observed, dtype=np.float64)
    null = np.asarray(null, dtype=np.float64)
    n_null = null.shape[0]
    if n_null == 0:
        return observed.copy(), np.full(observed.shape, np.nan)
    null_mean = null.mean(axis=0)
    effect = observed - null_mean
    if n_null < 2:
        return effect, np.full(observed.shape, np.nan)
    leave_one_out = (null.sum(axis=0, keepdims=True) - null) / (n_null - 1)
    null_effect = np.sort((null - leave_one_out).ravel())
    # tolerate float noise: equal frequencies count as reaching the observed effect
    n_ge = null_effect.size - np.searchsorted(null_effect, effect - 1e-12, side="left")
    pvalues = (1.0 + n_ge) / (1.0 + null_effect.size)
    return effect, pvalues


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (FDR); NaN stays NaN and is not counted."""
    p = np.asarray(pvalues, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q[order] = np.minimum(ranked, 1.0)
    return q
