"""Gene -> peak links: population perturbation against matched null genes, and co-variation
beyond the cell state.

For each gene, every cell that expresses it is silenced at once (one vectorised pass of the
posterior-mean model); the peak's *effect* is the mean change of its predicted accessibility.
The same silencing is applied to ``n_null`` expression-matched genes in the same cells (the
genes nearest to it in mean and detection there, :mod:`genepeak.links.nulls`): **one null set
per population**, so the null and the target see the same cells.

Calibration (:mod:`genepeak.links.calibration`, where the statistics live). For each peak, the
null genes give the mean and spread of the effects a gene of that expression causes there; the
target's z against them is put on the gene's own empirical null (its peaks beyond the cis
window), widened inside the window by what the null genes show there. Two-sided t p-values
follow, and Benjamini-Hochberg over every (gene, peak) pair of the table: one family, so that
the FDR holds among all calls, drivers' and shams' together.

State-adjusted evidence. Silencing a gene moves a peak in the model mostly through its latent,
which mostly says which cell type the cell is. What a driven peak shows beyond that is
co-variation with its gene beyond the cell's state (``links/state.py``): the partial
correlation of gene and peak given the RNA PCs, the cell's ATAC depth and the model's latent
(read with the gene held at its mean), over every cell of the population, on every peak. Its t
(``state_t``) is put on the gene's own empirical null, its t on the peaks beyond its window
(``state_z``; few peaks are linked to any one gene, and a null no narrower than the
theoretical one). Inside the window ``state_p_value`` (normal) and ``state_fdr``
(Benjamini-Hochberg over every such pair of the table) are its calls.

The link score is the log posterior odds of a link from a two-group model of ``state_z`` fitted
to the table's pairs inside the window, and its linked share refitted beyond it
(:func:`genepeak.links.state.two_group_log_odds`): the data say how much rarer a link beyond
the window is, and only strong evidence ranks a distal or trans peak high. ``explain_gene``'s
one experiment has no population to correlate over: there it is ``z**2 / 2`` of the
perturbation evidence plus the prior at ``distance_decay`` (other chromosomes count as
``links.calibration.TRANS_DISTANCE``). ``prior_only`` is that prior alone. ``p_value`` / ``fdr`` stay the
calibrated test of the perturbation effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genepeak._utils import log, progress
from genepeak.config import ExplainConfig
from genepeak.errors import InputError
from genepeak.explain import perturb, values
from genepeak.explain.model import ExplainableModel
from genepeak.io import prepared
from genepeak.io.annotation import gene_positions
from genepeak.io.peaks import peak_centres
from genepeak.links import baselines as link_baselines
from genepeak.links import state
from genepeak.links.calibration import gene_link_table
from genepeak.links.nulls import matched_null_genes

#: rows per forward pass of the model while perturbing
ROWS_PER_PASS = 4096


def population_effects(
    model, x: np.ndarray, columns: np.ndarray, value: float = 0.0, baseline=None
) -> np.ndarray:
    """Mean change of every peak when each gene of ``columns`` is set to ``value`` in all rows.

    Parameters
    ----------
    model
        Anything with ``peaks_from_genes(x)`` (posterior means, ``(rows, peaks)``).
    x
        Cells x model genes, in model input space.
    columns
        Gene columns to perturb, one at a time.

    Returns
    -------
    ``(len(columns), peaks)`` float64 effects, ``mean(perturbed - baseline)`` over rows.
    """
    x = np.asarray(x, dtype=np.float32)
    if baseline is None:
        baseline = perturb.deterministic_rows(model, x).mean(axis=0, dtype=np.float64)
    per_pass = max(1, ROWS_PER_PASS // max(len(x), 1))
    effects = np.empty((len(columns), baseline.shape[-1]))
    starts = range(0, len(columns), per_pass)
    if len(starts) > 4:
        starts = progress(starts, desc="perturbing genes", total=len(starts))
    for lo in starts:
        chunk = columns[lo : lo + per_pass]
        rows = np.repeat(x[None], len(chunk), axis=0)
        rows[np.arange(len(chunk)), :, chunk] = value
        pred = perturb.deterministic_rows(model, rows.reshape(-1, x.shape[1])).reshape(
            len(chunk), len(x), -1
        )
        effects[lo : lo + len(chunk)] = pred.mean(axis=1, dtype=np.float64) - baseline
    return effects


def _expressed_targets(genes: list[str], columns: np.ndarray, x: np.ndarray):
    """The genes expressed in some cell of ``x``; the others are skipped (or refused alone)."""
    expressed = (x[:, columns] > 0).any(axis=0)
    for gene in np.asarray(genes)[~expressed]:
        message = (
            f"{gene} is 0 in every cell of the population: silencing it changes nothing. "
            "Choose a population where it is expressed, or set a value instead."
        )
        if len(genes) == 1:
            raise InputError(message)
        log(f"link_scores: {gene} skipped: {message}")
    if not expressed.any():
        raise InputError(f"none of {', '.join(genes)} is expressed in the population")
    return [g for g, e in zip(genes, expressed) if e], columns[expressed]


def link_scores(
    model: ExplainableModel,
    mdata,
    genes: list[str],
    *,
    labels_key: str | None = None,
    cell_type: str | None = None,
    config=None,
    key_added: str | None = None,
) -> pd.DataFrame:
    """Silence each gene in every cell that expresses it; score every peak as its link.

    Parameters
    ----------
    model
        A trained model (:class:`~genepeak.explain.model.ExplainableModel`).
    mdata
        The prepared MuData.
    genes
        Genes to score (each must be among ``model.genes``).
    labels_key, cell_type
        Restrict the population to cells with ``mdata.obs[labels_key] == cell_type``.
    config
        :class:`~genepeak.config.ExplainConfig` (null genes, seed, distance decay, flips).
    key_added
        When given, the table is also stored in ``mdata.uns[key_added]`` (e.g.
        ``"genepeak_links"``), where it is saved with ``mdata.write_h5mu``; None stores nothing.

    Returns
    -------
    Long table, one row per (gene, peak): ``effect`` (signed mean change), ``perturbation_effect``
    (its size), ``zscore``, ``p_value``, ``fdr``, ``distance_to_tss``, ``prior_only``,
    ``link_score`` (log posterior odds of a link, every peak; ``-inf`` beyond the window when
    the table has too few pairs inside it to fit the two-group model there), the state-adjusted
    ``state_t`` and ``state_z`` (every peak), ``state_p_value`` and ``state_fdr`` (the calls;
    NaN beyond the cis window) and ``flip_frequency`` (reference-design flips on a subsample of
    cells).
    """
    config = config or ExplainConfig()
    rng = np.random.default_rng(config.seed)
    cells, x = _population(model, mdata, labels_key, cell_type)
    columns = values.gene_indices(model, mdata, [str(g) for g in genes])
    shared = _Shared(x, *_positions(model, mdata), window=model.cis_window or config.cis_window)
    # the state-adjusted evidence reads every cell of the population, the perturbation a sample
    shared.population_x, shared.population_cells = x, cells
    if config.link_flip_cells:
        shared.threshold = config.threshold
        if shared.threshold is None:
            shared.threshold = perturb.choose_threshold(model, mdata, seed=config.seed)
    if len(x) > config.link_max_cells:
        shared.x = x[np.sort(rng.choice(len(x), config.link_max_cells, replace=False))]
    genes, columns = _expressed_targets([str(g) for g in genes], np.asarray(columns), shared.x)
    effects = shared.perturb_with_null_pool(model, columns, config, rng)
    state_t, state_z = shared.state_evidence(model, mdata, columns, config)
    tables = [
        _gene_table(
            model,
            shared,
            i,
            gene,
            column,
            effects[i],
            config,
            rng,
            state_t[i],
            state_z[i],
        )
        for i, (gene, column) in enumerate(zip(genes, columns))
    ]
    table = pd.concat(tables, ignore_index=True)
    # one family: among every call of the table, not of each gene, at most 5% are false
    table["fdr"] = link_baselines.benjamini_hochberg(table["p_value"].to_numpy())
    table["state_fdr"] = link_baselines.benjamini_hochberg(table["state_p_value"].to_numpy())
    in_window = shared.in_window(table["distance_to_tss"].to_numpy())
    table["link_score"], fits = state.two_group_log_odds(table["state_z"].to_numpy(), in_window)
    log(_describe_fits(fits))
    if key_added is not None:
        mdata.uns[key_added] = table
    return table


def _describe_fits(fits: dict) -> str:
    """One log line: the two-group model's linked share and z spread in each class of pairs."""
    parts = [
        f"{name} {fit.share:.2%} (z sd {np.sqrt(fit.variance):.1f})" for name, fit in fits.items()
    ]
    if "beyond" not in fits:
        parts.append(
            f"too few pairs inside the window (fewer than {state.MIN_WINDOW_PAIRS}) to say how "
            "rare links beyond it are, so peaks beyond it are not ranked (score more genes)"
        )
    return "state-adjusted links, share linked by the two-group model: " + ", ".join(parts)


