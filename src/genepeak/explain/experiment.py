"""Perturbation experiments end to end: choose cells, perturb, test against nulls, annotate.

``explain_gene`` runs one experiment (one or more genes, one cell or a population);
``explain`` runs the experiments of an :class:`~genepeak.config.ExplainConfig` (by default the
reference design's five PBMC experiments). Both return results and write nothing: the
tables, plots and link files are written by :mod:`genepeak.outputs`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from genepeak._utils import log, seed_everything
from genepeak.config import ExplainConfig, PerturbationConfig
from genepeak.errors import GenepeakError, InputError
from genepeak.explain import cells as cellsel
from genepeak.explain import linking, links, perturb, validate
from genepeak.explain.null import matched_null_genes
from genepeak.io.annotation import gene_coordinates, recorded_annotation


@dataclass
class ExplainResult:
    """One perturbation experiment: the per-peak table and everything needed to judge it."""

    name: str
    genes: list[str]
    cells: list[str]
    cell_type: str | None
    values: list[float]  # new values in model input space (first cell when counts were given)
    before_values: list[float]  # the genes' values in the (first) cell before the change
    changes: list[str]  # "NKG7 3.67 (18) -> 2.89 (8)" per gene (first cell of a population)
    threshold: float
    margin: float
    n_passes: int
    table: pd.DataFrame  # one row per peak, ranked (strongest first)
    null_genes: list[list[str]]  # per null set, one matched gene per perturbed gene (first cell)
    noise_flip_rate: float  # mean per-peak flip frequency of unperturbed passes
    dose_response: pd.DataFrame | None = None
    validation: dict = field(default_factory=dict)
    gene_coords: pd.DataFrame | None = None  # chrom, start, end, strand, tss of the genes
    files: dict[str, Path] = field(default_factory=dict)  # set by genepeak.outputs
    seconds: float = 0.0

    def top(self, k: int = 20) -> pd.DataFrame:
        """The ``k`` most sensitive peaks, in the table's order (``ExplainConfig.rank_by``)."""
        return self.table.head(k)

    @property
    def n_changed(self) -> int:
        """Peaks that flip state in at least one Monte-Carlo pass."""
        return int((self.table["flip_frequency"] > 0).sum())

    @property
    def n_significant(self) -> int:
        """Peaks with FDR < 0.05 and a positive effect over the null genes."""
        return int(((self.table["fdr"] < 0.05) & (self.table["effect_size"] > 0)).sum())

    def summary(self) -> dict:
        """One line of numbers for the summary table and the report."""
        top = self.table.iloc[0] if len(self.table) else None
        row = {
            "experiment": self.name,
            "change": "; ".join(self.changes),
            "cells": len(self.cells),
            "cell": self.cells[0] if len(self.cells) == 1 else f"{len(self.cells)} cells",
            "cell_type": self.cell_type or "",
            "threshold": self.threshold,
            "n_changed": self.n_changed,
            "n_significant": self.n_significant,
            "noise_flip_rate": self.noise_flip_rate,
            "top_peak": top["peak"] if top is not None else "",
            "top_score": float(top["score"]) if top is not None else float("nan"),
            "seconds": round(self.seconds, 2),
        }
        for method, metrics in self.validation.get("planted", {}).items():
            row[f"{method}_auprc"] = metrics.get("auprc")
        if "tss" in self.validation:
            row["tss_enrichment"] = self.validation["tss"].get("enrichment")
        return row


def _as_list(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str | int | float) else list(value)


