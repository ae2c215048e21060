"""Monte-Carlo state flips: perturb genes of a cell, push it through the stochastic model N times.

The baseline peak prediction of the unperturbed cell is computed once, deterministically, and
kept fixed. A peak counts as changed in one stochastic pass of the perturbed cell only when its
prediction lands beyond the decision threshold on the other side by more than ``margin``:
a *gain* when the baseline is closed (``<= threshold``) and the pass is ``> threshold + margin``,
a *loss* when the baseline is open and the pass is ``< threshold - margin``. The change
frequency is ``f_j = c_j / N``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from genepeak._utils import log
from genepeak.errors import InputError
from genepeak.evaluate import metrics, translation

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


def _peaks_from_genes(model, x: np.ndarray, n_samples: int | None) -> np.ndarray:
    try:
        out = model.peaks_from_genes(x, n_samples=n_samples)
    except TypeError as err:
        raise InputError(
            f"{type(model).__name__}.peaks_from_genes does not accept n_samples ({err}); "
            "perturbation needs a model with a stochastic latent (GPG, PGP or DualVAE)"
        ) from err
    if hasattr(out, "detach"):  # a torch tensor from a model that forgot to convert
        out = out.detach().cpu().numpy()
    return np.asarray(out, dtype=np.float32)


def baseline_prediction(model, x_cell: np.ndarray) -> np.ndarray:
    """Deterministic peak prediction (posterior mean) of one cell, shape ``(peaks,)``."""
    return _peaks_from_genes(model, np.asarray(x_cell, np.float32)[None, :], None)[0]


def deterministic_rows(model, rows: np.ndarray) -> np.ndarray:
    """Deterministic peak predictions (posterior means) of input rows, ``(rows, peaks)``."""
    return _peaks_from_genes(model, np.asarray(rows, dtype=np.float32), None)


def flips_for_rows(
    model,
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


def assert_stochastic(model, x_cell: np.ndarray, baseline: np.ndarray) -> None:
    """Raise InputError when ``peaks_from_genes(x, n_samples=2)`` is not stochastic."""
    samples = _peaks_from_genes(model, np.asarray(x_cell, np.float32)[None, :], 2)
    if np.array_equal(samples[0, 0], baseline) and np.array_equal(samples[1, 0], baseline):
        raise InputError(
            f"{type(model).__name__} has no stochastic latent: its passes with n_samples are "
            "identical to the deterministic prediction, so flip frequencies would all be 0. "
            "Use a VAE model (GPG, PGP, DualVAE) whose peaks_from_genes samples z."
        )


# --------------------------------------------------------------------------- genes and values


def _raw_gene_names(mdata) -> set[str]:
    """Gene names known to exist before preprocessing (raw data / preparation record)."""
    names: set[str] = set()
    rna = mdata.mod["rna"]
    if getattr(rna, "raw", None) is not None:
        names.update(map(str, rna.raw.var_names))
    names.update(map(str, rna.var_names))
    record = mdata.uns.get("genepeak", {}) if hasattr(mdata, "uns") else {}
    for key in ("genes_before", "raw_genes", "all_genes"):
        value = record.get(key) if isinstance(record, dict) else None
        if value is not None:
            names.update(map(str, np.asarray(value).ravel()))
    return names


def gene_indices(model, mdata, genes: list[str]) -> list[int]:
    """Column indices of ``genes`` in ``model.genes``, with clear errors for absent genes."""
    if not genes:
        raise InputError("no gene to perturb was given")
    model_genes = pd.Index([str(g) for g in model.genes])
    out = []
    raw = None
    for gene in genes:
        if gene in model_genes:
            out.append(int(model_genes.get_loc(gene)))
            continue
        raw = _raw_gene_names(mdata) if raw is None else raw
        if gene in raw:
            raise InputError(
                f"gene {gene!r} is in the data but not among the model's {len(model_genes)} "
                "genes: it was filtered out by preprocessing or by the model's gene selection "
                "(e.g. genes='hvg'); retrain with ModelConfig.genes='all' or lower "
                "PrepareConfig.min_cells_per_gene to keep it"
            )
        upper = {g.upper(): g for g in model_genes}
        if gene.upper() in upper:
            raise InputError(
                f"unknown gene {gene!r}; gene names are case-sensitive: did you mean {upper[gene.upper()]!r}?"
            )
        close = difflib.get_close_matches(gene, list(model_genes), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise InputError(
            f"unknown gene {gene!r}: it is not among the model's {len(model_genes)} genes.{hint}"
        )
    if len(set(out)) != len(out):
        raise InputError(f"a gene is listed twice in {genes}")
    return out


def check_values(values: list[float], genes: list[str]) -> list[float]:
    """Validate new values: one per gene, finite and non-negative."""
    if len(values) != len(genes):
        raise InputError(
            f"{len(values)} value(s) given for {len(genes)} gene(s) {genes}; give one value per gene"
        )
    out = []
    for gene, value in zip(genes, values):
        try:
            v = float(value)
        except (TypeError, ValueError) as err:
            raise InputError(f"value for {gene} must be a number, got {value!r}") from err
        if not np.isfinite(v):
            raise InputError(f"value for {gene} must be finite, got {value!r}")
        if v < 0:
            raise InputError(
                f"value for {gene} must be >= 0 (log1p of normalised counts, or a raw count), "
                f"got {value!r}"
            )
        out.append(v)
    return out


def count_to_model_value(count: float, size_factor: float) -> float:
    """Raw count -> model input space, ``log1p(count / size_factor)`` (the prepared contract)."""
    return float(np.log1p(count / size_factor))


def model_value_to_count(value: float, size_factor: float) -> float:
    """Model input space -> the equivalent raw count of this cell."""
    return float(np.expm1(value) * size_factor)


def _format_count(count: float) -> str:
    return f"{count:.0f}" if abs(count - round(count)) < 0.05 or count >= 100 else f"{count:.1f}"


def format_change(
    gene: str, before: float, before_count: float, after: float, after_count: float
) -> str:
    """``NKG7 3.67 (18) -> 2.89 (8)``: model-space value and raw count, before and after."""
    return (
        f"{gene} {before:.2f} ({_format_count(before_count)}) -> "
        f"{after:.2f} ({_format_count(after_count)})"
    )


def cell_size_factor(rna, cell: str) -> float:
    """The cell's size factor (``rna.obs['size_factor']``); from library sizes when absent."""
    if "size_factor" in rna.obs:
        sf = float(rna.obs.loc[cell, "size_factor"])
    elif "counts" in rna.layers:
        totals = np.asarray(rna.layers["counts"].sum(axis=1)).ravel()
        sf = float(totals[rna.obs_names.get_loc(cell)] / np.median(totals))
    else:
        raise InputError(
            "rna.obs has no 'size_factor' and rna.layers has no 'counts': cannot convert raw "
            "counts to the model's input space; give values in log1p space instead"
        )
    if not np.isfinite(sf) or sf <= 0:
        raise InputError(f"cell {cell}: size factor {sf} is not positive")
    return sf


