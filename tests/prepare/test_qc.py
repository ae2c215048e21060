"""QC rules: MAD outliers on a synthetic set with known outliers, fixed thresholds, the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import median_abs_deviation

from genepeak.config import PrepareConfig
from genepeak.prepare.atac_qc import atac_rules
from genepeak.prepare.qc import evaluate_rules, mad_bounds, mad_rule, report_removals, rna_rules

N_INLIERS = 1000
SHALLOW = [0, 1, 2]  # library 20x below the median
DEEP = [3, 4]  # library 20x above (doublet-like)
FEW_GENES = [5, 6]
DAMAGED = [7, 8, 9, 10]  # 40 % MT
RIBO_HIGH = [11]  # 70 % ribosomal
OUTLIERS = SHALLOW + DEEP + FEW_GENES + DAMAGED + RIBO_HIGH


def outlier_set(seed: int = 0) -> pd.DataFrame:
    """Per-cell metrics of 1,000 inliers and 12 planted outliers.

    Inliers are normal (log-normal for counts) within 3 sd: inside 5 unscaled MADs
    (= 3.4 sd). MT inliers stay within 1.9 sd, inside 3 MADs (= 2.0 sd): that rule also
    removes the top ~2 % of a normal distribution, which would not be a planted outlier.
    """
    rng = np.random.default_rng(seed)
    z = np.clip(rng.normal(size=(N_INLIERS, 4)), -3, 3)
    z[:, 2] = np.clip(z[:, 2], -1.9, 1.9)
    qc = pd.DataFrame(
        {
            "total_counts": np.round(np.exp(np.log(3000) + 0.4 * z[:, 0])),
            "n_genes_by_counts": np.round(np.exp(np.log(1200) + 0.3 * z[:, 1])),
            "pct_counts_mt": 3.0 + 0.6 * z[:, 2],
            "pct_counts_ribo": 10.0 + 2.0 * z[:, 3],
            "pct_counts_hb": 0.0,
        }
    )
    qc.loc[SHALLOW, "total_counts"] = 150
    qc.loc[DEEP, "total_counts"] = 60_000
    qc.loc[FEW_GENES, "n_genes_by_counts"] = 60
    qc.loc[DAMAGED, "pct_counts_mt"] = 40.0
    qc.loc[RIBO_HIGH, "pct_counts_ribo"] = 70.0
    qc.index = [f"cell{i}" for i in range(N_INLIERS)]
    return qc


def test_mad_bounds_follow_the_definition():
    values = np.array([1.0, 2.0, 2.0, 3.0, 10.0])
    median, lower, upper = mad_bounds(values, 3, log1p=False)
    mad = median_abs_deviation(values)  # unscaled, as the scverse book uses it
    assert (median, lower, upper) == (2.0, 2.0 - 3 * mad, 2.0 + 3 * mad)
    median, lower, upper = mad_bounds(values, 5, log1p=True)
    logged = np.log1p(values)
    assert median == pytest.approx(np.expm1(np.median(logged)))
    assert upper == pytest.approx(np.expm1(np.median(logged) + 5 * median_abs_deviation(logged)))


def test_mad_rules_remove_known_outliers_and_keep_every_inlier():
    qc = outlier_set()
    keep, table = evaluate_rules(qc, rna_rules(qc, PrepareConfig()))
    removed = set(np.flatnonzero(~keep))
    assert removed == set(OUTLIERS)
    by_metric = table.set_index("metric")
    assert by_metric.loc["total_counts", "n_removed"] == len(SHALLOW + DEEP)
    assert by_metric.loc["n_genes_by_counts", "n_removed"] == len(FEW_GENES)
    assert by_metric.loc["pct_counts_mt", "n_removed"] == len(DAMAGED)
    assert by_metric.loc["pct_counts_ribo", "n_removed"] == len(RIBO_HIGH)
    assert table["n_removed_only"].sum() == len(OUTLIERS)  # each outlier fails one rule
    # counts are judged on both sides, MT and ribosomal only above
    assert np.isfinite(by_metric.loc["total_counts", ["lower", "upper"]].astype(float)).all()
    assert np.isnan(by_metric.loc["pct_counts_mt", "lower"])


def test_mad_rules_follow_the_data_not_a_fixed_threshold():
    """A dataset whose typical cell has 20 % ribosomal counts keeps its cells (fixed 15 % would not)."""
    qc = outlier_set()
    qc["pct_counts_ribo"] += 15.0
    keep, table = evaluate_rules(qc, rna_rules(qc, PrepareConfig()))
    assert set(np.flatnonzero(~keep)) == set(OUTLIERS)
    fixed_keep, _ = evaluate_rules(qc, rna_rules(qc, PrepareConfig(qc_mode="fixed")))
    assert fixed_keep.mean() < 0.05


def test_a_rule_can_be_turned_off_and_fixed_limits_still_apply():
    qc = outlier_set()
    config = PrepareConfig(mad_pct_mt=None, min_counts_per_cell=200)
    keep, table = evaluate_rules(qc, rna_rules(qc, config))
    assert "pct_counts_mt" not in set(table["metric"])
    assert not set(DAMAGED) & set(np.flatnonzero(~keep))
    assert "total_counts >= 200" in set(table["rule"])


def test_zero_mad_leaves_the_rule_inactive():
    qc = outlier_set()
    qc["pct_counts_mt"] = 0.0
    qc.loc["cell7", "pct_counts_mt"] = 0.5
    rule = mad_rule(qc, "pct_counts_mt", 3, "upper", "rna")
    assert not rule.active and "MAD is 0" in rule.note
    assert rule.passes(qc["pct_counts_mt"].to_numpy()).all()


def test_missing_values_pass():
    rule = mad_rule(pd.DataFrame({"m": [1.0, 2.0, 3.0, np.nan]}), "m", 1, "both", "atac")
    assert rule.passes(np.array([np.nan, 2.0, 100.0])).tolist() == [True, True, False]


def test_warning_when_more_than_a_fifth_of_cells_go(capsys, monkeypatch):
    monkeypatch.delenv("GENEPEAK_QUIET", raising=False)
    qc = outlier_set()
    keep, table = evaluate_rules(qc, rna_rules(qc, PrepareConfig()))
    report_removals(keep, table)
    assert "WARNING" not in capsys.readouterr().out
    strict = PrepareConfig(qc_mode="fixed", max_pct_mt=3.0)
    keep, table = evaluate_rules(qc, rna_rules(qc, strict))
    report_removals(keep, table)
    out = capsys.readouterr().out
    assert "WARNING: QC removes" in out and "more than 20%" in out
    assert "'pct_counts_mt <= 3'" in out


def test_atac_rules_on_fragment_metrics():
    rng = np.random.default_rng(2)
    n = 500
    z = np.clip(rng.normal(size=(n, 4)), -1.9, 1.9)  # inside 3 MADs (see outlier_set)
    qc = pd.DataFrame(
        {
            "atac_fragments": np.round(np.exp(np.log(8000) + 0.3 * z[:, 0])),
            "atac_tsse": 12 + z[:, 1],
            "atac_nucleosome_signal": 0.6 + 0.05 * z[:, 2],
            "atac_frip": 0.6 + 0.03 * z[:, 3],
        }
    )
    qc.loc[0, "atac_tsse"] = 2.0  # no enrichment at TSSs
    qc.loc[1, "atac_nucleosome_signal"] = 3.0
    qc.loc[2, "atac_frip"] = 0.1
    qc.loc[3, "atac_fragments"] = 200
    keep, table = evaluate_rules(qc, atac_rules(qc, PrepareConfig()))
    assert set(np.flatnonzero(~keep)) == {0, 1, 2, 3}
    assert list(table["modality"].unique()) == ["atac"]
    assert atac_rules(qc, PrepareConfig(qc_mode="fixed")) == []
    # shallow cells: per-cell ratios are noise, only the depth rule stays active
    shallow = qc.assign(atac_fragments=qc["atac_fragments"] / 100)
    active = [r.metric for r in atac_rules(shallow, PrepareConfig()) if r.active]
    assert active == ["atac_fragments"]
