"""Pure metric functions on numpy arrays: latent structure, peak prediction, gene prediction.

Nothing here fits on the cells it scores, except where a function says so: classifiers take
separate train and test arrays, thresholds are chosen by the caller on validation cells.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "accuracy_report",
    "auroc_columns",
    "average_precision_columns",
    "column_ranking",
    "column_sample",
    "binary_scores",
    "choose_threshold",
    "classify_latent",
    "cluster_agreement",
    "expected_calibration_error",
    "kmeans_agreement",
    "pearson_per_column",
    "per_cell_pearson",
    "per_gene_pearson",
    "per_gene_spearman",
    "ranking_scores",
    "reliability_curve",
    "rmse",
    "silhouette",
    "threshold_grid",
    "threshold_sweep",
]


# --------------------------------------------------------------------------- latent structure


def classify_latent(
    train_latent: np.ndarray,
    train_labels: np.ndarray,
    test_latent: np.ndarray,
    seed: int = 0,
    max_iter: int = 1000,
) -> np.ndarray:
    """Fit a logistic regression on training latents, return predicted labels of test latents.

    Features are standardised with the training cells' mean and scale only.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_labels = np.asarray(train_labels).astype(str)
    if np.unique(train_labels).size < 2:
        # a single training class: every test cell gets it (nothing to learn)
        return np.full(len(test_latent), train_labels[0] if len(train_labels) else "")
    classifier = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=max_iter, random_state=seed)
    )
    classifier.fit(np.asarray(train_latent, dtype=np.float64), train_labels)
    return classifier.predict(np.asarray(test_latent, dtype=np.float64))