def model_rows(rna, model_genes: list[str], cells: list[str]) -> np.ndarray:
    """Dense model-input rows (cells x model genes) of a few cells from ``rna.X``."""
    cols = rna.var_names.get_indexer(pd.Index([str(g) for g in model_genes]))
    if (cols < 0).any():
        missing = [g for g, c in zip(model_genes, cols) if c < 0][:5]
        raise InputError(
            f"the data lacks {int((cols < 0).sum())} of the model's genes (e.g. {missing}); "
            "use the MuData the model was trained on"
        )
    idx = rna.obs_names.get_indexer(pd.Index(cells))
    block = rna.X[idx][:, cols]
    block = block.toarray() if sp.issparse(block) else np.asarray(block)
    return block.astype(np.float32)


def raw_count(rna, cell: str, gene: str) -> float | None:
    """The observed raw count of ``gene`` in ``cell`` (``layers['counts']``), if stored."""
    if "counts" not in rna.layers:
        return None
    i = rna.obs_names.get_loc(cell)
    j = rna.var_names.get_loc(gene)
    value = rna.layers["counts"][i, j]
    return float(value)


# --------------------------------------------------------------------------- threshold


def choose_threshold(model, mdata, max_cells: int = 500, seed: int = 0) -> float:
    """F1-optimal peak threshold on validation cells, over the evaluation's sweep.

    Uses ``model.split['val']`` (up to ``max_cells`` of them); observed peaks are binarised
    as count > 0 (``atac.layers['counts']``, else ``atac.X``).
    """
    atac = mdata.mod["atac"]
    split = getattr(model, "split", None) or {}
    cells = np.asarray(split.get("val", []))
    if cells.size == 0:
        log("explain: the model has no validation cells; choosing the threshold on all cells")
        cells = np.asarray(atac.obs_names)
    if cells.size > max_cells:
        cells = np.random.default_rng(seed).choice(cells, max_cells, replace=False)
    # the predictor that is perturbed (genes -> peaks), which for PGP is its second stage and
    # not predict_peaks (its peaks -> genes -> peaks reconstruction)
    genes = [str(g) for g in model.genes]
    predicted = np.asarray(model.peaks_from_genes(model_rows(mdata.mod["rna"], genes, list(cells))))
    layer = atac.layers["counts"] if "counts" in atac.layers else atac.X
    rows = atac.obs_names.get_indexer(pd.Index(cells))
    cols = atac.var_names.get_indexer(pd.Index([str(p) for p in model.peaks]))
    observed = layer[rows][:, cols] > 0
    scale = getattr(model, "peak_scale", "log1p")
    thresholds = translation.peak_thresholds(scale)
    observed = observed.toarray() if sp.issparse(observed) else np.asarray(observed)
    sweep = metrics.threshold_sweep(observed, predicted, thresholds)
    return metrics.choose_threshold(sweep)
