"""Gene -> peak link scores computed from the data alone: the baselines a link method must beat.

Every scorer rates ALL peaks of a prepared MuData for each gene and returns an array of shape
``(len(genes), n_peaks)`` in ``atac.var_names`` order, higher = more likely a link, with
``-inf`` for peaks the method does not score (another chromosome, outside its window):

- :func:`random_scores` -- seeded uniform scores (the expectation of AUPRC is the prevalence);
- :func:`distance_scores` -- minus the distance from the peak midpoint to the gene's TSS;
- :func:`linkpeaks` -- Signac ``LinkPeaks``: Pearson r of the gene's normalised expression with
  each peak's counts within a cis window, z-scored against background peaks on other
  chromosomes matched on accessibility and width (GC content is not known here);
- :func:`partial_correlation` -- Pearson r after removing the cell-type means from the gene and
  from every peak (within-type co-variation), over all peaks or within a cis window; or after
  regressing both on the first RNA principal components (co-variation beyond the cell state,
  as eQTL studies regress out expression PCs): genepeak's link evidence without the model.

Planted links have either sign, so the correlation scores rank by ``|z|`` / ``|r|``; the signed
values come back beside them. Correlations are computed on the sparse matrices without
densifying them (one sparse product per call for every gene at once).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats
from scipy.spatial import cKDTree

from genepeak._utils import log
from genepeak.config import ExplainConfig
from genepeak.errors import InputError
from genepeak.io import prepared

#: Signac's defaults: cis window, background peaks per peak, cells a peak must be open in,
#: and the link call (p < 0.05 and |r| > 0.05)
LINKPEAKS_WINDOW = 500_000
N_BACKGROUND = 200
MIN_CELLS = 10
CALL_P = 0.05
CALL_MIN_ABS_R = 0.05
CALL_FDR = 0.05
#: window of the within-type partial correlation baseline, chosen on tuning seeds 0-2 (small
#: shape, strength 0.5 / 1.0; pooled AUPRC at 250 kb / 500 kb / 1 Mb / 2 Mb, seed 0: .50 / .59
#: / .68 / .66 and .53 / .63 / .73 / .72; seeds 1 and 2 alike): the strongest of them, and
#: the window of the model's own cis layer
PARTIAL_CORRELATION_WINDOW = 1_000_000


@dataclass
class LinkScores:
    """One method's scores for ``genes`` x every peak, and its own link calls where it has them."""

    method: str
    genes: list[str]
    peaks: pd.Index
    score: np.ndarray  # (genes, peaks), higher = more likely a link; -inf = not scored
    called: np.ndarray | None = None  # (genes, peaks) bool: the method's significance call
    call_rule: str = ""
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # pearson, zscore, p_value, ...


# --------------------------------------------------------------------------- coordinates


def _annotation(mdata, annotation):
    from genepeak.io.annotation import recorded_annotation

    return annotation if annotation is not None else recorded_annotation(mdata)


def gene_tss(mdata, genes: list[str], annotation=None) -> pd.DataFrame:
    """``chrom`` and ``tss`` of ``genes`` (rna.var first, then the annotation the explain code uses).

    ``tss == -1`` where no coordinate is known.
    """
    from genepeak.io.annotation import gene_coordinates

    rna_var = mdata.mod["rna"].var
    prepared.feature_columns(mdata.mod["rna"], genes, "rna")
    coords = gene_coordinates(rna_var.loc[list(genes)], _annotation(mdata, annotation))
    return coords[["chrom", "tss"]]


def peak_table(mdata) -> pd.DataFrame:
    """``chrom``, ``start``, ``end`` of every peak (atac.var columns, else parsed names)."""
    from genepeak.io.peaks import peak_coordinates

    return peak_coordinates(mdata.mod["atac"].var, source="atac.var_names")