def accuracy_report(true_labels: np.ndarray, predicted_labels: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 (weighted and macro), ARI and AMI of predicted vs true labels."""
    from sklearn.metrics import (
        adjusted_mutual_info_score,
        adjusted_rand_score,
        precision_recall_fscore_support,
    )

    y_true = np.asarray(true_labels).astype(str)
    y_pred = np.asarray(predicted_labels).astype(str)
    out: dict[str, float] = {}
    for average in ("weighted", "macro"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, average=average, zero_division=0
        )
        out[f"precision_{average}"] = float(p)
        out[f"recall_{average}"] = float(r)
        out[f"f1_{average}"] = float(f)
    out["accuracy"] = float(np.mean(y_true == y_pred))
    out["ari"] = float(adjusted_rand_score(y_true, y_pred))
    out["ami"] = float(adjusted_mutual_info_score(y_true, y_pred))
    return out


def cluster_agreement(true_labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """ARI and AMI between reference labels and unsupervised clusters."""
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    y_true = np.asarray(true_labels).astype(str)
    y_clu = np.asarray(clusters).astype(str)
    return {
        "ari": float(adjusted_rand_score(y_true, y_clu)),
        "ami": float(adjusted_mutual_info_score(y_true, y_clu)),
    }


def kmeans_agreement(
    train_latent: np.ndarray,
    test_latent: np.ndarray,
    test_labels: np.ndarray,
    n_clusters: int,
    seed: int = 0,
) -> dict[str, float]:
    """KMeans fitted on training latents; test cells go to their nearest centroid."""
    from sklearn.cluster import KMeans

    n_clusters = max(1, min(n_clusters, len(train_latent)))
    kmeans = KMeans(n_clusters=n_clusters, n_init=3, random_state=seed)
    kmeans.fit(np.asarray(train_latent, dtype=np.float64))
    clusters = kmeans.predict(np.asarray(test_latent, dtype=np.float64))
    return cluster_agreement(test_labels, clusters)


def silhouette(latent: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette width of cells grouped by reference label (Euclidean); NaN if undefined."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(labels).astype(str)
    n_labels = np.unique(labels).size
    if n_labels < 2 or n_labels >= len(labels):
        return float("nan")
    return float(silhouette_score(np.asarray(latent, dtype=np.float64), labels))


# --------------------------------------------------------------------------- peak prediction


def threshold_grid(start: float, stop: float, step: float) -> np.ndarray:
    """Thresholds ``start, start + step, ..., stop`` (stop included when on the grid)."""
    if step <= 0:
        raise ValueError(f"threshold step must be positive, got {step}")
    n = int(np.floor((stop - start) / step + 1e-9)) + 1
    return np.round(start + step * np.arange(max(n, 1)), 10)


def binary_scores(observed: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of boolean predictions against boolean observations (pooled).

    The values of scikit-learn's ``precision_recall_fscore_support(average="binary")`` (equal
    to 1e-16), counted directly: on 600 x 6,000 entries scikit-learn took 2.1 s per threshold
    (label checks and a multilabel confusion matrix) against 0.036 s here, and the threshold
    sweep calls this once per threshold on validation and test cells (measured, 1 thread).
    """
    observed = np.asarray(observed, dtype=bool)
    predicted = np.asarray(predicted, dtype=bool)
    tp = np.count_nonzero(observed & predicted)
    return _from_counts(tp, np.count_nonzero(predicted), np.count_nonzero(observed))


def _from_counts(tp: int, n_predicted: int, n_observed: int) -> dict[str, float]:
    """Precision, recall and F1 from the true positives, predicted and observed positives."""
    tp = float(tp)
    precision = tp / n_predicted if n_predicted > 0 else 0.0
    recall = tp / n_observed if n_observed > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def threshold_sweep(
    observed: np.ndarray, scores: np.ndarray, thresholds: np.ndarray
) -> dict[str, np.ndarray]:
    """Pooled precision, recall and F1 of ``scores > t`` for every threshold ``t``.

    The observed positives' scores are taken once, so each threshold counts two comparisons
    (32 s of a PBMC-10k evaluation went to full confusion counts per threshold).
    """
    observed = np.asarray(observed, dtype=bool)
    scores = np.asarray(scores)
    positive_scores = scores[observed]
    rows = [
        _from_counts(
            np.count_nonzero(positive_scores > t),
            np.count_nonzero(scores > t),
            positive_scores.size,
        )
        for t in thresholds
    ]
    return {
        "threshold": np.asarray(thresholds, dtype=float),
        "precision": np.array([r["precision"] for r in rows]),
        "recall": np.array([r["recall"] for r in rows]),
        "f1": np.array([r["f1"] for r in rows]),
    }


def choose_threshold(sweep: dict[str, np.ndarray]) -> float:
    """The threshold with the highest F1 (the lowest such threshold on ties)."""
    return float(sweep["threshold"][int(np.argmax(sweep["f1"]))])


#: entries ranked or correlated at once by ``column_ranking``, ``per_gene_spearman``,
#: ``pearson_per_column`` and ``rmse`` (their temporaries are a few bytes per entry each)
RANKING_BLOCK = 2**22


def blocks(count: int, width: int, entries: int | None = None):
    """Slices of ``count`` items (columns or rows), each block about ``entries`` entries of
    items ``width`` long (``RANKING_BLOCK`` when None), at least one item per block."""
    per_block = max(1, (RANKING_BLOCK if entries is None else entries) // max(width, 1))
    return (slice(lo, min(lo + per_block, count)) for lo in range(0, count, per_block))


def column_ranking(observed: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUROC and average precision of each column, from one sort per column.

    AUROC counts a tie between a positive and a negative as one half (Mann-Whitney);
    average precision follows scikit-learn's ``average_precision_score``: tied scores form
    one threshold, so every cell of a tie group takes the precision at the group's end.
    NaN where a column lacks a class. Columns are ranked as contiguous rows, in blocks of
    about ``RANKING_BLOCK`` entries to bound memory.
    """
    observed = np.asarray(observed, dtype=bool)
    scores = np.asarray(scores)
    n, m = observed.shape
    auc, ap = np.full(m, np.nan), np.full(m, np.nan)
    for rows in blocks(m, n):
        auc[rows], ap[rows] = _rank_rows(
            np.ascontiguousarray(observed[:, rows].T), np.ascontiguousarray(scores[:, rows].T)
        )
    return auc, ap


def _rank_rows(observed: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``column_ranking`` of each row, from the tie groups' ends: a group of ``P`` positives
    and ``N`` negatives wins over the negatives ranked below it and half of its own ``N``;
    each of its positives takes the precision at the group's end."""
    n_rows, n = observed.shape
    order = np.argsort(-scores, axis=1)
    s_sorted = np.take_along_axis(scores, order, axis=1)
    y_sorted = np.take_along_axis(observed, order, axis=1)
    del order
    tp = np.cumsum(y_sorted, axis=1, dtype=np.int64 if n >= 2**31 else np.int32)
    is_end = np.ones((n_rows, n), dtype=bool)
    is_end[:, :-1] = s_sorted[:, :-1] != s_sorted[:, 1:]
    del s_sorted
    ends = np.flatnonzero(is_end)
    row, seen = ends // n, ends % n + 1.0  # the group's row, and how many cells rank above
    tp_end = tp.reshape(-1)[ends].astype(np.float64)
    fp_end = seen - tp_end
    first = np.ones(len(ends), dtype=bool)
    first[1:] = row[1:] != row[:-1]
    positives = tp_end - np.where(first, 0.0, np.roll(tp_end, 1))
    negatives = fp_end - np.where(first, 0.0, np.roll(fp_end, 1))
    n_pos = tp[:, -1].astype(np.float64)
    n_neg = n - n_pos
    wins = positives * (n_neg[row] - fp_end) + 0.5 * positives * negatives
    auc_sum = np.bincount(row, weights=wins, minlength=n_rows)
    ap_sum = np.bincount(row, weights=positives * tp_end / seen, minlength=n_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = auc_sum / (n_pos * n_neg)
        ap = ap_sum / n_pos
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    ap[n_pos == 0] = np.nan
    return auc, ap


def auroc_columns(observed: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUROC of each column (ties count one half); NaN where a column has one class only."""
    return column_ranking(observed, scores)[0]


def average_precision_columns(observed: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Average precision of each column (scikit-learn's definition); NaN without positives."""
    return column_ranking(observed, scores)[1]


#: Above this many cells x peaks, pooled AUROC / AUPRC are estimated on a seeded sample.
POOLED_MAX_ENTRIES = 2**22
#: Above this many peaks, every peak score (thresholds, pooled, per cell, per peak) is computed
#: on a seeded sample of this many peaks, the same for every predictor: at PBMC-10k shape
#: (44,949 peaks x 1,800 test cells) ranking every peak took about 90 s per predictor on 2
#: cores; the mean per-peak AUROC over 8,192 peaks has a standard error near 1e-3, and less
#: between two predictors scored on the same peaks
SCORED_MAX_PEAKS = 8_192
#: the same for genes (per-gene Spearman ranks every gene: ~20 s per predictor at 25,000 genes)
SCORED_MAX_GENES = 8_192


def column_sample(n_columns: int, cap: int, seed: int = 0) -> np.ndarray | None:
    """Sorted columns of a seeded sample of ``cap`` columns, or ``None`` when ``n_columns`` is
    at most ``cap`` (every column is scored)."""
    if n_columns <= cap:
        return None
    return np.sort(np.random.default_rng(seed).choice(n_columns, cap, replace=False))


def ranking_scores(observed: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Threshold-free scores of peak predictions (cells x peaks), pooled, per cell and per peak.

    Per-cell and per-peak values are means over the cells / peaks that have both classes.
    ``prevalence`` (the open fraction) is the AUPRC of a random ranking; per-peak AUPRC's
    floor is the mean prevalence of the peaks scored.
    """
    observed = np.asarray(observed, dtype=bool)
    scores = np.asarray(scores, dtype=np.float32)
    pooled_observed, pooled_scores = observed.reshape(-1), scores.reshape(-1)
    if pooled_observed.size > POOLED_MAX_ENTRIES:
        # the pooled entries are one column, ranked in one piece (~40 bytes each: 0.6 GB and
        # 3.4 s for the 15 M of a PBMC-10k test set): estimate the pooled values on a seeded
        # uniform sample of 4.2 M instead (standard error near 2e-4)
        pick = np.random.default_rng(0).choice(
            pooled_observed.size, POOLED_MAX_ENTRIES, replace=False
        )
        pooled_observed, pooled_scores = pooled_observed[pick], pooled_scores[pick]
    pooled_auroc, pooled_ap = column_ranking(
        pooled_observed.reshape(-1, 1), pooled_scores.reshape(-1, 1)
    )
    per_peak_auroc, per_peak_ap = column_ranking(observed, scores)
    per_cell_auroc, per_cell_ap = column_ranking(observed.T, scores.T)
    both_peak = ~np.isnan(per_peak_auroc)
    both_cell = ~np.isnan(per_cell_auroc)
    peak_prevalence = observed.mean(0)

    def _mean(values: np.ndarray, mask: np.ndarray) -> float:
        return float(np.mean(values[mask])) if mask.any() else float("nan")

    return {
        "auroc": float(pooled_auroc[0]),
        "auprc": float(pooled_ap[0]),
        "prevalence": float(observed.mean()),
        "auroc_per_cell": _mean(per_cell_auroc, both_cell),
        "auprc_per_cell": _mean(per_cell_ap, both_cell),
        "auroc_per_peak": _mean(per_peak_auroc, both_peak),
        "auprc_per_peak": _mean(per_peak_ap, both_peak),
        "prevalence_per_peak": _mean(peak_prevalence, both_peak),
        "n_peaks_scored": int(both_peak.sum()),
        "n_cells_scored": int(both_cell.sum()),
    }


def reliability_curve(
    observed: np.ndarray, probabilities: np.ndarray, n_bins: int = 10
) -> dict[str, np.ndarray]:
    """Mean predicted probability, observed open fraction and count in equal-width bins.

    Bins are ``[0, 1/n), [1/n, 2/n), ..., [(n-1)/n, 1]``; empty bins have NaN means.
    """
    y = np.asarray(observed, dtype=bool).ravel()
    p = np.clip(np.asarray(probabilities, dtype=np.float64).ravel(), 0.0, 1.0)
    index = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(index, minlength=n_bins).astype(np.float64)
    sum_p = np.bincount(index, weights=p, minlength=n_bins)
    sum_y = np.bincount(index, weights=y.astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(count > 0, sum_p / count, np.nan)
        frac_y = np.where(count > 0, sum_y / count, np.nan)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return {
        "bin_lower": edges[:-1],
        "bin_upper": edges[1:],
        "mean_predicted": mean_p,
        "observed_fraction": frac_y,
        "count": count,
    }


def expected_calibration_error(curve: dict[str, np.ndarray]) -> float:
    """Expected calibration error: count-weighted mean of |observed - predicted| over bins."""
    count = curve["count"]
    filled = count > 0
    if not filled.any():
        return float("nan")
    gap = np.abs(curve["observed_fraction"][filled] - curve["mean_predicted"][filled])
    return float(np.sum(count[filled] * gap) / np.sum(count))


# --------------------------------------------------------------------------- gene prediction


def pearson_per_column(observed: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``observed`` with the same column of ``predicted``.

    NaN where the observation is constant (nothing to correlate with); 0 where only the
    prediction is constant (a constant prediction carries no signal for that column).
    """
    observed, predicted = np.asarray(observed), np.asarray(predicted)
    n, m = observed.shape
    r = np.empty(m)
    for cols in blocks(m, n):  # float64 temporaries of a block only
        r[cols] = _pearson_block(observed[:, cols], predicted[:, cols])
    return r


def _pearson_block(observed: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    x = np.asarray(observed, dtype=np.float64)
    y = np.asarray(predicted, dtype=np.float64)
    xc = x - x.mean(0)
    yc = y - y.mean(0)
    sx = np.sqrt((xc**2).sum(0))
    sy = np.sqrt((yc**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(0) / (sx * sy)
    flat_x = sx <= 1e-12 * np.maximum(1.0, np.abs(x).max(0))
    flat_y = sy <= 1e-12 * np.maximum(1.0, np.abs(y).max(0))
    r[flat_y] = 0.0
    r[flat_x] = np.nan
    return np.clip(r, -1.0, 1.0)


def per_cell_pearson(observed: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Pearson correlation across genes, one value per cell (the reference design's measure)."""
    return pearson_per_column(np.asarray(observed).T, np.asarray(predicted).T)


def per_gene_pearson(observed: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Pearson correlation across cells, one value per gene."""
    return pearson_per_column(observed, predicted)


def per_gene_spearman(observed: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Spearman correlation across cells (Pearson of average ranks), one value per gene.

    Genes are ranked in blocks of about ``RANKING_BLOCK`` entries: ranking a whole test set at
    once took 0.7 GiB of temporaries at 1,830 cells x 8,192 genes."""
    observed, predicted = np.asarray(observed), np.asarray(predicted)
    n, m = observed.shape
    rho = np.empty(m)
    for cols in blocks(m, n):
        # ranked in the inputs' own precision, as contiguous rows (float32 ranks twice as fast)
        x = stats.rankdata(np.ascontiguousarray(observed[:, cols].T), axis=1)
        y = stats.rankdata(np.ascontiguousarray(predicted[:, cols].T), axis=1)
        rho[cols] = pearson_per_column(x.T, y.T)
    return rho


def rmse(observed: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error over all entries."""
    observed, predicted = np.asarray(observed), np.asarray(predicted)
    if observed.size == 0:
        return float("nan")
    if observed.ndim != 2 or observed.shape != predicted.shape:  # one float64 copy, as numpy
        diff = np.asarray(observed, dtype=np.float64) - predicted
        return float(np.sqrt(np.mean(diff**2)))
    total = 0.0
    for rows in blocks(len(observed), observed.shape[1]):  # rows of float64 at once
        diff = np.asarray(observed[rows], dtype=np.float64) - predicted[rows]
        total += float(np.square(diff, out=diff).sum())
    return float(np.sqrt(total / observed.size))