@dataclass
class _Shared:
    """What every gene's table shares: the population, feature positions and the null genes."""

    x: np.ndarray  # cells x model genes
    gene_chrom: np.ndarray
    gene_tss: np.ndarray
    peak_chrom: np.ndarray
    peak_centre: np.ndarray
    window: int
    threshold: float | None = None
    nulls: np.ndarray | None = None  # (targets, n_null) gene columns, nearest first
    pool: np.ndarray | None = None  # their union, sorted
    pool_effects: np.ndarray | None = None
    pool_in_window: np.ndarray | None = None
    population_x: np.ndarray | None = None  # every cell; ``x`` may be a subsample of them
    population_cells: np.ndarray | None = None

    def distance(self, column: int) -> np.ndarray:
        """Signed distance of every peak to the TSS of gene ``column``."""
        chrom, tss = self.gene_chrom[column], self.gene_tss[column]
        return link_baselines.tss_distance(self.peak_chrom, self.peak_centre, chrom, tss)

    def in_window(self, distance: np.ndarray) -> np.ndarray:
        return link_baselines.in_window(distance, self.window)

    def perturb_with_null_pool(self, model, columns, config, rng) -> np.ndarray:
        """Silence the targets and every one of their null genes at once: the targets' effects.

        Each target's null genes are its matched genes (``links/nulls.py``) in these cells; the
        pool is their union, perturbed once and shared.
        """
        n_null = config.n_null_genes
        if n_null < 2:
            raise InputError(
                f"n_null_genes={n_null}: link_scores needs at least 2 null genes for the spread "
                "of the null effects"
            )
        # other targets are no one's null genes while enough other genes are expressed
        self.nulls = matched_null_genes(self.x, columns, n_null, rng, exclude_targets=None)
        self.pool = np.unique(self.nulls)
        perturbed = np.union1d(columns, self.pool)
        effects = population_effects(model, self.x, perturbed)
        pool_rows, target_rows = (np.searchsorted(perturbed, c) for c in (self.pool, columns))
        self.pool_effects = effects[pool_rows]
        self.pool_in_window = self.in_window(np.vstack([self.distance(c) for c in self.pool]))
        return effects[target_rows]

    def null_rows(self, i: int) -> np.ndarray:
        """Rows of the pool that are target ``i``'s null genes, nearest first."""
        return np.searchsorted(self.pool, self.nulls[i])

    def state_evidence(self, model, mdata, columns, config):
        """State-adjusted t ``(len(columns), peaks)`` over every cell of the population on
        every peak, and its z against each gene's own peaks beyond its window
        (``links/state.py``)."""
        x, cells = self.population_x, self.population_cells
        peaks = population_peaks(mdata, model.peaks, cells)
        covariates = state.shared_covariates(mdata, cells, config.state_pcs)
        residual = state.residual_peaks(peaks, covariates)
        beyond = np.vstack([~self.in_window(self.distance(c)) for c in columns])
        dims = config.state_latent_dims
        latent_of = lambda i: state.held_out_latent(model, x, columns[i], dims)  # noqa: E731
        t, z = state.evidence(residual, x[:, columns], beyond, latent_of)
        return t, z