def signed_distances(mdata, genes: list[str], annotation=None) -> np.ndarray:
    """Peak midpoint minus gene TSS in bp, ``(genes, peaks)``; NaN on another chromosome or unknown."""
    peaks = peak_table(mdata)
    tss = gene_tss(mdata, genes, annotation)
    mid = np.floor((peaks["start"].to_numpy() + peaks["end"].to_numpy()) / 2.0)
    chroms = pd.Index(pd.unique(np.concatenate([peaks["chrom"], tss["chrom"]]).astype(str)))
    peak_chrom = chroms.get_indexer(peaks["chrom"].astype(str))
    gene_chrom = chroms.get_indexer(tss["chrom"].astype(str))
    known = tss["tss"].to_numpy() >= 0
    same = (gene_chrom[:, None] == peak_chrom[None, :]) & known[:, None]
    return np.where(same, mid[None, :] - tss["tss"].to_numpy()[:, None], np.nan)


def cis_mask(mdata, genes: list[str], window: int, annotation=None) -> np.ndarray:
    """Peaks whose midpoint lies within ``window`` bp of the gene's TSS, ``(genes, peaks)``."""
    return in_window(signed_distances(mdata, genes, annotation), window)


def tss_distance(peak_chrom, peak_centre, gene_chrom: str, gene_tss: int) -> np.ndarray:
    """Signed distance (bp) of each peak centre to one TSS: the one home of "distance to the
    TSS". NaN on another chromosome or where the TSS is unknown (negative)."""
    same = (np.asarray(peak_chrom).astype(str) == str(gene_chrom)) & (gene_tss >= 0)
    return np.where(same, np.asarray(peak_centre, dtype=np.float64) - gene_tss, np.nan)


def in_window(distance, window: int) -> np.ndarray:
    """``|distance| <= window``; NaN (another chromosome, unknown TSS) is never inside."""
    return np.abs(np.nan_to_num(np.asarray(distance, np.float64), nan=np.inf)) <= window


# --------------------------------------------------------------------------- matrices


def _peak_matrix(mdata, layer: str | None) -> sp.csr_matrix:
    atac = mdata.mod["atac"]
    if layer is not None and layer not in atac.layers:
        layer = None  # Signac's counts when the data has them, else the prepared X
    x = atac.layers[layer] if layer is not None else atac.X
    return sp.csr_matrix(x, dtype=np.float64)


def gene_matrix(mdata, genes: list[str]) -> np.ndarray:
    """Normalised expression (``rna.X``) of ``genes``, dense ``(cells, genes)`` float64."""
    rna = mdata.mod["rna"]
    cols = prepared.feature_columns(rna, genes, "rna")
    x = rna.X[:, cols]
    return np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)


def pearson_matrix(x: sp.csr_matrix, g: np.ndarray) -> np.ndarray:
    """Pearson r of every column of sparse ``x`` (cells, peaks) with every column of ``g``.

    Returns ``(genes, peaks)``; 0 where either side has no variance.
    """
    n = x.shape[0]
    mean_x = np.asarray(x.mean(axis=0)).ravel()
    var_x = np.asarray(x.multiply(x).mean(axis=0)).ravel() - mean_x**2
    g = g - g.mean(axis=0)
    cov = np.asarray(x.T @ g).T / n  # centred g: the mean of x drops out
    sd = np.sqrt(np.maximum(var_x, 0.0))[None, :] * g.std(axis=0)[:, None]
    return np.divide(cov, sd, out=np.zeros_like(cov), where=sd > 1e-12)


def obs_labels(mdata, key: str, option: str = "labels_key") -> np.ndarray:
    """Each cell's label in ``mdata.obs[key]`` as text; InputError (naming ``option``) for a
    column that does not exist or has missing labels."""
    if key not in mdata.obs:
        raise InputError(
            f"{option} {key!r} is not a column of mdata.obs; available: "
            f"{', '.join(map(str, mdata.obs.columns))}"
        )
    labels = mdata.obs[key]
    if labels.isna().any():
        raise InputError(f"mdata.obs[{key!r}] has {int(labels.isna().sum())} missing labels")
    return labels.astype(str).to_numpy()


def _type_codes(mdata, labels_key: str) -> np.ndarray:
    return pd.factorize(obs_labels(mdata, labels_key))[0]


