"""Gene -> peak link scores against planted truth: AUPRC, precision@k, wins, sham-gene calls.

Scores are ``(drivers, peaks)`` arrays over every peak (higher = more likely a link; ``-inf`` =
not scored, ranked last). For each driver every peak not planted for it is a negative. A
random ranking has expected AUPRC and precision@k equal to the prevalence (planted / peaks).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from genepeak.errors import InputError

TOP_K = 10


def truth_matrix(truth: pd.DataFrame, genes: list[str], peaks: pd.Index) -> np.ndarray:
    """Boolean ``(genes, peaks)``: the peak is planted (non-zero effect) for the gene.

    ``truth`` is a table as :func:`genepeak.explain.validate.read_truth` returns it; planted
    peaks that are not among ``peaks`` (removed by preparation) are ignored.
    """
    labels = np.zeros((len(genes), len(peaks)), dtype=bool)
    planted = truth[(truth["effect"] != 0) & truth["gene"].isin(genes)]
    rows = pd.Index(genes).get_indexer(planted["gene"])
    cols = pd.Index(peaks).get_indexer(planted["peak"])
    keep = cols >= 0
    labels[rows[keep], cols[keep]] = True
    return labels


def _finite(scores: np.ndarray) -> np.ndarray:
    """Scores with NaN / -inf moved just below the lowest finite score (ranked last, tied)."""
    values = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(values)
    if ok.all():
        return values
    low = values[ok].min() - 1.0 if ok.any() else 0.0
    high = values[ok].max() + 1.0 if ok.any() else 0.0
    return np.where(ok, values, np.where(values == np.inf, high, low))


def auprc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision of ``scores`` for binary ``labels``; NaN without positives or negatives."""
    labels = np.asarray(labels, dtype=bool).ravel()
    if labels.all() or not labels.any():
        return float("nan")
    return float(average_precision_score(labels, _finite(np.ravel(scores))))


