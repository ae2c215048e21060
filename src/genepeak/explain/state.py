"""How a gene and a peak vary together beyond the cell's state: the link evidence.

Between cell types almost every marker gene and almost every type-specific peak go together,
and inside a type shared programs (activation, interferon, a continuum between two types) move
many genes and peaks at once. A driven peak follows its gene *beyond* all of that. So both
are regressed on the cell's state, ``[1, model latent, RNA PCs]``, and the partial correlation
of what is left is the evidence (Frisch-Waugh-Lovell: the gene's coefficient in the peak's
regression on state and gene, on the correlation scale). Its t statistic has
``cells - state columns - 1`` degrees of freedom.

The state is the model's latent of each cell, read from its genes with the tested gene held at
its mean (:meth:`~genepeak.explain.model.ExplainableModel.cell_state`), plus the first RNA
principal components of preparation (``rna.obsm['X_pca']``). On tuning seeds 0-1 (small
shape) the partial correlation given this state ranked planted links well above the one given
the Leiden types (README), and the model's latent alone conditioned less well than the PCs.

Without the model's latent this is the benchmark's ``partial_correlation_state`` baseline
(``evaluate/link_baselines.py``, which also holds the sparse algebra).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from genepeak.evaluate import link_baselines


def gene_state_t(model, x: np.ndarray, column: int, peaks, pcs: np.ndarray | None) -> np.ndarray:
    """t of gene ``column`` with each column of ``peaks`` (sparse, the population's cells)
    given the cell state with that gene held at its mean.

    The state is the model's latent of ``x`` (model input rows) read with the gene's column
    set to its population mean, so that the latent cannot carry the gene's own deviation (a
    regulator of many peaks may earn a latent direction of its own), beside ``pcs``.
    """
    parts = [] if pcs is None else [pcs]
    observed = x[:, column].copy()
    x[:, column] = observed.mean()
    try:
        latent = model.cell_state(x)
    finally:
        x[:, column] = observed
    if latent is not None:
        parts.append(np.asarray(latent, dtype=np.float64))
    state = np.hstack(parts) if parts else np.zeros((len(x), 0))
    basis = link_baselines.state_basis(state)
    r = link_baselines.adjusted_correlation(peaks, observed[:, None], basis)[0]
    return link_baselines.t_statistic(r, link_baselines.residual_df(basis))


def rna_pcs(rna, cells, n_pcs: int) -> np.ndarray | None:
    """The first ``n_pcs`` columns of ``rna.obsm['X_pca']`` for ``cells``; None without them."""
    if not n_pcs or "X_pca" not in rna.obsm:
        return None
    rows = rna.obs_names.get_indexer([str(c) for c in cells])
    return np.asarray(rna.obsm["X_pca"], dtype=np.float64)[rows, :n_pcs]


def empirical_z(t: np.ndarray, distant: np.ndarray) -> np.ndarray:
    """z of ``t`` on the empirical null of the gene's ``distant`` t: their median and MAD
    (normal consistency), no narrower than the theoretical null (scale at least 1)."""
    if distant.size < 10:
        return np.asarray(t, dtype=np.float64)
    scale = max(float(stats.median_abs_deviation(distant, scale="normal")), 1.0)
    return (t - float(np.median(distant))) / scale
