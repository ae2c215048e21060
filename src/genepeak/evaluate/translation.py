"""Peak and gene prediction scores of one predictor on held-out cells.

Peaks: observed peaks are binarised (count > 0); the decision threshold is chosen on the
validation cells (best F1 of the sweep) and precision / recall / F1 are reported on test
cells at that threshold, next to threshold-free AUROC / AUPRC (pooled, per cell, per peak).
Genes: per-cell and per-gene Pearson, per-gene Spearman and RMSE on the log1p
size-factor-normalised values (``rna.X``).
"""

from __future__ import annotations

import numpy as np

from genepeak.config import EvaluateConfig
from genepeak.evaluate import metrics

__all__ = ["PROBABILITY_THRESHOLDS", "peak_thresholds", "score_genes", "score_peaks"]

#: Sweep for predictors whose peak output is a probability (Bernoulli head, open fractions).
PROBABILITY_THRESHOLDS = metrics.threshold_grid(0.05, 0.95, 0.05)


def peak_thresholds(scale: str, config: EvaluateConfig | None = None) -> np.ndarray:
    """Thresholds to sweep: the config's grid for log1p outputs, 0.05..0.95 for probabilities."""
    config = config or EvaluateConfig()
    if scale == "probability":
        return PROBABILITY_THRESHOLDS
    if scale != "log1p":
        raise ValueError(f"peak scale must be 'log1p' or 'probability', got {scale!r}")
    return metrics.threshold_grid(
        config.threshold_start, config.threshold_stop, config.threshold_step
    )


def score_peaks(
    val_observed: np.ndarray,
    val_scores: np.ndarray,
    test_observed: np.ndarray,
    test_scores: np.ndarray,
    scale: str,
    config: EvaluateConfig | None = None,
    n_bins: int = 10,
) -> tuple[dict[str, float], dict]:
    """Score peak predictions; the threshold is chosen on validation cells only.

    Above ``metrics.SCORED_MAX_PEAKS`` peaks every score reads one seeded sample of peaks
    (``metrics.column_sample``), the same for every predictor with the same peaks.

    Parameters
    ----------
    val_observed, test_observed
        Observed openness (cells x peaks), boolean or counts (``> 0`` means open).
    val_scores, test_scores
        Predicted peak values on the model's scale, same shapes.
    scale
        ``"log1p"`` or ``"probability"``; picks the threshold grid, and whether
        calibration (reliability curve, ECE) is computed.

    Returns
    -------
    (metrics, curves): flat dict of numbers, and the arrays for figures
    (``sweep_val``, ``sweep_test``, ``threshold``, ``reliability`` when probabilities).
    """
    thresholds = peak_thresholds(scale, config)
    keep = metrics.column_sample(np.shape(test_observed)[1], metrics.SCORED_MAX_PEAKS)
    if keep is not None:  # one seeded peak sample for every score (metrics.SCORED_MAX_PEAKS)
        val_observed, val_scores = val_observed[:, keep], val_scores[:, keep]
        test_observed, test_scores = test_observed[:, keep], test_scores[:, keep]
    val_open = np.asarray(val_observed) > 0
    test_open = np.asarray(test_observed) > 0
    sweep_val = metrics.threshold_sweep(val_open, val_scores, thresholds)
    threshold = metrics.choose_threshold(sweep_val)
    sweep_test = metrics.threshold_sweep(test_open, test_scores, thresholds)
    at_threshold = metrics.binary_scores(test_open, np.asarray(test_scores) > threshold)
    out: dict[str, float] = {
        "threshold": threshold,
        "val_f1": float(np.max(sweep_val["f1"])),
        "precision": at_threshold["precision"],
        "recall": at_threshold["recall"],
        "f1": at_threshold["f1"],
    }
    out.update(metrics.ranking_scores(test_open, test_scores))
    curves: dict = {
        "sweep_val": sweep_val,
        "sweep_test": sweep_test,
        "threshold": threshold,
        "scale": scale,
    }
    if scale == "probability":
        curve = metrics.reliability_curve(test_open, test_scores, n_bins=n_bins)
        out["ece"] = metrics.expected_calibration_error(curve)
        curves["reliability"] = curve
    else:
        out["ece"] = float("nan")
    return out, curves


def score_genes(observed: np.ndarray, predicted: np.ndarray) -> tuple[dict[str, float], dict]:
    """Per-cell / per-gene Pearson, per-gene Spearman and RMSE of gene predictions.

    Above ``metrics.SCORED_MAX_GENES`` genes every score reads one seeded sample of genes.

    Per-gene values are averaged over genes that vary in the scored cells.

    Returns
    -------
    (metrics, arrays): means and medians, and the per-cell / per-gene arrays for figures.
    """
    keep = metrics.column_sample(np.shape(observed)[1], metrics.SCORED_MAX_GENES)
    if keep is not None:  # one seeded gene sample for every score (metrics.SCORED_MAX_GENES)
        observed, predicted = observed[:, keep], predicted[:, keep]
    gene_rho = metrics.per_gene_spearman(observed, predicted)
    cell_r = metrics.per_cell_pearson(observed, predicted)
    gene_r = metrics.per_gene_pearson(observed, predicted)

    def _nan_stat(fn, values: np.ndarray) -> float:
        values = values[~np.isnan(values)]
        return float(fn(values)) if values.size else float("nan")

    out = {
        "pearson_per_cell": _nan_stat(np.mean, cell_r),
        "pearson_per_cell_median": _nan_stat(np.median, cell_r),
        "pearson_per_gene": _nan_stat(np.mean, gene_r),
        "pearson_per_gene_median": _nan_stat(np.median, gene_r),
        "spearman_per_gene": _nan_stat(np.mean, gene_rho),
        "rmse": metrics.rmse(observed, predicted),
        "n_genes_scored": int(np.sum(~np.isnan(gene_r))),
    }
    arrays = {"per_cell": cell_r, "per_gene": gene_r}
    return out, arrays