def precision_at_k(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of planted peaks among the top ``k``, in expectation over ties at the cut-off."""
    values, labels = _finite(np.ravel(scores)), np.asarray(labels, dtype=bool).ravel()
    k = min(int(k), values.size)
    if k <= 0:
        return float("nan")
    cut = np.partition(values, values.size - k)[values.size - k]
    above, tied = values > cut, values == cut
    expected = labels[above].sum() + (k - above.sum()) * labels[tied].mean()
    return float(expected / k)


def per_driver_metrics(
    scores: np.ndarray, labels: np.ndarray, genes: list[str], top_k: int = TOP_K
) -> pd.DataFrame:
    """One row per driver with at least one planted peak.

    Columns: ``n_planted``, ``random`` (prevalence: random AUPRC and precision), ``auprc``,
    ``precision_at_{top_k}`` and ``precision_at_planted`` (k = the driver's planted peaks).
    """
    rows = []
    for i, gene in enumerate(genes):
        n_planted = int(labels[i].sum())
        if n_planted == 0:
            continue
        rows.append(
            {
                "gene": gene,
                "n_planted": n_planted,
                "random": n_planted / labels.shape[1],
                "auprc": auprc(scores[i], labels[i]),
                f"precision_at_{top_k}": precision_at_k(scores[i], labels[i], top_k),
                "precision_at_planted": precision_at_k(scores[i], labels[i], n_planted),
            }
        )
    return pd.DataFrame(rows).set_index("gene") if rows else pd.DataFrame()


def pooled_auprc(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUPRC of every (driver, peak) pair ranked together (rows with no planted peak dropped)."""
    keep = labels.any(axis=1)
    return auprc(scores[keep], labels[keep])


def fraction_won(auprcs: pd.DataFrame) -> pd.Series:
    """Per method (column), the fraction of drivers (rows) whose highest AUPRC it has.

    A tie for the highest splits the driver among the tied methods; drivers with no finite
    AUPRC are left out.
    """
    values = auprcs.to_numpy(dtype=np.float64)
    ok = np.isfinite(values).any(axis=1)
    values = np.where(np.isfinite(values[ok]), values[ok], -np.inf)
    if values.shape[0] == 0:
        return pd.Series(np.nan, index=auprcs.columns)
    best = values.max(axis=1, keepdims=True)
    winners = np.isclose(values, best, rtol=1e-9, atol=1e-12)
    share = winners / winners.sum(axis=1, keepdims=True)
    return pd.Series(share.mean(axis=0), index=auprcs.columns)


def read_sham_genes(source: str | Path | pd.DataFrame) -> list[str]:
    """Sham genes (expressed like drivers, driving nothing) from a TSV with a ``gene`` column."""
    if isinstance(source, pd.DataFrame):
        table, where = source, "the sham-gene table"
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"sham genes {path} does not exist")
        table, where = pd.read_csv(path, sep="\t", dtype=str), str(path)
    column = next((c for c in ("gene", "symbol", "gene_name") if c in table.columns), None)
    if column is None:
        raise InputError(
            f"{where}: expected a column gene (or symbol); found {', '.join(map(str, table.columns))}"
        )
    return [g for g in table[column].dropna().astype(str) if g]


def summarise(
    scores: Mapping[str, np.ndarray],
    labels: np.ndarray,
    genes: list[str],
    top_k: int = TOP_K,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every method's recovery of the planted links of ``genes``.

    Returns ``(summary, per_driver)``: ``summary`` has one row per method (pooled AUPRC, mean
    and median per-driver AUPRC, mean precision@k, fraction of drivers won, and the random
    expectations ``random_pooled`` / ``random_mean``); ``per_driver`` one row per (method,
    driver).
    """
    per_driver = {m: per_driver_metrics(s, labels, genes, top_k) for m, s in scores.items()}
    frames = [t.assign(method=m).reset_index() for m, t in per_driver.items() if not t.empty]
    long = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if long.empty:
        raise InputError("no driver gene has a planted peak among the data's peaks")
    wins = fraction_won(long.pivot(index="gene", columns="method", values="auprc"))
    keep = labels.any(axis=1)
    rows = []
    for method, table in per_driver.items():
        rows.append(
            {
                "method": method,
                "pooled_auprc": pooled_auprc(scores[method], labels),
                "mean_auprc": float(table["auprc"].mean()),
                "median_auprc": float(table["auprc"].median()),
                f"precision_at_{top_k}": float(table[f"precision_at_{top_k}"].mean()),
                "precision_at_planted": float(table["precision_at_planted"].mean()),
                "fraction_won": float(wins.get(method, np.nan)),
                "n_drivers": len(table),
                "n_planted": int(labels[keep].sum()),
                "random_pooled": float(labels[keep].mean()),
                "random_mean": float(table["random"].mean()),
            }
        )
    return pd.DataFrame(rows).set_index("method"), long


def call_counts(called: np.ndarray | None, labels: np.ndarray | None = None) -> dict[str, float]:
    """Links a method calls (``called``: bool, genes x peaks), and of those how many are planted.

    Without ``labels`` (sham genes: every call is false) only ``calls`` is returned.
    """
    if called is None:
        return {"calls": float("nan")}
    called = np.asarray(called, dtype=bool)
    out = {"calls": float(called.sum())}
    if labels is not None:
        true = float((called & labels).sum())
        out["true_calls"] = true
        out["false_discovery_proportion"] = (
            (out["calls"] - true) / out["calls"] if out["calls"] else float("nan")
        )
    return out


# --------------------------------------------------------------------------- benchmark tables

#: the columns that name one benchmark setting
SETTING_COLUMNS = ("data", "shape", "seed", "link_strength", "link_profile", "preset")
#: a setting's columns that the mean over seeds keeps apart (each that the table has)
SUMMARY_KEYS = ("data", "shape", "link_strength", "link_profile", "preset")
#: the headline columns of a method (higher is better)
SUMMARY_COLUMNS = (
    "pooled_auprc",
    "mean_auprc",
    f"precision_at_{TOP_K}",
    "precision_at_planted",
    "fraction_won",
)
#: what a method calls (lower is better)
CALL_COLUMNS = ("false_discovery_proportion", "sham_calls")


def summary_over_seeds(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds of the headline columns, per setting (``SUMMARY_KEYS``) and method."""
    keys = [k for k in SUMMARY_KEYS if k in table] + ["method"]
    columns = [c for c in (*SUMMARY_COLUMNS, *CALL_COLUMNS) if c in table]
    grouped = table.groupby(keys, sort=False, dropna=False)
    mean = grouped[columns].mean()
    mean["n_seeds"] = grouped.size()
    return mean


def over_settings(over: pd.DataFrame):
    """(setting as a dict, its methods' rows) per setting of :func:`summary_over_seeds`."""
    names = list(over.index.names[:-1])
    for key, group in over.groupby(level=names, sort=False, dropna=False):
        yield dict(zip(names, key)), group.droplevel(names)


def _setting_text(setting: dict) -> str:
    return "  ".join(f"{k}={v}" for k, v in setting.items() if v == v and v != "")


def format_table(table: pd.DataFrame, notes: list[str] | None = None) -> str:
    """Per setting, one line per method with the headline numbers (and the mean over seeds)."""
    columns = [c for c in (*SUMMARY_COLUMNS, *CALL_COLUMNS) if c in table]
    lines = []
    settings = [c for c in SETTING_COLUMNS if c in table]
    for key, group in table.groupby(settings, sort=False, dropna=False):
        lines.append(_setting_text(dict(zip(settings, key))))
        lines.append(_text_block(group.set_index("method")[columns]))
    over = summary_over_seeds(table)
    if over["n_seeds"].max() > 1:
        for setting, group in over_settings(over):
            seeds = int(group["n_seeds"].iloc[0])
            setting.pop("data")
            lines.append(f"mean over {seeds} seeds: {_setting_text(setting)}")
            lines.append(_text_block(group[columns]))
    lines.extend(f"note: {n}" for n in notes or [])
    return "\n".join(lines)


def _text_block(frame: pd.DataFrame) -> str:
    return frame.to_string(float_format=lambda v: f"{v:.4f}", na_rep="-") + "\n"