def slug(text: str) -> str:
    """``text`` as a file-name stem: runs of other characters than ``A-Za-z0-9_.-`` -> ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "experiment"


def _choose_cells(mdata, cell, cell_type, population, config, labels_key) -> list[str]:
    rna = mdata.mod["rna"]
    if cell is not None:
        chosen = _as_list(cell)
        cellsel.check_cells(rna, [str(c) for c in chosen])
        return [str(c) for c in chosen]
    if cell_type is None:
        raise InputError("give a cell barcode (cell=...) or a cell type (cell_type=...) to perturb")
    labels = mdata.obs[labels_key] if labels_key and labels_key in mdata.obs else None
    if population:
        return cellsel.cells_of_type(rna, cell_type, config.markers, labels)
    if labels is not None and cell_type in set(map(str, labels.unique())):
        # the representative among the cells carrying that label
        members = labels.index[labels.astype(str) == cell_type]
        try:
            return [cellsel.representative_cell(rna[members], cell_type, config.markers)]
        except InputError:  # a label without known markers: the cell nearest its centroid
            return [cellsel.central_cell(rna[members])]
    return [cellsel.representative_cell(rna, cell_type, config.markers)]


def _dose_values(rna, gene: str) -> tuple[float, float]:
    """(0, top) where top is the model-space value of twice the gene's highest normalised count."""
    col = rna[:, gene].X
    top = float(col.max()) if col.shape[0] else 0.0
    return 0.0, float(np.log1p(2.0 * np.expm1(top)))


def explain_gene(
    model,
    mdata,
    genes: str | list[str],
    values: float | list[float] | None = None,
    cell_type: str | None = None,
    cell: str | list[str] | None = None,
    *,
    values_are_counts: bool = False,
    population: bool = False,
    config: ExplainConfig | None = None,
    threshold: float | None = None,
    name: str | None = None,
    truth: str | Path | pd.DataFrame | None = None,
    annotation: str | Path | None = None,
    labels_key: str | None = None,
    dose_response: bool = True,
) -> ExplainResult:
    """Perturb ``genes`` to ``values`` in one cell (or a population) and rank the peaks.

    Parameters
    ----------
    model
        A trained GPG / PGP / DualVAE (anything with ``peaks_from_genes(x, n_samples)``,
        ``genes``, ``peaks``, ``peak_scale``).
    mdata
        The prepared MuData the model was trained on.
    genes, values
        Gene(s) and their new values, in model input space (log1p of size-factor-normalised
        counts) or, with ``values_are_counts``, raw counts converted with each cell's own size
        factor. ``values=None`` silences the genes (0).
    cell_type, cell
        A barcode (or list) to perturb, or a cell type whose representative cell is chosen by
        marker expression (all cells of the type with ``population=True``).
    config
        Monte-Carlo options (passes, margin, threshold, null genes, dose steps, markers, seed).
    threshold
        Decision threshold; overrides ``config.threshold``; None chooses it on validation cells.
    truth
        Planted links (simulated data): adds AUPRC / precision@k against a correlation baseline.
    annotation
        Gene annotation TSV for genes without coordinates in ``rna.var``.
    labels_key
        ``mdata.obs`` column to select a population by label instead of markers.
    """
    started = time.perf_counter()
    config = config or ExplainConfig()
    seed_everything(config.seed)
    rng = np.random.default_rng(config.seed)
    rna = mdata.mod["rna"]
    genes = [str(g) for g in _as_list(genes)]
    gene_idx = perturb.gene_indices(model, mdata, genes)
    raw_values = [0.0] * len(genes) if values is None else _as_list(values)
    raw_values = perturb.check_values(raw_values, genes)
    cells = _choose_cells(mdata, cell, cell_type, population, config, labels_key)
    if threshold is None:
        threshold = config.threshold
    if threshold is None:
        threshold = perturb.choose_threshold(model, mdata, seed=config.seed)
    model_genes = [str(g) for g in model.genes]
    x = perturb.model_rows(rna, model_genes, cells)
    new = np.vstack([_model_values(rna, c, raw_values, values_are_counts) for c in cells])
    _check_changes(rna, genes, cells, x[:, gene_idx], new, mdata)
    null_sets = _null_sets(rna, model_genes, x, gene_idx, config.n_null_genes, rng)
    stats = _shift_stats(model, x, gene_idx, new, null_sets)
    stats.update(_flip_stats(model, x, gene_idx, new, null_sets, threshold, config, rng))
    genes_coords = gene_coordinates(rna.var, annotation or recorded_annotation(mdata))
    peaks = [str(p) for p in model.peaks]
    peak_coords = links.peak_coordinates(mdata.mod["atac"].var, peaks)
    window = getattr(model, "cis_window", 0) or config.cis_window
    context = _distance_context(peak_coords, genes_coords, genes, null_sets, model_genes, window)
    table = _peak_table(stats, peaks, genes, config, context)
    table = _add_context(table, peak_coords, genes_coords, genes)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    first = {"x": x[0], "new": new[0], "cell": cells[0], "baseline": stats["first_baseline"]}
    result = ExplainResult(
        name=name or f"{'+'.join(genes)}_{slug(cell_type or cells[0])}",
        genes=genes,
        cells=cells,
        cell_type=cell_type,
        values=[float(v) for v in new[0]],
        before_values=[float(v) for v in x[0, gene_idx]],
        changes=_describe_changes(rna, cells[0], genes, x[0, gene_idx], new[0]),
        threshold=float(threshold),
        margin=float(config.margin),
        n_passes=config.n_passes,
        table=table,
        null_genes=[[model_genes[j] for j in s] for s in null_sets],
        noise_flip_rate=float(np.mean(stats["noise_f"])),
    )
    if dose_response:
        result.dose_response = _dose_response(
            model, rna, first, gene_idx, genes, table, threshold, config
        )
    result.validation = _validation(mdata, result, stats, context, config, truth)
    result.gene_coords = genes_coords.loc[genes_coords.index.isin(genes)]
    result.seconds = time.perf_counter() - started
    return result


