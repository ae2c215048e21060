"""Monte-Carlo state flips: perturb genes of a cell, push it through the stochastic model N times.

The baseline peak prediction of the unperturbed cell is computed once, deterministically, and
kept fixed. A peak counts as changed in one stochastic pass of the perturbed cell only when its
prediction lands beyond the decision threshold on the other side by more than ``margin``:
a *gain* when the baseline is closed (``<= threshold``) and the pass is ``> threshold + margin``,
a *loss* when the baseline is open and the pass is ``< threshold - margin``. The change
frequency is ``f_j = c_j / N``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genepeak._utils import log
from genepeak.errors import InputError
from genepeak.evaluate import metrics, translation
from genepeak.explain.model import ExplainableModel
from genepeak.explain.values import model_rows
from genepeak.io import prepared

#: Peak predictions kept in memory at once while counting flips (floats).
_CHUNK_FLOATS = 25_000_000


@dataclass
class Flips:
    """Flip counts of R perturbed inputs against one fixed baseline (arrays ``(R, peaks)``)."""

    gains: np.ndarray
    losses: np.ndarray
    mean: np.ndarray
    n_passes: int

    @property
    def f_gain(self) -> np.ndarray:
        return self.gains / self.n_passes

    @property
    def f_loss(self) -> np.ndarray:
        return self.losses / self.n_passes

    @property
    def frequency(self) -> np.ndarray:
        return (self.gains + self.losses) / self.n_passes


def count_flips(
    baseline: np.ndarray, samples: np.ndarray, threshold: float, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Count gains and losses of stochastic ``samples`` (N, ..., peaks) against ``baseline``.

    Returns integer arrays shaped like ``samples[0]``: passes that crossed from closed to
    open (gains) and from open to closed (losses) by more than ``margin``.
    """
    baseline = np.asarray(baseline)
    samples = np.asarray(samples)
    is_open = baseline > threshold
    gains = ((samples > threshold + margin) & ~is_open).sum(axis=0)
    losses = ((samples < threshold - margin) & is_open).sum(axis=0)
    return gains.astype(np.int64), losses.astype(np.int64)


def _peaks_from_genes(model: ExplainableModel, x: np.ndarray, n_samples: int | None) -> np.ndarray:
    return np.asarray(model.peaks_from_genes(x, n_samples=n_samples), dtype=np.float32)


def deterministic_rows(model: ExplainableModel, rows: np.ndarray) -> np.ndarray:
    """Deterministic peak predictions (posterior means) of input rows, ``(rows, peaks)``."""
    return _peaks_from_genes(model, np.asarray(rows, dtype=np.float32), None)


def flips_for_rows(
    model: ExplainableModel,
    rows: np.ndarray,
    baseline: np.ndarray,
    n_passes: int,
    threshold: float,
    margin: float,
) -> Flips:
    """N stochastic passes of each input row in batched calls, counted against ``baseline``.

    ``baseline`` is ``(peaks,)`` (one cell, shared by every row) or ``(rows, peaks)``.
    Rows are sent in chunks so that at most ~25 M predictions sit in memory at once.
    """
    rows = np.asarray(rows, dtype=np.float32)
    n_rows = rows.shape[0]
    n_peaks = baseline.shape[-1]
    per_chunk = max(1, _CHUNK_FLOATS // max(1, n_passes * n_peaks))
    gains = np.zeros((n_rows, n_peaks), np.int64)
    losses = np.zeros((n_rows, n_peaks), np.int64)
    mean = np.zeros((n_rows, n_peaks), np.float32)
    for lo in range(0, n_rows, per_chunk):
        hi = min(n_rows, lo + per_chunk)
        samples = _peaks_from_genes(model, rows[lo:hi], n_passes)
        if samples.shape != (n_passes, hi - lo, n_peaks):
            raise InputError(
                f"{type(model).__name__}.peaks_from_genes(x, n_samples={n_passes}) returned shape "
                f"{samples.shape}; expected {(n_passes, hi - lo, n_peaks)} (passes, cells, peaks)"
            )
        base = baseline if baseline.ndim == 1 else baseline[lo:hi]
        gains[lo:hi], losses[lo:hi] = count_flips(base, samples, threshold, margin)
        mean[lo:hi] = samples.mean(axis=0)
    return Flips(gains=gains, losses=losses, mean=mean, n_passes=n_passes)


def assert_stochastic(model: ExplainableModel, x_cell: np.ndarray, baseline: np.ndarray) -> None:
    """Raise InputError when ``peaks_from_genes(x, n_samples=2)`` is not stochastic."""
    samples = _peaks_from_genes(model, np.asarray(x_cell, np.float32)[None, :], 2)
    if np.array_equal(samples[0, 0], baseline) and np.array_equal(samples[1, 0], baseline):
        raise InputError(
            f"{type(model).__name__} has no stochastic latent: its passes with n_samples are "
            "identical to the deterministic prediction, so flip frequencies would all be 0. "
            "Use a VAE model (GPG, PGP, DualVAE) whose peaks_from_genes samples z."
        )


# --------------------------------------------------------------------------- threshold


def choose_threshold(model: ExplainableModel, mdata, max_cells: int = 500, seed: int = 0) -> float:
    """F1-optimal peak threshold on validation cells, over the evaluation's sweep.

    Uses ``model.split['val']`` (up to ``max_cells`` of them); observed peaks are binarised
    as count > 0 (``atac.layers['counts']``, else ``atac.X``).
    """
    atac = mdata.mod["atac"]
    cells = np.asarray(model.split.get("val", []))
    if cells.size == 0:
        log("explain: the model has no validation cells; choosing the threshold on all cells")
        cells = np.asarray(atac.obs_names)
    if cells.size > max_cells:
        cells = np.random.default_rng(seed).choice(cells, max_cells, replace=False)
    # the predictor that is perturbed (genes -> peaks), which for PGP is its second stage and
    # not predict_peaks (its peaks -> genes -> peaks reconstruction)
    genes = [str(g) for g in model.genes]
    predicted = _peaks_from_genes(model, model_rows(mdata.mod["rna"], genes, list(cells)), None)
    layer = atac.layers["counts"] if "counts" in atac.layers else atac.X
    rows = prepared.cell_rows(atac.obs_names, cells)
    cols = prepared.feature_columns(atac, [str(p) for p in model.peaks], "atac")
    observed = prepared.dense_block(layer, rows, cols) > 0
    sweep = metrics.threshold_sweep(
        observed, predicted, translation.peak_thresholds(model.peak_scale)
    )
    return metrics.choose_threshold(sweep)