def population_peaks(mdata, peaks, cells):
    """Observed values (``atac.X``) of ``peaks`` in ``cells``, sparse ``(cells, peaks)``."""
    atac = mdata.mod["atac"]
    cols = prepared.feature_columns(atac, [str(p) for p in peaks], "atac")
    return prepared.sparse_block(atac.X, prepared.cell_rows(atac.obs_names, list(cells)), cols)


def _gene_table(
    model, shared: _Shared, i, gene, column, effect, config, rng, state_t, state_z
) -> pd.DataFrame:
    """Target ``i``'s calibrated link table against its matched null genes."""
    x = shared.x
    nulls = shared.null_rows(i)
    distance = shared.distance(column)
    table = gene_link_table(
        gene,
        effect,
        shared.pool_effects[nulls],
        shared.in_window(distance),
        shared.pool_in_window[nulls],
        distance,
        config.distance_decay,
        state_t,
        state_z,
    )
    table.insert(1, "peak", np.asarray(model.peaks).astype(str))
    table["n_cells"] = int((x[:, column] > 0).sum())
    model_genes = pd.Index([str(g) for g in model.genes])
    table["null_genes"] = ",".join(model_genes[shared.pool[nulls]])
    if shared.threshold is not None:
        expressing = x[x[:, column] > 0]
        table["flip_frequency"] = _flip_frequency(
            model, expressing, column, shared.threshold, config, rng
        )
    return table