def _check_changes(rna, genes, cells, before, after, mdata) -> None:
    """Refuse a perturbation that changes nothing, with a cell or a value that would."""
    if not np.allclose(before, after, atol=1e-6):
        return
    gene = genes[0]
    column = np.asarray(rna[:, gene].X.todense() if hasattr(rna.X, "todense") else rna[:, gene].X)
    best = str(rna.obs_names[int(np.argmax(column.ravel()))])
    where = f"cell {cells[0]}" if len(cells) == 1 else f"all {len(cells)} chosen cells"
    raise InputError(
        f"nothing to perturb: {', '.join(genes)} already "
        f"{'has' if len(genes) == 1 else 'have'} the new value in {where} "
        f"({', '.join(f'{v:.2f}' for v in np.unique(np.round(before, 2)))}). Choose a cell "
        f"where {gene} is expressed (it is highest in {best}) or set another value."
    )


def _null_sets(rna, model_genes, x, gene_idx, n_null, rng) -> np.ndarray:
    """One null set per experiment, ``(n_null, len(genes))``, shared by every cell.

    One cell: genes matched on their value in that cell (then mean expression); a population:
    genes matched on mean and detection rate in it. Drawing new null genes per cell and then
    averaging "null set s" across cells would average the nulls away but not the target.
    """
    if n_null == 0:
        return np.zeros((0, len(gene_idx)), dtype=int)
    if len(x) == 1:
        mean_expr = _mean_expression(rna, model_genes)
        return matched_null_genes(x[0], mean_expr, gene_idx, n_null, rng)
    columns = [
        linking.matched_nulls(x, g, n_null, rng, exclude=[h for h in gene_idx if h != g])
        for g in gene_idx
    ]
    return np.stack([rng.permutation(c) for c in columns], axis=1)


def _shift_stats(model, x, gene_idx, new, null_sets) -> dict:
    """Mean posterior-mean shift of every peak for the target and for each null set."""
    baseline_rows = perturb.deterministic_rows(model, x)
    baseline = baseline_rows.mean(axis=0, dtype=np.float64)
    sets = [np.asarray(gene_idx), *[np.asarray(s) for s in null_sets]]
    shifts = np.empty((len(sets), baseline.shape[0]))
    for s, columns in enumerate(sets):
        rows = x.copy()
        rows[:, columns] = new
        shifts[s] = perturb.deterministic_rows(model, rows).mean(axis=0, dtype=np.float64)
    shifts -= baseline
    return {
        "shift": shifts[0],
        "null_shift": shifts[1:],
        "baseline": baseline,
        "first_baseline": baseline_rows[0],
    }


