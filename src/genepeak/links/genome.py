"""Genome-wide gene -> peak links from the data, per cell population.

Every gene is tested against every peak whose centre lies within ``window`` bp of its TSS, by
the partial correlation of gene and peak given the cell's state (``links/state.py``): an
intercept, the first RNA principal components and the log of the cell's ATAC counts, and, with
a trained model, the model's latent read with the gene held at its mean. A pair's t is the
smaller in size of the plain t and the heteroscedasticity-robust one (White's HC0 from the
peak's residual on the state: a gene and a peak that vary more in the same cells make the
plain t too wide; for a peak open in few cells the sandwich is too narrow; docs/links.md).
Each gene's t is put on its own empirical null (its t against a seeded sample of peaks on other chromosomes: median
and MAD, never narrower than the theoretical null), the two-sided p-values are adjusted by
Benjamini-Hochberg over every pair of the population, and ``link_score`` is the log posterior
odds of a link under a distance prior learned from the population's own pairs: a two-group
model of z whose linked share is fitted per log-distance class and shrunk towards the pooled
share (:func:`genepeak.links.state.distance_log_odds`), so no distance profile is built in;
real links sit mostly within 100 kb, and where a data set's evidence says so, a near peak
ranks above a far one with the same z.

The algebra is done once per population: the state is projected out of the genes (dense,
cells x genes) and each peak's residual sum of squares comes from two sparse products; the
covariance of a residual gene with a raw peak equals that with the residual peak, so each
window needs one product of a chunk of peaks (densified, ``PEAK_CHUNK`` at a time) with the
residual genes of that chromosome, and the same chunk, residualised, gives the sandwich's sum
of squared products. With ``groupby``, the same is done inside each group, and
:func:`compare_groups` tests whether a link differs between groups (Cochran's Q on Fisher's z).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from genepeak._utils import log, progress
from genepeak.errors import InputError
from genepeak.io import prepared
from genepeak.io.annotation import gene_coordinates, recorded_annotation
from genepeak.io.peaks import peak_coordinates
from genepeak.links import state
from genepeak.links.baselines import (
    benjamini_hochberg,
    in_window,
    obs_labels,
    residual_df,
    rna_pcs,
    sandwich_meat,
    smaller_t,
    state_basis,
)

#: peaks densified per product (cells x PEAK_CHUNK float32)
PEAK_CHUNK = 2048
#: the call: BH FDR below this
CALL_FDR = 0.05


@dataclass(frozen=True)
class LinkOptions:
    """Settings of :func:`link_genes` (stored with its result)."""

    window: int = 1_000_000  # bp from the TSS to a peak's centre
    state_pcs: int = 15  # RNA PCs in the cell state
    latent_dims: int = 5  # leading directions of a model's latent in the state
    null_peaks: int = 2000  # peaks sampled for each gene's empirical null
    fdr: float = CALL_FDR
    min_cells: int = 50  # a population needs at least this many cells
    min_detected: int = 10  # a gene / peak is tested where non-zero in this many cells (Signac)
    skip_small_groups: bool = False  # False: a smaller group is an error; True: skipped, logged
    distance_prior: bool = True  # link_score with the distance prior fitted to the data
    seed: int = 0


@dataclass
class LinkResult:
    """Every tested (population, gene, peak) pair, the per-group comparison, and the settings."""

    links: pd.DataFrame
    comparison: pd.DataFrame | None
    params: dict
    genes: pd.DataFrame  # chrom, start, end, strand, tss of the tested genes
    seconds: dict = field(default_factory=dict)

    def called(self, group: str | None = "all") -> pd.DataFrame:
        """The called links of one population (``"all"``: every cell; None: every population),
        best first."""
        table = self.links[self.links["called"]]
        if group is not None:
            table = table[table["group"] == group]
        return table.sort_values("link_score", ascending=False)


# --------------------------------------------------------------------------- inputs


def choose_genes(mdata, genes) -> list[str]:
    """Gene names from ``"hvg"``, ``"all"`` or a list; InputError naming unknown genes."""
    rna = mdata.mod["rna"]
    names = pd.Index(rna.var_names.astype(str))
    if isinstance(genes, str) and genes in ("hvg", "all"):
        if genes == "all":
            return list(names)
        if "highly_variable" not in rna.var:
            raise InputError(
                "--genes hvg: mdata.mod['rna'].var has no 'highly_variable' column; run "
                "genepeak prepare (or scanpy's highly_variable_genes), or name the genes"
            )
        return list(names[rna.var["highly_variable"].to_numpy(bool)])
    wanted = [str(g) for g in ([genes] if isinstance(genes, str) else genes)]
    if not wanted:
        raise InputError("no genes given: name genes, or use 'hvg' or 'all'")
    unknown = [g for g in wanted if g not in names]
    if unknown:
        shown = ", ".join(unknown[:10]) + (
            f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        )
        raise InputError(
            f"{len(unknown)} of {len(wanted)} genes are not in mdata.mod['rna'].var_names: {shown}"
        )
    return list(dict.fromkeys(wanted))


def populations(
    mdata, groupby: str | None, min_cells: int, skip_small: bool = False
) -> dict[str, np.ndarray]:
    """Cell rows of each population: ``"all"``, or each group of ``mdata.obs[groupby]``."""
    n = mdata.n_obs
    if groupby is None:
        if n < min_cells:
            raise InputError(f"the data has {n} cells; at least {min_cells} are needed")
        return {"all": np.arange(n)}
    labels = obs_labels(mdata, groupby, "--groupby")
    groups = {g: np.flatnonzero(labels == g) for g in sorted(pd.unique(labels), key=str)}
    small = {g: len(rows) for g, rows in groups.items() if len(rows) < min_cells}
    listed = ", ".join(f"{g} ({k} cells)" for g, k in small.items())
    if small and skip_small and len(small) < len(groups):
        log(f"links: groups with fewer than {min_cells} cells skipped: {listed}")
        return {g: rows for g, rows in groups.items() if g not in small}
    if small:
        raise InputError(
            f"groups of mdata.obs[{groupby!r}] with fewer than {min_cells} cells: {listed}; "
            "merge or drop them, lower --min-cells, or --skip-small-groups"
        )
    return groups


def _peak_positions(mdata) -> pd.DataFrame:
    atac = mdata.mod["atac"]
    try:
        coords = peak_coordinates(atac.var, source="mdata.mod['atac'].var_names")
    except InputError as err:
        raise InputError(
            f"peaks need coordinates (var columns chrom/start/end, or names like "
            f"chr1:100-600): {err}"
        ) from None
    coords["centre"] = (coords["start"].to_numpy() + coords["end"].to_numpy()) // 2
    return coords


# --------------------------------------------------------------------------- pairs


@dataclass
class _Pairs:
    """The window pairs of the tested genes, grouped by chromosome: gene and peak positions."""

    gene: np.ndarray  # gene position in the tested list
    peak: np.ndarray  # peak column of atac
    distance: np.ndarray  # peak centre - TSS (bp)
    blocks: list  # (gene positions, peak columns, slice into gene/peak) per chromosome


def window_pairs(genes: pd.DataFrame, peaks: pd.DataFrame, window: int) -> _Pairs:
    """Every (gene, peak) pair with the peak's centre within ``window`` bp of the TSS."""
    gene_out, peak_out, dist_out, blocks = [], [], [], []
    known = genes["tss"].to_numpy() >= 0
    chrom = genes["chrom"].astype(str).to_numpy()
    tss = genes["tss"].to_numpy(np.int64)
    peak_chrom = peaks["chrom"].astype(str).to_numpy()
    centre = peaks["centre"].to_numpy(np.int64)
    start = 0
    for c in pd.unique(chrom[known]):
        g = np.flatnonzero(known & (chrom == c))
        cols = np.flatnonzero(peak_chrom == c)
        if cols.size == 0:
            continue
        cols = cols[np.argsort(centre[cols], kind="stable")]
        lo = np.searchsorted(centre[cols], tss[g] - window, side="left")
        hi = np.searchsorted(centre[cols], tss[g] + window, side="right")
        counts = hi - lo
        if counts.sum() == 0:
            continue
        gene_rows = np.repeat(g, counts)
        within = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
        gene_out.append(gene_rows)
        peak_out.append(cols[within])
        dist_out.append(centre[cols[within]] - tss[gene_rows])
        blocks.append((g, cols, slice(start, start + gene_rows.size), lo, hi))
        start += gene_rows.size
    if not gene_out:
        return _Pairs(np.zeros(0, int), np.zeros(0, int), np.zeros(0, np.int64), [])
    return _Pairs(
        np.concatenate(gene_out), np.concatenate(peak_out), np.concatenate(dist_out), blocks
    )