def _population(model, mdata, labels_key, cell_type) -> tuple[np.ndarray, np.ndarray]:
    """(cell names, model-input rows) of every cell, or of those labelled ``cell_type``."""
    rna = mdata.mod["rna"]
    cells = np.asarray(rna.obs_names).astype(str)
    if cell_type is not None:
        if labels_key is None or labels_key not in mdata.obs:
            raise InputError(
                f"cell_type={cell_type!r} needs labels_key naming a column of mdata.obs; "
                f"columns: {', '.join(map(str, mdata.obs.columns))}"
            )
        labels = mdata.obs[labels_key].astype(str).reindex(cells)
        if not (labels == str(cell_type)).any():
            raise InputError(
                f"no cell has {labels_key} == {cell_type!r}; labels: "
                f"{', '.join(sorted(labels.dropna().unique()))}"
            )
        cells = cells[(labels == str(cell_type)).to_numpy()]
    return cells, values.model_rows(rna, [str(g) for g in model.genes], list(cells))


def _positions(model, mdata):
    """(gene chrom, gene TSS, peak chrom, peak centre) of the model's features."""
    gene_chrom, gene_tss = gene_positions(mdata.mod["rna"].var, model.genes)
    return (gene_chrom, gene_tss, *peak_centres(mdata.mod["atac"].var, model.peaks))


def _flip_frequency(model, cells, column, threshold, config, rng) -> np.ndarray:
    """The reference design's flips: share of (cell, pass) pairs whose peak changes state."""
    take = min(len(cells), config.link_flip_cells)
    rows = cells[np.sort(rng.choice(len(cells), take, replace=False))]
    baseline = perturb.deterministic_rows(model, rows)
    silenced = rows.copy()
    silenced[:, column] = 0.0
    flips = perturb.flips_for_rows(
        model, silenced, baseline, config.link_flip_passes, threshold, config.margin
    )
    return flips.frequency.mean(axis=0)