def _flip_stats(model, x, gene_idx, new, null_sets, threshold, config, rng) -> dict:
    """Reference-design flips on up to ``link_flip_cells`` cells of a population (all of one).

    Null-set flips are counted only when they rank the TSS check (``rank_by="flips"``).
    """
    take = np.arange(len(x))
    if len(x) > max(config.link_flip_cells, 1):
        take = np.sort(rng.choice(len(x), max(config.link_flip_cells, 1), replace=False))
    sums: dict[str, np.ndarray] = {}
    null_rows = len(null_sets) if config.rank_by == "flips" else 0
    for i in take:
        rows = np.repeat(x[i][None, :], 2 + null_rows, axis=0)
        rows[0, gene_idx] = new[i]
        for s in range(null_rows):
            rows[1 + s, null_sets[s]] = new[i]
        baseline = perturb.deterministic_rows(model, x[i][None, :])[0]
        if i == take[0]:
            perturb.assert_stochastic(model, x[i], baseline)
        flips = perturb.flips_for_rows(
            model, rows, baseline, config.n_passes, threshold, config.margin
        )
        cell = {
            "f_gain": flips.f_gain[0],
            "f_loss": flips.f_loss[0],
            "noise_f": flips.frequency[-1],
            "mean_perturbed": flips.mean[0].astype(np.float64),
            "mean_shift": (flips.mean[0] - flips.mean[-1]).astype(np.float64),
            "null_f": flips.frequency[1:-1],
        }
        for key, value in cell.items():
            sums[key] = sums.get(key, 0.0) + value
    return {k: v / len(take) for k, v in sums.items()}


def _distance_context(peak_coords, genes_coords, genes, null_sets, model_genes, window) -> dict:
    """Distances of every peak to the perturbed genes' TSS and to each null set's genes."""

    def nearest(names: list[str]) -> np.ndarray:
        rows = []
        for g in names:
            tss = int(genes_coords.at[g, "tss"]) if g in genes_coords.index else -1
            chrom = str(genes_coords.at[g, "chrom"]) if g in genes_coords.index else ""
            rows.append(
                linking.peak_distances(peak_coords["chrom"], _centre(peak_coords), chrom, tss)
            )
        stacked = np.vstack(rows)
        size = np.where(np.isnan(stacked), np.inf, np.abs(stacked))
        return stacked[np.argmin(size, axis=0), np.arange(stacked.shape[1])]

    target = nearest(genes)
    nulls = (
        np.vstack([nearest([model_genes[j] for j in s]) for s in null_sets])
        if len(null_sets)
        else np.zeros((0, len(peak_coords)))
    )
    inside = lambda d: np.abs(np.nan_to_num(d, nan=np.inf)) <= window  # noqa: E731
    return {
        "distance": target,
        "null_distance": nulls,
        "in_window": inside(target),
        "null_in_window": inside(nulls),
    }


def _centre(coords: pd.DataFrame) -> np.ndarray:
    return (coords["start"].to_numpy() + coords["end"].to_numpy()) // 2


def _mean_expression(rna, model_genes: list[str]) -> np.ndarray:
    cols = rna.var_names.get_indexer(pd.Index(model_genes))
    return np.asarray(rna.X[:, cols].mean(axis=0)).ravel()


def _model_values(rna, cell: str, values: list[float], are_counts: bool) -> np.ndarray:
    if not are_counts:
        return np.asarray(values, dtype=np.float32)
    sf = perturb.cell_size_factor(rna, cell)
    return np.asarray([perturb.count_to_model_value(v, sf) for v in values], dtype=np.float32)


def _describe_changes(rna, cell, genes, before, after) -> list[str]:
    sf = (
        perturb.cell_size_factor(rna, cell)
        if ("size_factor" in rna.obs or "counts" in rna.layers)
        else 1.0
    )
    out = []
    for gene, b, a in zip(genes, before, after):
        observed = perturb.raw_count(rna, cell, gene)
        b_count = observed if observed is not None else perturb.model_value_to_count(b, sf)
        out.append(
            perturb.format_change(
                gene, float(b), b_count, float(a), perturb.model_value_to_count(a, sf)
            )
        )
    return out