def within_type_pearson(x: sp.csr_matrix, g: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Pearson r of ``g`` with every column of ``x`` after removing each cell type's mean:
    :func:`adjusted_correlation` given the type indicators. Returns ``(genes, peaks)``."""
    return adjusted_correlation(x, g, type_basis(codes))


def type_basis(codes: np.ndarray) -> np.ndarray:
    """Orthonormal basis ``(cells, types)`` of the cell-type indicators (it spans the intercept)."""
    onehot = np.eye(int(codes.max()) + 1)[codes]
    return onehot / np.sqrt(onehot.sum(axis=0))


def state_basis(state: np.ndarray) -> np.ndarray:
    """Orthonormal basis ``(cells, k)`` of an intercept and the columns of ``state``."""
    design = np.hstack([np.ones((len(state), 1)), np.asarray(state, dtype=np.float64)])
    u, s, _ = np.linalg.svd(design, full_matrices=False)
    return u[:, s > s[0] * 1e-10]


@dataclass
class ResidualPeaks:
    """Sparse peaks ``(cells, peaks)`` regressed on the covariates spanned by ``basis``
    (orthonormal columns), nothing densified: ``ss`` is each peak's residual sum of squares,
    its raw sum of squares less that of its projection on the basis."""

    peaks: sp.spmatrix
    basis: np.ndarray  # (cells, k)
    ss: np.ndarray  # (peaks,)

    @classmethod
    def fit(cls, x: sp.spmatrix, basis: np.ndarray) -> ResidualPeaks:
        x = sp.csc_matrix(x, dtype=np.float64)
        projected = np.asarray(x.T @ basis)  # (peaks, k)
        ss = np.asarray(x.multiply(x).sum(axis=0)).ravel() - (projected**2).sum(axis=1)
        return cls(x, basis, ss)

    def extended(self, extra: np.ndarray) -> ResidualPeaks:
        """The same peaks also regressed on the columns of ``extra`` ``(cells, d)``."""
        own = extra - self.basis @ (self.basis.T @ extra)
        u, s, _ = np.linalg.svd(own, full_matrices=False)
        own = u[:, s > max(s[0] if s.size else 0.0, 1e-12) * 1e-8]
        ss = self.ss - (np.asarray(self.peaks.T @ own) ** 2).sum(axis=1)
        return ResidualPeaks(self.peaks, np.hstack([self.basis, own]), ss)

    def correlation(self, g: np.ndarray) -> np.ndarray:
        """Partial correlation ``(genes, peaks)`` of each column of ``g`` with every peak; 0
        where either residual has no variance. A residual gene is orthogonal to the basis, so
        its product with the raw peaks equals its product with the residual peaks."""
        g = np.asarray(g, dtype=np.float64)
        g_res = g - self.basis @ (self.basis.T @ g)
        cov = np.asarray(self.peaks.T @ g_res).T
        sd = np.sqrt(np.maximum(self.ss, 0.0))[None, :] * np.sqrt((g_res**2).sum(axis=0))[:, None]
        return np.divide(cov, sd, out=np.zeros_like(cov), where=sd > 1e-9)


def adjusted_correlation(x: sp.spmatrix, g: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Partial correlation ``(genes, peaks)`` of each column of ``g`` with each column of sparse
    ``x`` given the covariates spanned by ``basis`` (orthonormal columns): :class:`ResidualPeaks`.
    """
    return ResidualPeaks.fit(x, basis).correlation(g)


def residual_df(basis: np.ndarray) -> int:
    """Degrees of freedom of a partial correlation given ``basis``: cells - columns - 1."""
    return max(basis.shape[0] - basis.shape[1] - 1, 1)


def t_statistic(r: np.ndarray, df: int) -> np.ndarray:
    """t of a (partial) correlation with ``df`` degrees of freedom."""
    with np.errstate(divide="ignore"):
        return r * np.sqrt(df / np.maximum(1.0 - r**2, 1e-300))


def sandwich_meat(peaks: sp.spmatrix, basis: np.ndarray, gene: np.ndarray) -> np.ndarray:
    """Per peak, the sum over cells of squared residual ``gene`` (one column, already
    orthogonal to ``basis``) x squared residual peak: White's HC0 variance of their product,
    from sparse products (with ``b = peaks.T @ basis`` the squared residual peak expands to
    ``p**2 - 2 p (basis b) + (basis b)**2``), no peak densified."""
    weighted = basis * (gene**2)[:, None]
    b = np.asarray(peaks.T @ basis)
    meat = np.asarray(peaks.multiply(peaks).T @ gene**2).ravel()
    meat -= 2.0 * (np.asarray(peaks.T @ weighted) * b).sum(axis=1)
    meat += ((b @ (basis.T @ weighted)) * b).sum(axis=1)
    return np.maximum(meat, 0.0)


def smaller_t(cov: np.ndarray, meat: np.ndarray, r: np.ndarray, df: int) -> np.ndarray:
    """The smaller in size of the plain t of the partial correlation ``r`` and the
    heteroscedasticity-robust t ``cov / sqrt(meat)`` (both share the sign of ``cov``): the
    plain t is too wide where gene and peak vary more in the same cells, the sandwich too
    narrow for a peak open in few cells (docs/links.md)."""
    se = np.sqrt(meat)
    robust = np.divide(cov, se, out=np.zeros_like(cov), where=se > 1e-9)
    plain = t_statistic(r, df)
    return np.where(np.abs(robust) < np.abs(plain), robust, plain)


# --------------------------------------------------------------------------- scorers


def random_scores(mdata, genes: list[str], *, seed: int = 0) -> np.ndarray:
    """Uniform random scores, ``(genes, peaks)``, from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return rng.random((len(genes), mdata.mod["atac"].n_vars))


def distance_scores(mdata, genes: list[str], *, annotation=None) -> np.ndarray:
    """Minus the distance (bp) from each peak's midpoint to the gene's TSS: closest first.

    Peaks on another chromosome, and every peak of a gene without a known TSS, get ``-inf``.
    """
    distance = signed_distances(mdata, genes, annotation)
    return np.where(np.isnan(distance), -np.inf, -np.abs(distance))


def background_peaks(
    peaks: pd.DataFrame,
    mean_access: np.ndarray,
    n_background: int = N_BACKGROUND,
    seed: int = 0,
    pool_factor: int = 2,
) -> np.ndarray:
    """For every peak, ``n_background`` peaks on other chromosomes with similar accessibility and width.

    Each peak's pool is its ``pool_factor * n_background`` nearest peaks on other chromosomes in
    (log mean accessibility, log width), both standardised; the background is a seeded random
    draw without replacement from that pool (Signac draws at random with weights that fall off
    with the distance in those statistics). Returns peak indices, ``(n_peaks, n_background)``.
    """
    width = (peaks["end"] - peaks["start"]).to_numpy(np.float64)
    features = np.column_stack([np.log1p(np.asarray(mean_access, np.float64)), np.log(width)])
    sd = features.std(axis=0)
    features = (features[:, sd > 0] - features[:, sd > 0].mean(axis=0)) / sd[sd > 0]
    if features.shape[1] == 0:
        features = np.zeros((len(peaks), 1))
    chrom = peaks["chrom"].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    out = np.empty((len(peaks), n_background), dtype=np.int64)
    for c in pd.unique(chrom):
        query = np.flatnonzero(chrom == c)
        others = np.flatnonzero(chrom != c)
        if others.size < 2:
            raise InputError(
                f"LinkPeaks background: {others.size} peaks lie off {c}; background peaks come "
                "from other chromosomes, so the data needs peaks on at least two chromosomes"
            )
        pool = min(others.size, pool_factor * n_background)
        _, nearest = cKDTree(features[others]).query(features[query], k=pool)
        nearest = nearest.reshape(query.size, pool)
        if pool < n_background:  # as Signac, use what there is (drawn with replacement)
            log(f"LinkPeaks background: only {pool} peaks lie off {c}; drawing with replacement")
            pick = rng.integers(0, pool, (query.size, n_background))
        else:
            pick = np.argsort(rng.random(nearest.shape), axis=1)[:, :n_background]
        out[query] = others[np.take_along_axis(nearest, pick, axis=1)]
    return out


def linkpeaks(
    mdata,
    genes: list[str],
    *,
    window: int = LINKPEAKS_WINDOW,
    n_background: int = N_BACKGROUND,
    min_cells: int = MIN_CELLS,
    peak_layer: str | None = "counts",
    seed: int = 0,
    annotation=None,
) -> LinkScores:
    """Signac ``LinkPeaks``: cis Pearson r z-scored against matched background peaks.

    For each gene, peaks within ``window`` bp of its TSS and open in more than ``min_cells``
    cells get ``z = (r - mean(r_bg)) / sd(r_bg)`` over their ``n_background`` background peaks
    (:func:`background_peaks`) and the one-sided ``p = P(Z > |z|)``; the score is ``|z|`` and
    every other peak gets ``-inf``. A link is called at ``p < 0.05`` and ``|r| > 0.05`` (Signac's
    defaults). ``extra`` holds the signed ``pearson`` (every peak), ``zscore`` and ``p_value``.
    """
    x = _peak_matrix(mdata, peak_layer)
    r = pearson_matrix(x, gene_matrix(mdata, genes))
    peaks = peak_table(mdata)
    open_cells = np.diff(x.tocsc().indptr) if x.nnz else np.zeros(x.shape[1], int)
    testable = cis_mask(mdata, genes, window, annotation) & (open_cells > min_cells)[None, :]
    bg = background_peaks(peaks, np.asarray(x.mean(axis=0)).ravel(), n_background, seed)
    z = np.full(r.shape, np.nan)
    for i in range(len(genes)):
        cols = np.flatnonzero(testable[i])
        if cols.size == 0:
            continue
        r_bg = r[i][bg[cols]]
        sd = r_bg.std(axis=1, ddof=1)
        z[i, cols] = np.divide(
            r[i, cols] - r_bg.mean(axis=1), sd, out=np.zeros(cols.size), where=sd > 0
        )
    p = stats.norm.sf(np.abs(z))
    with np.errstate(invalid="ignore"):
        called = (p < CALL_P) & (np.abs(r) > CALL_MIN_ABS_R)
    return LinkScores(
        method="linkpeaks",
        genes=list(genes),
        peaks=mdata.mod["atac"].var_names,
        score=np.where(np.isnan(z), -np.inf, np.abs(z)),
        called=called,
        call_rule=f"p < {CALL_P} and |r| > {CALL_MIN_ABS_R} within {window:,} bp",
        extra={"pearson": r, "zscore": z, "p_value": p},
    )


def partial_correlation(
    mdata,
    genes: list[str],
    *,
    labels_key: str,
    window: int | None = None,
    peak_layer: str | None = None,
    annotation=None,
    state_pcs: int | None = None,
) -> LinkScores:
    """Pearson r of gene and peak after removing the cell-type means (``mdata.obs[labels_key]``),
    or, with ``state_pcs``, after regressing both on the first ``state_pcs`` RNA principal
    components (``rna.obsm['X_pca']``): co-variation beyond the cell's state.

    The score is ``|r|`` over every peak (``window=None``) or over the peaks within ``window`` bp
    of the TSS (``-inf`` elsewhere). The two-sided p-value is the t-test of a partial
    correlation with ``n - k - 1`` degrees of freedom (``k`` covariates, the intercept
    included); links are called at BH FDR < 0.05 over the scored peaks of each gene.
    ``extra``: signed ``partial_r``, ``p_value``, ``fdr``.
    """
    if state_pcs is None:
        basis = type_basis(_type_codes(mdata, labels_key))
        method = "partial_correlation" if window is None else "partial_correlation_cis"
    else:
        basis = state_basis(rna_pcs(mdata.mod["rna"], None, state_pcs))
        method = "partial_correlation_state"
    r = adjusted_correlation(_peak_matrix(mdata, peak_layer), gene_matrix(mdata, genes), basis)
    scored = (
        np.ones(r.shape, bool) if window is None else cis_mask(mdata, genes, window, annotation)
    )
    df = residual_df(basis)
    p = np.where(scored, 2.0 * stats.t.sf(np.abs(t_statistic(r, df)), df), np.nan)
    fdr = np.vstack([benjamini_hochberg(row) for row in p]) if len(genes) else p
    with np.errstate(invalid="ignore"):
        called = fdr < CALL_FDR
    where = "every peak" if window is None else f"peaks within {window:,} bp"
    return LinkScores(
        method=method,
        genes=list(genes),
        peaks=mdata.mod["atac"].var_names,
        score=np.where(scored, np.abs(r), -np.inf),
        called=called,
        call_rule=f"BH FDR < {CALL_FDR} over {where} of each gene",
        extra={"partial_r": r, "p_value": p, "fdr": fdr},
    )


def rna_pcs(rna, cells=None, n_pcs: int = ExplainConfig.state_pcs) -> np.ndarray:
    """The first ``n_pcs`` RNA principal components of ``cells`` (all cells when None).

    One policy for every reader: ``rna.obsm['X_pca']`` when present, else computed here from
    ``rna.X`` (the highly variable genes when marked), logged and not stored.
    """
    rows = slice(None) if cells is None else rna.obs_names.get_indexer([str(c) for c in cells])
    if not n_pcs:
        return np.zeros((rna.n_obs, 0))[rows]
    if "X_pca" in rna.obsm:
        pcs = np.asarray(rna.obsm["X_pca"], dtype=np.float64)
    else:
        pcs = _computed_pcs(rna, n_pcs)
    if pcs.shape[1] < n_pcs:
        log(f"rna.obsm['X_pca'] has {pcs.shape[1]} components; {n_pcs} asked for, all used")
    return pcs[rows, :n_pcs]


def _computed_pcs(rna, n_pcs: int) -> np.ndarray:
    import scanpy as sc

    genes = (
        rna.var["highly_variable"].to_numpy(bool)
        if "highly_variable" in rna.var
        else np.ones(rna.n_vars, bool)
    )
    n_comps = max(1, min(n_pcs, int(genes.sum()) - 1, rna.n_obs - 1))
    log(
        f"rna.obsm has no 'X_pca': {n_comps} PCs computed from rna.X over {int(genes.sum())} "
        "genes (not stored; genepeak prepare stores them)"
    )
    x = rna.X[:, genes]
    x = x.toarray() if sp.issparse(x) else np.asarray(x)
    return np.asarray(sc.pp.pca(x.astype(np.float32), n_comps=n_comps), dtype=np.float64)


#: The data-only methods of the link benchmark, in display order.
BASELINE_METHODS = (
    "random",
    "distance",
    "linkpeaks",
    "partial_correlation",
    "partial_correlation_cis",
    "partial_correlation_state",
)


def score_baselines(
    mdata,
    genes: list[str],
    *,
    labels_key: str,
    methods: tuple[str, ...] = BASELINE_METHODS,
    window: int = LINKPEAKS_WINDOW,
    n_background: int = N_BACKGROUND,
    seed: int = 0,
    annotation=None,
    partial_window: int = PARTIAL_CORRELATION_WINDOW,
    state_pcs: int = ExplainConfig.state_pcs,
) -> dict[str, LinkScores]:
    """Every data-only method of ``methods`` on ``genes``: method name -> :class:`LinkScores`.

    ``window`` is LinkPeaks' cis window, ``partial_window`` that of ``partial_correlation_cis``
    and ``partial_correlation_state`` (given ``state_pcs`` RNA PCs, as genepeak's link score).
    """
    unknown = [m for m in methods if m not in BASELINE_METHODS]
    if unknown:
        raise InputError(
            f"unknown link baseline {unknown[0]!r}; valid: {', '.join(BASELINE_METHODS)}"
        )
    peaks = mdata.mod["atac"].var_names
    out: dict[str, LinkScores] = {}
    for method in methods:
        if method == "random":
            out[method] = LinkScores(
                method, list(genes), peaks, random_scores(mdata, genes, seed=seed)
            )
        elif method == "distance":
            score = distance_scores(mdata, genes, annotation=annotation)
            out[method] = LinkScores(method, list(genes), peaks, score)
        elif method == "linkpeaks":
            out[method] = linkpeaks(
                mdata,
                genes,
                window=window,
                n_background=n_background,
                seed=seed,
                annotation=annotation,
            )
        else:
            cis = None if method == "partial_correlation" else partial_window
            pcs = state_pcs if method == "partial_correlation_state" else None
            out[method] = partial_correlation(
                mdata,
                genes,
                labels_key=labels_key,
                window=cis,
                annotation=annotation,
                state_pcs=pcs,
            )
    return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values (scipy) over the finite entries; NaN stays NaN."""
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        q[finite] = stats.false_discovery_control(p[finite], method="bh")
    return q