def null_peak_sample(peaks: pd.DataFrame, size: int, seed: int) -> np.ndarray:
    """A seeded sample of ``size`` peak columns (all when fewer), sorted."""
    rng = np.random.default_rng(seed)
    n = len(peaks)
    return np.sort(rng.choice(n, min(size, n), replace=False))


# --------------------------------------------------------------------------- one population


@dataclass
class _Residuals:
    """One population's state algebra: residual genes, peak sums of squares, basis."""

    peaks: sp.csc_matrix  # cells x peaks (raw, prepared atac.X)
    genes: np.ndarray  # cells x genes, the state projected out
    gene_ss: np.ndarray
    peak_ss: np.ndarray
    basis: np.ndarray

    @classmethod
    def fit(cls, peaks: sp.spmatrix, genes: np.ndarray, covariates: np.ndarray) -> _Residuals:
        basis = state_basis(covariates)
        peaks = sp.csc_matrix(peaks, dtype=np.float32)  # densified in chunks as float32
        peak_ss = prepared.column_sums(peaks, 2) - (_projections(peaks, basis) ** 2).sum(axis=1)
        genes = genes - basis @ (basis.T @ genes)
        return cls(peaks, genes, (genes**2).sum(axis=0), np.maximum(peak_ss, 0.0), basis)

    def products(self, cols: np.ndarray, gene_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(cov, meat)``, each ``(len(cols), len(gene_rows))``: residual gene x raw peak
        products, and the sum over cells of squared residual gene x squared residual peak (the
        sandwich variance of ``cov``); peaks densified ``PEAK_CHUNK`` at a time, float32."""
        cov = np.empty((len(cols), len(gene_rows)))
        meat = np.empty_like(cov)
        g = self.genes[:, gene_rows].astype(np.float32)
        g_squared, basis = np.square(g), self.basis.astype(np.float32)
        for lo in range(0, len(cols), PEAK_CHUNK):
            block = self.peaks[:, cols[lo : lo + PEAK_CHUNK]].toarray()
            cov[lo : lo + block.shape[1]] = block.T @ g
            block -= basis @ (basis.T @ block)  # the peaks' residuals on the state
            meat[lo : lo + block.shape[1]] = np.square(block, out=block).T @ g_squared
        return cov, meat

    def one_gene_products(self) -> tuple[np.ndarray, np.ndarray]:
        """``products`` of the one gene column against every peak, from sparse products
        (``links.baselines.sandwich_meat``): for one gene cheaper than dense blocks."""
        g = self.genes[:, 0]
        cov = np.asarray(self.peaks.T @ g).ravel()
        return cov, sandwich_meat(self.peaks, self.basis, g)

    def t(self, cov, meat, peak_ss, gene_ss) -> tuple[np.ndarray, np.ndarray]:
        """Partial correlation and the smaller in size of its plain t and its
        heteroscedasticity-robust t (White's HC0). A gene and a peak that both vary more in the
        same cells (a type-matched neighbour of the gene) make the plain t too wide; for a peak
        open in few cells the sandwich is too narrow. docs/links.md measures both."""
        sd = np.sqrt(peak_ss * gene_ss)
        r = np.clip(np.divide(cov, sd, out=np.zeros_like(cov), where=sd > 1e-9), -1.0, 1.0)
        return r, smaller_t(cov, meat, r, residual_df(self.basis))


def _population_links(
    residual: _Residuals, pairs: _Pairs, null_cols: np.ndarray, null_ok: np.ndarray
) -> dict[str, np.ndarray]:
    """Partial r, t (``_Residuals.t``) and z of every window pair of one population."""
    r = np.zeros(pairs.gene.size)
    t = np.zeros(pairs.gene.size)
    for g, cols, where, lo, hi in progress(pairs.blocks, desc="links per chromosome"):
        span = np.unique(np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)]))
        cov, meat = residual.products(cols[span], g)  # (span peaks, genes of the chromosome)
        position = np.searchsorted(span, np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)]))
        gene_of = np.repeat(np.arange(len(g)), hi - lo)
        peak_ss = residual.peak_ss[pairs.peak[where]]
        gene_ss = residual.gene_ss[pairs.gene[where]]
        r[where], t[where] = residual.t(
            cov[position, gene_of], meat[position, gene_of], peak_ss, gene_ss
        )
    null_cov, null_meat = residual.products(null_cols, np.arange(residual.genes.shape[1]))
    _, null_t = residual.t(
        null_cov, null_meat, residual.peak_ss[null_cols][:, None], residual.gene_ss[None, :]
    )
    z = np.zeros_like(t)
    for i in np.unique(pairs.gene):
        rows = pairs.gene == i
        z[rows] = state.empirical_z(t[rows], null_t[null_ok[:, i], i])
    return {"partial_r": r, "t": t, "z": z}


def _null_usable(null_cols, peaks: pd.DataFrame, genes: pd.DataFrame, window: int) -> np.ndarray:
    """``(null peaks, genes)``: the sampled peak lies beyond the gene's window (or elsewhere)."""
    chrom = peaks["chrom"].astype(str).to_numpy()[null_cols]
    centre = peaks["centre"].to_numpy(np.float64)[null_cols]
    tss = genes["tss"].to_numpy(np.int64)
    same = (chrom[:, None] == genes["chrom"].astype(str).to_numpy()[None, :]) & (tss >= 0)
    return ~in_window(np.where(same, centre[:, None] - tss[None, :], np.nan), window)


# --------------------------------------------------------------------------- entry point


def link_genes(
    mdata,
    genes="hvg",
    *,
    groupby: str | None = None,
    model=None,
    options: LinkOptions | None = None,
    key_added: str | None = "genepeak_links",
) -> LinkResult:
    """Link genes to the peaks around them, over all cells or within each group.

    Parameters
    ----------
    mdata
        Prepared MuData (``rna`` normalised log1p, ``atac`` with peak coordinates).
    genes
        ``"hvg"`` (``rna.var['highly_variable']``), ``"all"``, or gene names.
    groupby
        A column of ``mdata.obs``: links are also scored within each of its groups, and
        ``comparison`` says for each link called anywhere whether it differs between groups.
    model
        A trained genepeak model (GPG, Dual VAE): its latent of each cell, read with the tested
        gene held at its mean, joins the cell state. One forward pass per gene and population:
        slow genome-wide, meant for chosen genes. None: the state is the PCs and ATAC depth.
    options
        :class:`LinkOptions`.
    key_added
        ``mdata.uns[key_added]`` gets ``{"links", "comparison", "params"}``; None stores nothing.

    Returns
    -------
    :class:`LinkResult`. ``links`` has one row per (group, gene, peak) within the window:
    ``distance_to_tss``, ``partial_r``, ``t``, ``z`` (on the gene's empirical null),
    ``p_value``, ``fdr`` (BH over the group's pairs), ``link_score`` (log posterior odds of a
    link under the distance prior fitted to the group's own pairs,
    :func:`genepeak.links.state.distance_log_odds`; the plain two-group model when
    ``options.distance_prior`` is False) and ``called`` (``fdr < options.fdr``).
    """
    options = options or LinkOptions()
    started = time.perf_counter()
    names = choose_genes(mdata, genes)
    if model is not None:
        _check_model(model, mdata, names)
    peaks = _peak_positions(mdata)
    coords = _tested_positions(mdata, names)
    pairs = window_pairs(coords, peaks, options.window)
    if pairs.gene.size == 0:
        raise InputError(
            f"no peak lies within {options.window:,} bp of any of the {len(names)} genes' TSS; "
            "check that genes and peaks use the same genome and chromosome names"
        )
    null_cols = null_peak_sample(peaks, options.null_peaks, options.seed)
    null_ok = _null_usable(null_cols, peaks, coords, options.window)
    groups = populations(mdata, groupby, options.min_cells, options.skip_small_groups)
    if groupby is not None:
        groups = {"all": np.arange(mdata.n_obs), **groups}
    log(
        f"links: {len(names)} genes x {len(peaks):,} peaks, {pairs.gene.size:,} pairs within "
        f"{options.window:,} bp, {len(groups)} population(s)"
    )
    pcs = rna_pcs(mdata.mod["rna"], None, options.state_pcs)
    tables, seconds = [], {}
    for group, rows in groups.items():
        begun = time.perf_counter()
        tables.append(
            _score_population(
                mdata, names, rows, pcs, pairs, null_cols, null_ok, model, options
            ).assign(group=group)
        )
        seconds[group] = round(time.perf_counter() - begun, 2)
    table = _tidy(pd.concat(tables, ignore_index=True), names, peaks, pairs)
    comparison = compare_groups(table, options.fdr) if groupby is not None else None
    params = {
        **asdict(options),
        "genes": genes if isinstance(genes, str) else "list",
        "n_genes": len(names),
        "groupby": groupby or "",
        "model": _model_name(model),
    }
    result = LinkResult(table, comparison, params, coords, seconds)
    result.seconds["total"] = round(time.perf_counter() - started, 2)
    log(
        f"links: {len(result.called('all')):,} links called over all cells (BH FDR < "
        f"{options.fdr}), {int(table['called'].sum()):,} over every population, in "
        f"{result.seconds['total']:.1f} s"
    )
    if key_added is not None:
        store(mdata, key_added, result)
    return result


def _tested_positions(mdata, names: list[str]) -> pd.DataFrame:
    """Chromosome, interval, strand and TSS of ``names``; logs the genes without a TSS and
    refuses when none has one."""
    coords = gene_coordinates(mdata.mod["rna"].var.loc[names], recorded_annotation(mdata))
    no_tss = coords.index[coords["tss"].to_numpy() < 0]
    if len(no_tss):
        log(f"links: {len(no_tss)} genes have no known TSS and are not tested (e.g. {no_tss[0]})")
    if len(no_tss) == len(names):
        raise InputError(
            "none of the genes has a known TSS: mdata.mod['rna'].var needs 'interval' or "
            "chrom/start/end (10x ARC files carry them), or prepare with a gene annotation"
        )
    return coords


def store(mdata, key: str, result: LinkResult) -> None:
    """``mdata.uns[key]``: the table, the comparison and the settings that made them."""
    mdata.uns[key] = {
        "links": result.links,
        "comparison": result.comparison if result.comparison is not None else pd.DataFrame(),
        "params": {k: (v if v is not None else "") for k, v in result.params.items()},
    }


def _score_population(mdata, names, rows, pcs, pairs, null_cols, null_ok, model, options):
    """One population's table (positions, not names) of every window pair."""
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    cells = np.asarray(rna.obs_names)[rows]
    peak_matrix = _csc_peaks(atac, prepared.cell_rows(atac.obs_names, cells))
    gene_cols = prepared.feature_columns(rna, names, "rna")
    x = rna.X[rows][:, gene_cols]
    gene_x = np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)
    covariates = np.column_stack([pcs[rows], state.atac_log_depth(atac, cells)])
    residual = _Residuals.fit(peak_matrix, gene_x, covariates)
    if model is None:
        found = _population_links(residual, pairs, null_cols, null_ok)
    else:
        found = _with_model(
            residual, pairs, null_cols, null_ok, model, mdata, names, cells, options
        )
    testable = _detected(gene_x, options.min_detected)[pairs.gene]
    testable &= _detected(peak_matrix, options.min_detected)[pairs.peak]
    z = np.where(testable, found["z"], np.nan)
    p = np.where(testable, 2.0 * stats.norm.sf(np.abs(z)), np.nan)
    fdr = benjamini_hochberg(p)
    if options.distance_prior:
        score, _ = state.distance_log_odds(z, pairs.distance)
    else:
        score, _ = state.two_group_log_odds(z, testable)
    return pd.DataFrame(
        {
            "gene_pos": pairs.gene,
            "peak_pos": pairs.peak,
            "n_cells": len(rows),
            **found,
            "p_value": p,
            "fdr": fdr,
            "link_score": score,
            "called": np.nan_to_num(fdr, nan=1.0) < options.fdr,
        }
    )


def _csc_peaks(atac, rows: np.ndarray) -> sp.csc_matrix:
    """The population's rows of ``atac.X`` as CSC float32, explicit zeros dropped: one copy
    (the whole matrix is converted without a row copy first)."""
    every_row = prepared.every_column(rows, atac.n_obs)  # all rows, in order
    matrix = atac.X if every_row else prepared.sparse_block(atac.X, rows)
    if sp.issparse(matrix) and matrix.format == "csc":
        peaks = matrix.astype(np.float32)  # always a copy: the caller's matrix is not touched
    else:
        peaks = sp.csc_matrix(matrix, dtype=np.float32)
    peaks.sum_duplicates()
    peaks.eliminate_zeros()
    return peaks


def _projections(x: sp.csc_matrix, basis: np.ndarray) -> np.ndarray:
    """``x.T @ basis`` (float64), ``PEAK_CHUNK`` columns of ``x`` cast up at a time."""
    out = np.empty((x.shape[1], basis.shape[1]))
    for lo in range(0, x.shape[1], PEAK_CHUNK):
        out[lo : lo + PEAK_CHUNK] = np.asarray(x[:, lo : lo + PEAK_CHUNK].T @ basis)
    return out


def _detected(x, min_detected: int) -> np.ndarray:
    """Columns of ``x`` (cells x features; sparse: CSC without explicit zeros) non-zero in at
    least ``min_detected`` cells."""
    if sp.issparse(x):
        if x.format != "csc" or not x.has_canonical_format:
            x = sp.csc_matrix(x, copy=True)
            x.sum_duplicates()
            x.eliminate_zeros()
        return np.diff(x.indptr) >= min_detected
    return (np.asarray(x) != 0).sum(axis=0) >= min_detected


def _with_model(residual, pairs, null_cols, null_ok, model, mdata, names, cells, options):
    """Per gene, the model's latent (gene held at its mean) joins the state."""
    rna = mdata.mod["rna"]
    cols = prepared.feature_columns(rna, [str(g) for g in model.genes], "rna")
    x = prepared.dense_block(rna.X, prepared.cell_rows(rna.obs_names, list(cells)), cols)
    model_cols = pd.Index([str(g) for g in model.genes]).get_indexer(names)
    r = np.zeros(pairs.gene.size)
    t = np.zeros_like(r)
    z = np.zeros_like(r)
    for i in progress(np.unique(pairs.gene), desc="links with the model's latent"):
        rows = np.flatnonzero(pairs.gene == i)
        latent = state.held_out_latent(model, x, model_cols[i], options.latent_dims)
        cols = np.concatenate([pairs.peak[rows], null_cols[null_ok[:, i]]])
        own = _Residuals(
            residual.peaks[:, cols],
            residual.genes[:, [i]],
            residual.gene_ss[[i]],
            residual.peak_ss[cols],
            residual.basis,
        )
        if latent is not None:
            own = _extend(own, latent)
        cov, meat = own.one_gene_products()
        pr, pt = own.t(cov, meat, own.peak_ss, own.gene_ss[0])
        k = rows.size
        r[rows], t[rows] = pr[:k], pt[:k]
        z[rows] = state.empirical_z(pt[:k], pt[k:])
    return {"partial_r": r, "t": t, "z": z}


def _extend(own: _Residuals, extra: np.ndarray) -> _Residuals:
    """The same residuals also regressed on ``extra`` (cells, d): new basis columns."""
    extra = extra - own.basis @ (own.basis.T @ extra)
    u, s, _ = np.linalg.svd(extra, full_matrices=False)
    u = u[:, s > max(s[0] if s.size else 0.0, 1e-12) * 1e-8]
    genes = own.genes - u @ (u.T @ own.genes)
    peak_ss = own.peak_ss - (np.asarray(own.peaks.T @ u) ** 2).sum(axis=1)
    gene_ss = (genes**2).sum(axis=0)
    basis = np.hstack([own.basis, u])
    return _Residuals(own.peaks, genes, gene_ss, np.maximum(peak_ss, 0.0), basis)


def _tidy(table: pd.DataFrame, names, peaks: pd.DataFrame, pairs: _Pairs) -> pd.DataFrame:
    """Names, coordinates and distance in place of positions; populations as categories."""
    n_groups = table["group"].nunique()
    gene = pd.Categorical.from_codes(table.pop("gene_pos").to_numpy(), categories=names)
    peak_pos = table.pop("peak_pos").to_numpy()
    peak_names = pd.Index(peaks.index.astype(str))
    front = pd.DataFrame(
        {
            "group": pd.Categorical(table.pop("group")),
            "gene": gene,
            "peak": pd.Categorical.from_codes(peak_pos, categories=peak_names),
            "chrom": pd.Categorical(peaks["chrom"].astype(str).to_numpy()[peak_pos]),
            "start": peaks["start"].to_numpy()[peak_pos],
            "end": peaks["end"].to_numpy()[peak_pos],
            "distance_to_tss": np.tile(pairs.distance, n_groups),
        }
    )
    return pd.concat([front, table], axis=1)


def compare_groups(table: pd.DataFrame, fdr: float = CALL_FDR) -> pd.DataFrame:
    """Each link called in some group, with its partial r and call in every group, and whether
    it differs between groups: Cochran's Q of Fisher's z (``atanh r``, variance ``1 / (n - 3)``
    per group), chi-squared with groups - 1 df, BH over the links compared."""
    groups = table[table["group"] != "all"]
    if groups.empty:
        return pd.DataFrame()
    key = ["gene", "peak"]
    called = groups.loc[groups["called"], key].drop_duplicates()
    if called.empty:
        return pd.DataFrame(
            columns=[*key, "groups_called", "q_statistic", "p_differs", "fdr_differs"]
        )
    sub = groups.merge(called, on=key)
    wide_r = sub.pivot_table(index=key, columns="group", values="partial_r", observed=True)
    wide_n = sub.pivot_table(index=key, columns="group", values="n_cells", observed=True)
    wide_called = sub.pivot_table(
        index=key, columns="group", values="called", observed=True, aggfunc="max"
    )
    zf = np.arctanh(np.clip(wide_r.to_numpy(), -0.999999, 0.999999))
    w = np.maximum(wide_n.to_numpy() - 3.0, 1.0)
    mean = np.nansum(w * zf, axis=1) / np.nansum(w, axis=1)
    q = np.nansum(w * (zf - mean[:, None]) ** 2, axis=1)
    k = np.isfinite(zf).sum(axis=1)
    p = np.where(k > 1, stats.chi2.sf(q, np.maximum(k - 1, 1)), np.nan)
    out = wide_r.add_prefix("r_").reset_index()
    out.columns.name = None  # the pivot's "group" would head the table's first column
    out["groups_called"] = [
        ",".join(str(c) for c, v in zip(wide_called.columns, row) if v == 1)
        for row in wide_called.to_numpy()
    ]
    out["q_statistic"], out["p_differs"] = q, p
    out["fdr_differs"] = benjamini_hochberg(p)
    out["differs"] = out["fdr_differs"] < fdr
    return out.sort_values("p_differs", kind="stable").reset_index(drop=True)


def group_means(adata, cols: np.ndarray, labels: pd.Series, groups) -> np.ndarray:
    """Mean of columns ``cols`` of ``adata.X`` over the cells of each group, ``(groups, cols)``;
    ``labels`` is indexed by cell name (cells without a label count in no group)."""
    aligned = labels.reindex(adata.obs_names.astype(str)).astype(object).to_numpy()
    x = adata.X[:, cols]
    out = np.zeros((len(groups), len(cols)))
    for i, group in enumerate(groups):
        rows = np.flatnonzero(aligned == group)
        if rows.size:
            out[i] = np.asarray(x[rows].mean(axis=0)).ravel()
    return out


def _check_model(model, mdata, names: list[str]) -> None:
    """The model must know the tested genes and have been trained on these peaks."""
    model_genes = pd.Index([str(g) for g in model.genes])
    missing = [g for g in names if g not in model_genes]
    if missing:
        raise InputError(
            f"the model was trained on other genes: {len(missing)} of the {len(names)} genes "
            f"are not among its genes (e.g. {missing[0]}); link the model's genes or retrain"
        )
    data_peaks = set(map(str, mdata.mod["atac"].var_names))
    absent = [p for p in map(str, model.peaks) if p not in data_peaks]
    if absent:
        raise InputError(
            f"the model was trained on other peaks: {len(absent)} of its {len(model.peaks)} "
            f"peaks are not in the data (e.g. {absent[0]})"
        )


def _model_name(model) -> str:
    return "" if model is None else type(model).__name__