#: ``rank_by`` -> the table columns that order the peaks (descending, first key first):
#: link: the link score (calibrated evidence plus the distance prior), then the evidence;
#: shift: the calibrated evidence |z| of the posterior-mean shift alone, then |shift|;
#: flips: change frequency (the reference design), then the evidence
RANK_KEYS = {
    "link": ["link_score", "evidence"],
    "shift": ["evidence", "abs_shift"],
    "flips": ["flip_frequency", "evidence"],
}


def _peak_table(stats: dict, peaks: list[str], genes: list[str], config, context) -> pd.DataFrame:
    """Per-peak statistics, ranked by ``config.rank_by`` (``RANK_KEYS``).

    ``zscore``, ``p_value`` and ``fdr`` put each peak's posterior-mean shift on the null of
    the expression-matched null genes (per-peak spread, the gene's own empirical null:
    :func:`genepeak.explain.linking.gene_link_table`): a continuous statistic, so it still
    separates peaks when few of them cross the threshold by the margin.
    """
    shift = stats["shift"]
    calibrated = linking.gene_link_table(
        ",".join(genes),
        shift,
        stats["null_shift"],
        context["in_window"],
        context["null_in_window"],
        context["distance"],
        config.distance_decay,
    )
    f_gain, f_loss = stats["f_gain"], stats["f_loss"]
    null_abs = np.abs(stats["null_shift"])
    direction = np.where(shift > 0, "gain", "loss")
    direction = np.where(f_gain > f_loss, "gain", np.where(f_loss > f_gain, "loss", direction))
    table = pd.DataFrame(
        {
            "peak": peaks,
            "gene": ",".join(genes),
            "direction": direction,
            "link_score": calibrated["link_score"].to_numpy(),
            "evidence": np.abs(calibrated["zscore"].to_numpy()),
            "zscore": calibrated["zscore"].to_numpy(),
            "p_value": calibrated["p_value"].to_numpy(),
            "fdr": calibrated["fdr"].to_numpy(),
            "prior_only": calibrated["prior_only"].to_numpy(),
            "effect_size": np.abs(shift) - (null_abs.mean(axis=0) if len(null_abs) else 0.0),
            "flip_frequency": f_gain + f_loss,
            "f_gain": f_gain,
            "f_loss": f_loss,
            "baseline": stats["baseline"],
            "mean_perturbed": stats["mean_perturbed"],
            "mean_shift": stats["mean_shift"],
            "shift": shift,
            "abs_shift": np.abs(shift),
            "noise_rate": stats["noise_f"],
        }
    )
    keys = RANK_KEYS[config.rank_by]
    table.insert(2, "score", table[keys[0]])
    return table.sort_values(keys, ascending=False, kind="stable").reset_index(drop=True)


def _add_context(table, peak_coords, genes_coords, genes) -> pd.DataFrame:
    table = table.copy()
    coords = peak_coords.loc[table["peak"]]
    table["chrom"] = coords["chrom"].to_numpy()
    table["start"] = coords["start"].to_numpy()
    table["end"] = coords["end"].to_numpy()
    near = links.nearest_genes(coords, genes_coords)
    table["nearest_gene"] = near["nearest_gene"].to_numpy()
    table["nearest_gene_distance"] = near["nearest_gene_distance"].to_numpy()
    distances = [
        links.distance_to_tss(coords, genes_coords.at[g, "chrom"], int(genes_coords.at[g, "tss"]))
        for g in genes
    ]
    stacked = np.vstack(distances)
    with np.errstate(all="ignore"):
        pick = np.nanargmin(np.where(np.isnan(stacked), np.inf, np.abs(stacked)), axis=0)
    table["distance_to_tss"] = stacked[pick, np.arange(stacked.shape[1])]
    return table


