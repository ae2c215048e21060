"""How trustworthy a perturbation ranking is: planted-link recovery and TSS enrichment.

- Simulated data: AUPRC and precision at top-k of the ranking against the planted links of the
  perturbed gene, next to a correlation baseline (Pearson between the gene's expression and each
  peak's accessibility across cells, the statistic of Signac's ``LinkPeaks``).
- Real data: are the top links of the perturbed gene closer than ``window`` bp to its TSS more
  often than the top links of the null genes to theirs (one-sided Fisher exact test)?

:func:`validate_result` applies both to one experiment of :func:`genepeak.explain.explain_gene`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import fisher_exact

from genepeak.errors import InputError
from genepeak.explain import statistics
from genepeak.io import prepared
from genepeak.links import calibration
from genepeak.links.metrics import auprc


def read_truth(truth: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Planted links as a table with ``gene``, ``peak`` and ``effect`` (signed; 0 = null)."""
    if isinstance(truth, pd.DataFrame):
        table = truth.copy()
        source = "the ground-truth table"
    else:
        path = Path(truth)
        if not path.is_file():
            raise InputError(f"ground-truth links {path} does not exist")
        table = pd.read_csv(path, sep="\t")
        source = str(path)
    if "gene" not in table or "peak" not in table:
        raise InputError(
            f"{source}: expected columns gene and peak (and effect or sign); found "
            f"{', '.join(map(str, table.columns))}"
        )
    effect_col = next(
        (c for c in ("effect", "effect_size", "weight", "strength", "beta") if c in table), None
    )
    if effect_col is not None:
        effect = pd.to_numeric(table[effect_col], errors="coerce").fillna(0.0)
        if "sign" in table and (effect >= 0).all():
            effect = effect * np.sign(pd.to_numeric(table["sign"], errors="coerce").fillna(0))
    elif "sign" in table:
        effect = pd.to_numeric(table["sign"].replace({"+": 1, "-": -1}), errors="coerce").fillna(
            0.0
        )
    else:
        effect = pd.Series(1.0, index=table.index)
    out = pd.DataFrame(
        {"gene": table["gene"].astype(str), "peak": table["peak"].astype(str), "effect": effect}
    )
    return out[(out["gene"] != "") & (out["gene"].str.lower() != "nan")]


def planted_peaks(truth: pd.DataFrame, genes: list[str]) -> set[str]:
    """Peaks with a planted non-zero effect from any of ``genes``."""
    hit = truth["gene"].isin(genes) & (truth["effect"] != 0)
    return set(truth.loc[hit, "peak"])


def recovery_metrics(
    scores: pd.Series, positives: set[str], top_k: tuple[int, ...] = (10, 20, 50)
) -> dict[str, float]:
    """AUPRC (average precision) and precision at top-k of ``scores`` (higher = stronger link).

    ``prevalence`` (fraction of positives) is the AUPRC of a random ranking.
    """
    labels = scores.index.isin(list(positives))
    n_pos = int(labels.sum())
    out: dict[str, float] = {"n_peaks": float(len(scores)), "n_planted": float(n_pos)}
    out["prevalence"] = n_pos / len(scores) if len(scores) else float("nan")
    values = np.nan_to_num(scores.to_numpy(dtype=np.float64), nan=-np.inf)
    out["auprc"] = auprc(values, labels)
    order = np.argsort(-values, kind="stable")
    for k in top_k:
        k_eff = min(k, len(scores))
        out[f"precision_at_{k}"] = float(labels[order[:k_eff]].mean()) if k_eff else float("nan")
    return out


