"""Cell quality control as rules: data-driven (median absolute deviations) or fixed thresholds.

A rule keeps the cells whose metric lies inside ``[lower, upper]`` (either side may be open).
MAD rules follow the scverse best-practice workflow: a cell is an outlier when its metric
is more than ``n`` median absolute deviations (unscaled, ``scipy.stats.median_abs_deviation``)
from the median, on ``log1p`` scale for counts. Every rule is evaluated on all input cells;
a cell is kept when it passes every rule. :func:`rules_table` records, per rule, how many
cells it removed; it is stored in ``mdata.uns["genepeak"]["qc_rules"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import median_abs_deviation

from genepeak._utils import log
from genepeak.config import PrepareConfig
from genepeak.errors import InputError

#: warn when QC removes more than this fraction of the input cells
WARN_FRACTION = 0.2

RULE_COLUMNS = [
    "modality",
    "metric",
    "rule",
    "lower",
    "upper",
    "n_removed",
    "n_removed_only",
    "note",
]


@dataclass(frozen=True)
class QCRule:
    """Keep cells with ``lower <= transform(metric) <= upper`` (bounds on the metric's scale).

    ``lower`` / ``upper`` are None for an open side; a rule with both None is inactive
    (``note`` says why, e.g. a MAD of 0).
    """

    modality: str
    metric: str
    description: str
    lower: float | None = None
    upper: float | None = None
    note: str = ""

    def passes(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask of cells inside the bounds; a missing value (NaN) passes."""
        values = np.asarray(values, dtype=np.float64)
        ok = np.ones(values.shape, dtype=bool)
        known = np.isfinite(values)
        if self.lower is not None:
            ok[known] &= values[known] >= self.lower
        if self.upper is not None:
            ok[known] &= values[known] <= self.upper
        return ok

    @property
    def active(self) -> bool:
        return self.lower is not None or self.upper is not None


def mad_bounds(values: np.ndarray, n_mads: float, log1p: bool) -> tuple[float, float, float]:
    """``(median, lower, upper)`` of ``median -/+ n_mads * MAD`` on the metric's own scale.

    With ``log1p`` the deviations are taken on ``log1p(values)`` and the bounds mapped back
    (``expm1``), so they read as counts. NaN values are ignored.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan, np.nan, np.nan
    scaled = np.log1p(values) if log1p else values
    median = float(np.median(scaled))
    mad = float(median_abs_deviation(scaled))
    lower, upper = median - n_mads * mad, median + n_mads * mad
    if log1p:
        return float(np.expm1(median)), float(np.expm1(lower)), float(np.expm1(upper))
    return median, lower, upper


def mad_rule(
    qc: pd.DataFrame,
    metric: str,
    n_mads: float,
    side: str,
    modality: str,
    log1p: bool = False,
) -> QCRule:
    """A MAD outlier rule on ``qc[metric]``; ``side`` is ``"both"``, ``"lower"`` or ``"upper"``.

    A MAD of 0 (most cells share one value, e.g. no MT gene measured) would call every other
    value an outlier, so the rule is then left inactive and the reason noted.
    """
    scale = f"log1p({metric})" if log1p else metric
    sides = {"both": "median ± ", "lower": "median - ", "upper": "median + "}[side]
    description = f"{scale} within {sides}{n_mads:g} MADs"
    median, lower, upper = mad_bounds(qc[metric].to_numpy(), n_mads, log1p)
    if not np.isfinite(median):
        return QCRule(modality, metric, description, note="no value measured; rule inactive")
    if lower == upper:
        return QCRule(
            modality,
            metric,
            description,
            note=f"MAD is 0 (most cells have {median:g}); rule inactive",
        )
    return QCRule(
        modality,
        metric,
        description,
        lower=lower if side in ("both", "lower") else None,
        upper=upper if side in ("both", "upper") else None,
        note=f"median {median:.4g}",
    )


def fixed_rule(
    metric: str, modality: str, lower: float | None = None, upper: float | None = None
) -> QCRule:
    """A fixed threshold rule (``metric >= lower`` and/or ``metric <= upper``)."""
    parts = []
    if lower is not None:
        parts.append(f"{metric} >= {lower:g}")
    if upper is not None:
        parts.append(f"{metric} <= {upper:g}")
    return QCRule(modality, metric, " and ".join(parts), lower=lower, upper=upper)


def rna_rules(qc: pd.DataFrame, config: PrepareConfig) -> list[QCRule]:
    """The RNA QC rules of ``config`` (``qc_mode`` "mad" or "fixed") on per-cell metrics ``qc``."""
    if config.qc_mode == "fixed":
        rules = [
            fixed_rule("pct_counts_mt", "rna", upper=config.max_pct_mt),
            fixed_rule("pct_counts_ribo", "rna", upper=config.max_pct_ribo),
            fixed_rule("n_genes_by_counts", "rna", lower=config.min_genes_per_cell),
        ]
    else:
        mads = (
            ("total_counts", config.mad_counts, "both", True),
            ("n_genes_by_counts", config.mad_genes, "both", True),
            ("pct_counts_mt", config.mad_pct_mt, "upper", False),
            ("pct_counts_ribo", config.mad_pct_ribo, "upper", False),
        )
        rules = [
            mad_rule(qc, metric, n, side, "rna", log1p=log1p)
            for metric, n, side, log1p in mads
            if n is not None
        ]
    # fixed limits that are off (None) by default apply in either mode when set
    if config.max_pct_hb is not None:
        rules.append(fixed_rule("pct_counts_hb", "rna", upper=config.max_pct_hb))
    if config.min_counts_per_cell is not None or config.max_counts_per_cell is not None:
        rules.append(
            fixed_rule(
                "total_counts",
                "rna",
                lower=config.min_counts_per_cell,
                upper=config.max_counts_per_cell,
            )
        )
    return rules


def evaluate_rules(qc: pd.DataFrame, rules: Sequence[QCRule]) -> tuple[np.ndarray, pd.DataFrame]:
    """Apply every rule to ``qc``; return the kept-cell mask and the per-rule table.

    The table has one row per rule: ``modality``, ``metric``, ``rule`` (text), ``lower``,
    ``upper`` (NaN for an open side), ``n_removed`` (cells failing this rule),
    ``n_removed_only`` (cells failing this rule and no other) and ``note``.
    """
    failed = np.zeros((len(qc), len(rules)), dtype=bool)
    for j, rule in enumerate(rules):
        failed[:, j] = ~rule.passes(qc[rule.metric].to_numpy())
    n_failed_rules = failed.sum(axis=1)
    rows = [
        {
            "modality": rule.modality,
            "metric": rule.metric,
            "rule": rule.description,
            "lower": np.nan if rule.lower is None else float(rule.lower),
            "upper": np.nan if rule.upper is None else float(rule.upper),
            "n_removed": int(failed[:, j].sum()),
            "n_removed_only": int((failed[:, j] & (n_failed_rules == 1)).sum()),
            "note": rule.note,
        }
        for j, rule in enumerate(rules)
    ]
    table = pd.DataFrame(rows, columns=RULE_COLUMNS)
    table.index = pd.Index([f"rule_{j}" for j in range(len(rules))])
    return n_failed_rules == 0, table


def report_removals(keep: np.ndarray, table: pd.DataFrame, what: str = "QC") -> None:
    """Log kept cells and each rule's removals; warn when more than 20% of cells go."""
    n_in, n_kept = len(keep), int(keep.sum())
    for row in table.itertuples():
        note = f" ({row.note})" if row.note else ""
        log(f"{what} {row.modality}: {row.rule}: removes {row.n_removed}{note}")
    log(f"{what}: {n_kept} of {n_in} cells pass")
    if n_in and (n_in - n_kept) > WARN_FRACTION * n_in:
        worst = table.sort_values("n_removed", ascending=False).iloc[0]
        log(
            f"WARNING: {what} removes {n_in - n_kept} of {n_in} cells "
            f"({(n_in - n_kept) / n_in:.0%}, more than {WARN_FRACTION:.0%}); the rule removing "
            f"most is '{worst['rule']}' ({worst['n_removed']} cells). Check the QC figure and "
            "the PrepareConfig QC options (qc_mode, mad_*, or fixed thresholds)"
        )


def zero_cells_error(n_in: int, table: pd.DataFrame) -> InputError:
    """The error raised when no cell passes QC, with each rule's failures."""
    failed = "; ".join(f"{row.rule}: {row.n_removed} fail" for row in table.itertuples())
    return InputError(
        f"zero cells left after QC ({n_in} cells in). Per rule: {failed}. Relax the "
        "PrepareConfig QC options for this dataset (qc_mode 'mad' with larger mad_* values, "
        "or qc_mode 'fixed' with max_pct_mt, max_pct_ribo, min_genes_per_cell, "
        "min_counts_per_cell, max_counts_per_cell)"
    )