def _dose_response(model, rna, first, gene_idx, genes, table, threshold, config) -> pd.DataFrame:
    """Sweep all perturbed genes together from silence to twice their highest normalised count."""
    steps = np.linspace(0.0, 1.0, config.dose_steps)
    tops = np.array([_dose_values(rna, g)[1] for g in genes])
    rows = np.repeat(first["x"][None, :], len(steps), axis=0)
    for s, t in enumerate(steps):
        rows[s, gene_idx] = t * tops
    flips = perturb.flips_for_rows(
        model, rows, first["baseline"], config.n_passes, threshold, config.margin
    )
    top = table.head(config.top_k)
    index = pd.Index([str(p) for p in model.peaks])
    cols = index.get_indexer(top["peak"])
    sf = perturb.cell_size_factor(rna, first["cell"]) if "size_factor" in rna.obs else 1.0
    records = []
    for s, t in enumerate(steps):
        value = float(t * tops[0])
        for peak, c in zip(top["peak"], cols):
            records.append(
                {
                    "peak": peak,
                    "gene": ",".join(genes),
                    "step": s,
                    "value": value,
                    "count": perturb.model_value_to_count(value, sf),
                    "f_gain": float(flips.f_gain[s, c]),
                    "f_loss": float(flips.f_loss[s, c]),
                    "signed_frequency": float(flips.f_gain[s, c] - flips.f_loss[s, c]),
                    "mean_prediction": float(flips.mean[s, c]),
                    "baseline": float(first["baseline"][c]),
                }
            )
    return pd.DataFrame.from_records(records)


def _validation(mdata, result, stats, context, config, truth) -> dict:
    out: dict = {}
    # every ranking (RANK_KEYS), whichever one orders the table, as strict ranks
    table = result.table
    rankings = {}
    for method, keys in RANK_KEYS.items():
        ascending = np.lexsort([table[key].to_numpy() for key in reversed(keys)])
        rank = np.empty(len(table))
        rank[ascending] = np.arange(1, len(table) + 1)
        rankings[method] = pd.Series(rank, index=table["peak"].to_numpy())
    if truth is not None:
        truth_table = validate.read_truth(truth)
        if validate.planted_peaks(truth_table, result.genes):
            out["planted"] = validate.compare_with_correlation(
                mdata, rankings, result.genes, truth_table
            )
    out["tss"] = _tss_check(result, stats, context, config)
    return out


def _tss_check(result, stats, context, config) -> dict:
    """Top-k peaks of the perturbed genes vs of each null set, within cis_window of own TSS.

    Target and null sets are ranked by the same statistic (``rank_by``): each null set's
    shifts are calibrated against the other null sets exactly as the target's are against all.
    """
    k = config.top_k
    target = result.table["distance_to_tss"].to_numpy()[:k]
    if np.isnan(target).all():
        return {}
    null_shift = stats["null_shift"]
    null_distances = []
    for s in range(len(null_shift)):
        others = np.delete(null_shift, s, axis=0)
        if len(others) < 2:
            break
        calibrated = linking.gene_link_table(
            "null",
            null_shift[s],
            others,
            context["null_in_window"][s],
            np.delete(context["null_in_window"], s, axis=0),
            context["null_distance"][s],
            config.distance_decay,
        )
        key = {
            "link": calibrated["link_score"].to_numpy(),
            "shift": np.abs(calibrated["zscore"].to_numpy()),
            "flips": stats["null_f"][s] if "null_f" in stats and len(stats["null_f"]) else None,
        }[config.rank_by]
        if key is None:
            continue
        order = np.argsort(-key, kind="stable")[:k]
        null_distances.append(context["null_distance"][s][order])
    return validate.tss_enrichment(target, null_distances, config.cis_window)


# --------------------------------------------------------------------------- the design's five


class Experiments(list):
    """The results of :func:`explain` (a list), with the experiments it ``skipped`` and why."""

    def __init__(self, results=(), skipped: list[tuple[str, str]] | None = None) -> None:
        super().__init__(results)
        self.skipped = list(skipped or [])


