"""How a gene and a peak vary together beyond the cell's state: the link evidence.

Between cell types almost every marker gene and almost every type-specific peak go together,
and inside a type shared programs (activation, interferon, a continuum between two types) move
many genes and peaks at once. A driven peak follows its gene *beyond* all of that. So both
are regressed on the cell's state and the partial correlation of what is left is the evidence
(Frisch-Waugh-Lovell: the gene's coefficient in the peak's regression on state and gene, on
the correlation scale). Its t statistic has ``cells - state columns - 1`` degrees of freedom.

The state is ``[1, RNA PCs, log ATAC depth, model latent]``: the first principal components of
preparation (``rna.obsm['X_pca']``), the log of each cell's ATAC counts (peaks here are log1p
counts, not depth-normalised), and the model's latent of each cell read from its genes with
the tested gene held at its mean (:meth:`~genepeak.explain.model.ExplainableModel.cell_state`),
reduced to its leading principal directions (``ExplainConfig.state_latent_dims``).
The shared part is fitted once (:func:`residual_peaks`); only the latent changes per gene.

Every peak of the genome is scored. Each gene's t is put on its own empirical null, the median
and MAD of its t over the peaks beyond its cis window (few of them are linked to any one gene),
and the z of every (gene, peak) pair of the table then enters a two-group model (Efron 2008)
fitted separately to the pairs inside and beyond the window: ``z ~ (1 - pi) N(0, 1) + pi N(0,
s^2)``. ``link_score`` is the log posterior odds that the pair is linked, so the data say how
much less likely a link beyond the window is (:func:`two_group_log_odds`).

Without the model's latent this is the benchmark's ``link_score_without_model`` row; with the
PCs alone, inside a 1 Mb window, it is the ``partial_correlation_state`` baseline
(``links/baselines.py``, which also holds the sparse algebra). Settings were chosen on
tuning seeds 0-2 (small shape, strengths 0.5 / 1.0; docs/links.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from genepeak._utils import progress
from genepeak.io import prepared
from genepeak.links import baselines as link_baselines


def state_t(
    peaks: link_baselines.ResidualPeaks, gene: np.ndarray, extra=None, robust: bool = False
) -> np.ndarray:
    """t of ``gene`` (one value per cell) with every peak given the shared state of ``peaks``
    (:class:`~genepeak.links.baselines.ResidualPeaks`) and the gene's own covariates
    ``extra`` ``(cells, d)``, when given. ``robust``: the smaller in size of that t and the
    sandwich t, as ``genepeak links`` computes it (``links.baselines.smaller_t``)."""
    if extra is not None and extra.shape[1]:
        peaks = peaks.extended(extra)
    gene = np.asarray(gene, dtype=np.float64)
    r = peaks.correlation(gene[:, None])[0]
    df = link_baselines.residual_df(peaks.basis)
    if not robust:
        return link_baselines.t_statistic(r, df)
    residual = gene - peaks.basis @ (peaks.basis.T @ gene)
    cov = np.asarray(peaks.peaks.T @ residual).ravel()
    meat = link_baselines.sandwich_meat(peaks.peaks, peaks.basis, residual)
    return link_baselines.smaller_t(cov, meat, r, df)


def residual_peaks(peaks, covariates: np.ndarray | None) -> link_baselines.ResidualPeaks:
    """Sparse ``peaks`` of a population regressed on ``[1, covariates]``, once for every gene."""
    shared = np.zeros((peaks.shape[0], 0)) if covariates is None else covariates
    return link_baselines.ResidualPeaks.fit(peaks, link_baselines.state_basis(shared))


def evidence(residual, genes: np.ndarray, beyond: np.ndarray, latent_of=None, robust=False):
    """State-adjusted ``(t, z)`` ``(len(genes), peaks)``: column ``i`` of ``genes`` (cells x
    genes) against every peak of ``residual`` (:func:`residual_peaks`), given also
    ``latent_of(i)`` when given, on the empirical null of its peaks ``beyond[i]`` its window;
    ``robust`` as :func:`state_t`."""
    t = np.zeros((genes.shape[1], residual.ss.size))
    z = np.zeros_like(t)
    for i in progress(range(genes.shape[1]), desc="state-adjusted links"):
        extra = None if latent_of is None else latent_of(i)
        t[i] = state_t(residual, genes[:, i], extra, robust)
        z[i] = empirical_z(t[i], t[i, beyond[i]])
    return t, z


def p_values(z: np.ndarray, in_window: np.ndarray) -> np.ndarray:
    """Two-sided normal p-values of ``z`` inside the window (the calls' family), NaN beyond."""
    return np.where(in_window, 2.0 * stats.norm.sf(np.abs(z)), np.nan)


def held_out_latent(model, x: np.ndarray, column: int, dims: int | None = None):
    """The model's latent of rows ``x`` with gene ``column`` set to its mean (a regulator of
    many peaks may earn a latent direction of its own, which would absorb its links), reduced
    to its ``dims`` leading principal directions (None: all); ``x`` is restored afterwards.
    None for a model without a latent read from genes, or with ``dims`` 0."""
    if dims == 0:
        return None
    observed = x[:, column].copy()
    x[:, column] = observed.mean()
    try:
        latent = model.cell_state(x)
    finally:
        x[:, column] = observed
    if latent is None:
        return None
    latent = np.asarray(latent, dtype=np.float64)
    if dims is None or dims >= latent.shape[1]:
        return latent
    centred = latent - latent.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return u[:, :dims] * s[:dims]


def shared_covariates(mdata, cells, n_pcs: int) -> np.ndarray:
    """``[first n_pcs RNA PCs, log ATAC depth]`` of ``cells``, ``(cells, k)``."""
    parts = [atac_log_depth(mdata.mod["atac"], cells)[:, None]]
    return np.hstack([link_baselines.rna_pcs(mdata.mod["rna"], cells, n_pcs), *parts])


def atac_log_depth(atac, cells) -> np.ndarray:
    """log1p of each cell's ATAC counts over the kept peaks (``layers['counts']``, else ``X``)."""
    matrix = atac.layers["counts"] if "counts" in atac.layers else atac.X
    rows = prepared.cell_rows(atac.obs_names, [str(c) for c in cells])
    totals = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()  # no copy of the rows
    return np.log1p(totals[rows])


def empirical_null(z: np.ndarray) -> tuple[float, float]:
    """Centre and scale of null statistics: median and MAD (normal consistency), the one home
    of the empirical null (Efron 2004). The scale is never below 1, the theoretical null:
    narrower nulls are left conservative. Fewer than 10 finite values: ``(0, 1)``."""
    z = np.asarray(z, dtype=np.float64)
    z = z[np.isfinite(z)]
    if z.size < 10:
        return 0.0, 1.0
    scale = float(stats.median_abs_deviation(z, scale="normal"))
    return float(np.median(z)), max(scale, 1.0)


def empirical_z(t: np.ndarray, distant: np.ndarray) -> np.ndarray:
    """z of ``t`` on the empirical null of the gene's ``distant`` t (:func:`empirical_null`)."""
    centre, scale = empirical_null(distant)
    return (np.asarray(t, dtype=np.float64) - centre) / scale


#: bounds of the two-group model: the share of linked pairs, and the variance of their z
MIN_LINKED_SHARE, MAX_LINKED_SHARE = 1e-6, 0.5
MIN_LINKED_VARIANCE = 2.0
#: pairs inside the window needed before the data can say how rare links beyond it are
MIN_WINDOW_PAIRS = 100


@dataclass(frozen=True)
class TwoGroupFit:
    """``z ~ (1 - share) N(0, 1) + share N(0, variance)`` for one class of pairs."""

    share: float
    variance: float

    def log_odds(self, z: np.ndarray) -> np.ndarray:
        """Log posterior odds that each ``z`` comes from the linked group."""
        return np.log(self.share / (1.0 - self.share)) + log_bayes_factor(z, self.variance)


def log_bayes_factor(z: np.ndarray, variance: float) -> np.ndarray:
    """log N(z; 0, variance) - log N(z; 0, 1): the evidence of ``z`` for the linked group."""
    return -0.5 * np.log(variance) + 0.5 * z**2 * (1.0 - 1.0 / variance)


def fit_two_group(z: np.ndarray, variance: float | None = None, iterations: int = 500):
    """EM fit of :class:`TwoGroupFit` to ``z``; ``variance`` fixed when given."""
    share, var = 0.05, variance or 9.0
    z = np.asarray(z, dtype=np.float64)
    z2 = z**2
    for _ in range(iterations):
        linked = TwoGroupFit(share, var).log_odds(z)
        w = 1.0 / (1.0 + np.exp(-np.clip(linked, -700, 700)))
        new_share = float(np.clip(w.mean(), MIN_LINKED_SHARE, MAX_LINKED_SHARE))
        new_var = var if variance else max(float(w @ z2) / max(w.sum(), 1e-12), MIN_LINKED_VARIANCE)
        done = abs(new_share - share) < 1e-7 and abs(new_var - var) < 1e-6
        share, var = new_share, new_var
        if done:
            break
    return TwoGroupFit(share, var)


def two_group_log_odds(z: np.ndarray, in_window: np.ndarray) -> tuple[np.ndarray, dict]:
    """Log posterior odds of a link for every pair (NaN z -> -inf), the two-group model fitted
    to the pairs inside the window, then its linked share refitted beyond it with the linked
    variance held (too few links there to say their size). Also the fits, by class.

    With fewer than ``MIN_WINDOW_PAIRS`` pairs inside the window the fit cannot say how rare
    links beyond it are, and pairs beyond it stay ``-inf`` (not ranked).
    """
    z = np.asarray(z, dtype=np.float64)
    out = np.full(z.shape, -np.inf)
    fits = {}
    inside = in_window & np.isfinite(z)
    beyond = ~in_window & np.isfinite(z)
    if inside.any():
        fits["window"] = fit_two_group(z[inside])
        out[inside] = fits["window"].log_odds(z[inside])
    if beyond.any() and inside.sum() >= MIN_WINDOW_PAIRS:
        fits["beyond"] = fit_two_group(z[beyond], variance=fits["window"].variance)
        out[beyond] = fits["beyond"].log_odds(z[beyond])
    return out, fits


#: upper edges (bp between peak centre and TSS) of the distance prior's classes; one more
#: class holds every pair beyond the last edge
DISTANCE_EDGES = (2_000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
#: how many pairs' worth each class's linked share is pulled towards the pooled share: 50 beat
#: 200 and 1,000 (and no prior) on 11 of 12 tuning settings (small shape, seeds 0-2, both
#: simulator link profiles, strengths 1.0 / 0.5; docs/links.md)
PRIOR_PSEUDO_PAIRS = 50.0


def distance_classes(distance: np.ndarray) -> np.ndarray:
    """Class of each pair's ``|distance|`` (:data:`DISTANCE_EDGES`); NaN (another chromosome)
    falls in the last class."""
    d = np.abs(np.asarray(distance, dtype=np.float64))
    return np.searchsorted(DISTANCE_EDGES, np.nan_to_num(d, nan=np.inf), side="left")


@dataclass(frozen=True)
class DistancePrior:
    """``z ~ (1 - share_c) N(0, 1) + share_c N(0, variance)`` with a linked share per distance
    class ``c`` and one linked variance (:func:`fit_distance_prior`)."""

    shares: np.ndarray
    variance: float
    pairs: np.ndarray  # pairs of each class the fit saw

    def log_odds(self, z: np.ndarray, classes: np.ndarray) -> np.ndarray:
        share = self.shares[classes]
        return np.log(share / (1.0 - share)) + log_bayes_factor(z, self.variance)


def fit_distance_prior(
    z: np.ndarray,
    classes: np.ndarray,
    pseudo_pairs: float | None = None,
    iterations: int = 500,
) -> DistancePrior:
    """Empirical-Bayes EM fit of :class:`DistancePrior` to the pairs' ``z``: each class's
    linked share is its pairs' mean posterior, shrunk towards the pooled share by
    ``pseudo_pairs`` (default :data:`PRIOR_PSEUDO_PAIRS`; a class with few pairs borrows from
    the rest); no share is built in."""
    pseudo_pairs = PRIOR_PSEUDO_PAIRS if pseudo_pairs is None else pseudo_pairs
    z = np.asarray(z, dtype=np.float64)
    n_classes = len(DISTANCE_EDGES) + 1
    counts = np.bincount(classes, minlength=n_classes).astype(np.float64)
    shares, var = np.full(n_classes, 0.05), 9.0
    for _ in range(iterations):
        w = 1.0 / (
            1.0
            + np.exp(-np.clip(DistancePrior(shares, var, counts).log_odds(z, classes), -700, 700))
        )
        pooled = float(np.clip(w.mean(), MIN_LINKED_SHARE, MAX_LINKED_SHARE))
        linked = np.bincount(classes, weights=w, minlength=n_classes)
        new = (linked + pseudo_pairs * pooled) / (counts + pseudo_pairs)
        new = np.clip(new, MIN_LINKED_SHARE, MAX_LINKED_SHARE)
        new_var = max(float(w @ z**2) / max(w.sum(), 1e-12), MIN_LINKED_VARIANCE)
        done = np.abs(new - shares).max() < 1e-7 and abs(new_var - var) < 1e-6
        shares, var = new, new_var
        if done:
            break
    return DistancePrior(shares, var, counts)


def distance_log_odds(z: np.ndarray, distance: np.ndarray) -> tuple[np.ndarray, DistancePrior]:
    """Log posterior odds of a link for every pair (NaN z -> -inf) under the distance prior
    fitted to the finite pairs, and the fit."""
    z = np.asarray(z, dtype=np.float64)
    classes = distance_classes(distance)
    finite = np.isfinite(z)
    fit = fit_distance_prior(z[finite], classes[finite])
    out = np.full(z.shape, -np.inf)
    out[finite] = fit.log_odds(z[finite], classes[finite])
    return out, fit


def scores_without_model(
    mdata, genes: list[str], in_window: np.ndarray, n_pcs: int, robust: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(state_z, link_score)`` of ``genes`` x every peak over every cell, as
    ``link_scores`` computes them but with the state ``[1, RNA PCs, log ATAC depth]`` alone:
    the link score with the model's evidence removed. ``in_window`` is ``(genes, peaks)``;
    ``robust``: the t of ``genepeak links`` (:func:`state_t`), so its z are reproduced."""
    cells = list(mdata.mod["rna"].obs_names)
    atac = mdata.mod["atac"]
    peaks = prepared.sparse_block(atac.X, prepared.cell_rows(atac.obs_names, cells))
    residual = residual_peaks(peaks, shared_covariates(mdata, cells, n_pcs))
    genes_x = link_baselines.gene_matrix(mdata, list(genes))
    _, z = evidence(residual, genes_x, ~in_window, robust=robust)
    return z, two_group_log_odds(z, in_window)[0]