def correlation_scores(mdata, genes: list[str], peaks: list[str]) -> pd.Series:
    """Pearson r across cells between the (summed) expression of ``genes`` and each peak.

    Computed on the sparse matrices (``rna.X``, ``atac.X``) without densifying them.
    """
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    cols = prepared.feature_columns(rna, genes, "rna")
    g = rna.X[:, cols]
    g = np.asarray(g.sum(axis=1) if sp.issparse(g) else np.asarray(g).sum(axis=1)).ravel()
    peak_cols = prepared.feature_columns(atac, peaks, "atac")
    if len(g) != atac.n_obs:
        raise InputError(f"rna has {len(g)} cells and atac {atac.n_obs}: the data are not paired")
    # a sparse matrix: every peak's moments as stored (no copy of its columns), then the chosen
    x, pick = (atac.X, peak_cols) if sp.issparse(atac.X) else (atac.X[:, peak_cols], slice(None))
    n = atac.n_obs
    mean_x = prepared.column_sums(x)[pick] / n
    mean_x2 = prepared.column_sums(x, 2)[pick] / n
    cov = prepared.column_sums(x, 1, g)[pick] / n - mean_x * g.mean()
    sd = np.sqrt(np.maximum(mean_x2 - mean_x**2, 0.0)) * g.std()
    r = np.divide(cov, sd, out=np.zeros_like(cov), where=sd > 0)
    return pd.Series(r, index=pd.Index(peaks))


def compare_with_correlation(
    mdata,
    rankings: dict[str, pd.Series],
    genes: list[str],
    truth: pd.DataFrame,
    top_k: tuple[int, ...] = (10, 20, 50),
) -> dict[str, dict[str, float]]:
    """Planted-link recovery of each perturbation ranking and of |Pearson r| on the same peaks.

    ``rankings`` maps a method name to peak scores (higher = stronger link); all must cover
    the same peaks. The correlation baseline is added as ``"correlation"``.
    """
    peaks = next(iter(rankings.values())).index
    positives = planted_peaks(truth, genes) & set(peaks)
    out = {name: recovery_metrics(scores, positives, top_k) for name, scores in rankings.items()}
    corr = correlation_scores(mdata, genes, list(peaks)).abs()
    out["correlation"] = recovery_metrics(corr, positives, top_k)
    return out


def tss_enrichment(
    target_distances: np.ndarray, null_distances: list[np.ndarray], window: int = 100_000
) -> dict[str, float]:
    """Top links within ``window`` bp of the perturbed gene's TSS vs null genes' top links.

    Distances are those of each gene's top-k peaks to that gene's own TSS (NaN = another
    chromosome, counted as outside). Returns both fractions, their ratio and the one-sided
    Fisher exact p-value that the target's fraction is higher.
    """
    target = np.abs(np.asarray(target_distances, dtype=np.float64))
    null = (
        np.abs(np.concatenate([np.asarray(d, np.float64) for d in null_distances]))
        if null_distances
        else np.array([])
    )
    t_in = int(np.sum(target <= window))
    n_in = int(np.sum(null <= window))
    out = {
        "window": float(window),
        "target_within": float(t_in),
        "target_total": float(target.size),
        "null_within": float(n_in),
        "null_total": float(null.size),
        "target_fraction": t_in / target.size if target.size else float("nan"),
        "null_fraction": n_in / null.size if null.size else float("nan"),
    }
    if target.size and null.size:
        table = [[t_in, target.size - t_in], [n_in, null.size - n_in]]
        out["p_value"] = float(fisher_exact(table, alternative="greater").pvalue)
        denom = out["null_fraction"]
        out["enrichment"] = (
            out["target_fraction"] / denom if denom > 0 else float("inf") if t_in else float("nan")
        )
    else:
        out["p_value"] = float("nan")
        out["enrichment"] = float("nan")
    return out


# --------------------------------------------------------------------------- one experiment


def validate_result(mdata, result, stats, context, config, truth) -> dict:
    """``planted``: recovery of every ranking (:data:`~genepeak.explain.statistics.RANK_KEYS`,
    whichever orders the table) next to |Pearson r|, when ``truth`` plants links of these
    genes; ``tss``: :func:`tss_check`."""
    out: dict = {}
    if truth is not None:
        truth_table = read_truth(truth)
        if planted_peaks(truth_table, result.genes):
            out["planted"] = compare_with_correlation(
                mdata, statistics.rankings(result.table), result.genes, truth_table
            )
    out["tss"] = tss_check(result, stats, context, config)
    return out


def tss_check(result, stats, context, config) -> dict:
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
        calibrated = calibration.gene_link_table(
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
    return tss_enrichment(target, null_distances, config.cis_window)
