"""Per-peak statistics of one perturbation: posterior-mean shifts, flips, the ranked table.

The target genes' shift of every peak is calibrated against expression-matched null genes
perturbed the same way (:func:`genepeak.links.calibration.gene_link_table`); the reference
design's Monte-Carlo flips come beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genepeak.explain import perturb
from genepeak.explain.model import ExplainableModel
from genepeak.io import prepared
from genepeak.links import calibration
from genepeak.links.nulls import matched_null_genes

#: ``rank_by`` -> the table columns that order the peaks (descending, first key first):
#: link: the link score (calibrated evidence plus the distance prior), then the evidence;
#: shift: the calibrated evidence |z| of the posterior-mean shift alone, then |shift|;
#: flips: change frequency (the reference design), then the evidence
RANK_KEYS = {
    "link": ["link_score", "evidence"],
    "shift": ["evidence", "abs_shift"],
    "flips": ["flip_frequency", "evidence"],
}


def null_sets(rna, model_genes, x, gene_idx, n_null, rng) -> np.ndarray:
    """One null set per experiment, ``(n_null, len(genes))``, shared by every cell.

    Each perturbed gene's null genes are its matched genes in the perturbed cells
    (:func:`genepeak.links.nulls.matched_null_genes`: nearest in mean and detection there, no
    perturbed gene among them; in one cell that is its value there), exact ties broken by their
    expression over all cells. Set ``s`` perturbs one null gene of each perturbed gene, paired
    at random. Drawing new null genes per cell and then averaging "null set s" across cells
    would average the nulls away but not the target.
    """
    if n_null == 0:
        return np.zeros((0, len(gene_idx)), dtype=int)
    every_cell = prepared.feature_columns(rna, model_genes, "rna")
    columns = matched_null_genes(x, gene_idx, n_null, rng, reference=rna.X[:, every_cell])
    return np.stack([rng.permutation(c) for c in columns], axis=1)


def shift_stats(model: ExplainableModel, x, gene_idx, new, null_sets) -> dict:
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


def flip_stats(
    model: ExplainableModel, x, gene_idx, new, null_sets, threshold, config, rng
) -> dict:
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


def peak_table(stats: dict, peaks: list[str], genes: list[str], config, context) -> pd.DataFrame:
    """Per-peak statistics, ranked by ``config.rank_by`` (``RANK_KEYS``).

    ``zscore``, ``p_value`` and ``fdr`` put each peak's posterior-mean shift on the null of
    the expression-matched null genes (per-peak spread, the gene's own empirical null:
    :func:`genepeak.links.calibration.gene_link_table`): a continuous statistic, so it still
    separates peaks when few of them cross the threshold by the margin.
    """
    shift = stats["shift"]
    calibrated = calibration.gene_link_table(
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


def rankings(table: pd.DataFrame) -> dict[str, pd.Series]:
    """Every ranking of :data:`RANK_KEYS` of the table's peaks as strict ranks (1 = weakest)."""
    out = {}
    for method, keys in RANK_KEYS.items():
        ascending = np.lexsort([table[key].to_numpy() for key in reversed(keys)])
        rank = np.empty(len(table))
        rank[ascending] = np.arange(1, len(table) + 1)
        out[method] = pd.Series(rank, index=table["peak"].to_numpy())
    return out