#: The reference design's five PBMC experiments: (gene, cell type, kind).
DESIGN_EXPERIMENTS: list[tuple[str, str, str]] = [
    ("NKG7", "NK", "partial"),
    ("CD79A", "B", "silence"),
    ("FCGR3A", "CD14 monocyte", "activate"),
    ("CD8B", "CD8 T", "activate"),
    ("IL7R", "CD4 T", "silence"),
]


def design_experiment(
    model, mdata, gene: str, cell_type: str, kind: str, config: ExplainConfig
) -> PerturbationConfig:
    """Concrete values for one design experiment in this data.

    ``silence`` sets the gene to 0; ``partial`` halves the representative cell's normalised
    count (the design's NKG7 18 -> 8); ``activate`` sets it to twice the gene's highest
    normalised count in the data.
    """
    rna = mdata.mod["rna"]
    perturb.gene_indices(model, mdata, [gene])
    cell = cellsel.representative_cell(rna, cell_type, config.markers)
    if kind == "silence":
        value = 0.0
    elif kind == "partial":
        current = float(perturb.model_rows(rna, [gene], [cell])[0, 0])
        value = float(np.log1p(np.expm1(current) / 2.0))
    else:
        value = _dose_values(rna, gene)[1]
    return PerturbationConfig(
        genes=[gene],
        values=[value],
        cell_type=cell_type,
        cell=cell,
        name=f"{gene}_{slug(cell_type)}_{kind}",
    )


def explain(
    model,
    mdata,
    config: ExplainConfig | None = None,
    truth: str | Path | pd.DataFrame | None = None,
    annotation: str | Path | None = None,
    labels_key: str | None = None,
) -> Experiments:
    """Run every experiment of ``config`` (default: the design's five PBMC experiments).

    Experiments whose gene is absent from the model (or whose cell type has no marker in the
    data) are skipped with a message and listed in the returned ``skipped``
    (:func:`genepeak.outputs.write_explain` writes every experiment's files and an
    ``explain_summary.tsv``). ``truth`` (planted links of simulated data)
    adds planted-link recovery; ``annotation`` gives gene coordinates; ``labels_key`` selects
    populations (``PerturbationConfig.population``) by ``mdata.obs`` labels, else by markers.
    """
    config = config or ExplainConfig()
    threshold = config.threshold
    if threshold is None:
        threshold = perturb.choose_threshold(model, mdata, seed=config.seed)
        log(f"explain: decision threshold {threshold:g} chosen on validation cells (F1-optimal)")
    experiments: list[PerturbationConfig] = []
    skipped: list[tuple[str, str]] = []
    if config.experiments:
        experiments = list(config.experiments)
    else:
        for gene, cell_type, kind in DESIGN_EXPERIMENTS:
            try:
                experiments.append(design_experiment(model, mdata, gene, cell_type, kind, config))
            except InputError as err:
                skipped.append((f"{gene} in {cell_type}", str(err)))
    results = []
    for exp in experiments:
        label = exp.name or f"{'+'.join(exp.genes)} in {exp.cell or exp.cell_type}"
        try:
            result = explain_gene(
                model,
                mdata,
                exp.genes,
                exp.values or None,
                cell_type=exp.cell_type,
                cell=exp.cell,
                values_are_counts=exp.values_are_counts,
                population=exp.population,
                config=config,
                threshold=threshold,
                name=exp.name,
                truth=truth,
                annotation=annotation,
                labels_key=labels_key,
            )
        except InputError as err:
            if config.experiments and not _is_absent_gene(err):
                raise
            skipped.append((label, str(err)))
            continue
        log(
            f"explain: {result.name}: {'; '.join(result.changes)}; {result.n_significant} peaks "
            f"shift more than for null genes (FDR<0.05), "
            f"{result.n_changed} flip state in some pass"
        )
        results.append(result)
    for label, reason in skipped:
        log(f"explain: skipped {label}: {reason}")
    return Experiments(results, skipped)


def _is_absent_gene(err: GenepeakError) -> bool:
    text = str(err)
    return "unknown gene" in text or "not among the model" in text


__all__ = [
    "DESIGN_EXPERIMENTS",
    "ExplainResult",
    "Experiments",
    "design_experiment",
    "explain",
    "explain_gene",
]
