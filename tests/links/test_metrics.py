"""Link metrics against planted truth, on examples small enough to compute by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genepeak.errors import InputError
from genepeak.links import metrics as lm


def test_auprc_by_hand():
    # ranks 1 and 3 are planted: AP = (1/1 + 2/3) / 2
    assert lm.auprc(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    # the planted peak is tied with another at the top: precision 1/2 at recall 1
    assert lm.auprc(np.array([1.0, 1.0, 0.0, 0.0]), np.array([1, 0, 0, 0])) == pytest.approx(0.5)
    # unscored (-inf) peaks come last, tied: the planted one among three -> 1/3
    assert lm.auprc(np.array([-np.inf, 0.5, -np.inf]), np.array([1, 0, 0])) == pytest.approx(1 / 3)
    assert np.isnan(lm.auprc(np.array([0.1, 0.2]), np.array([0, 0])))


def test_precision_at_k_counts_ties_in_expectation():
    scores, labels = np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0])
    assert lm.precision_at_k(scores, labels, 1) == 1.0
    assert lm.precision_at_k(scores, labels, 2) == 0.5
    assert lm.precision_at_k(scores, labels, 3) == pytest.approx(2 / 3)
    assert lm.precision_at_k(scores, labels, 10) == 0.5  # k capped at the number of peaks
    # top 2 = the 0.9 (not planted) and one of three tied 0.5s (one planted): (0 + 1/3) / 2
    tied = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    assert lm.precision_at_k(tied, np.array([0, 1, 0, 0, 0]), 2) == pytest.approx(1 / 6)


def test_pooled_and_per_driver_by_hand():
    scores = np.array([[0.9, 0.1, 0.2], [0.5, 0.6, 0.3], [0.3, 0.2, 0.1]])
    labels = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 0]], dtype=bool)
    # pooled over the two drivers with planted peaks: 0.9(+) 0.6 0.5 0.3(+) 0.2 0.1
    assert lm.pooled_auprc(scores, labels) == pytest.approx((1 + 2 / 4) / 2)
    table = lm.per_driver_metrics(scores, labels, ["A", "B", "C"], top_k=1)
    assert list(table.index) == ["A", "B"]  # C has nothing planted
    assert table.loc["A", "auprc"] == 1.0 and table.loc["B", "auprc"] == pytest.approx(1 / 3)
    assert table.loc["B", "precision_at_1"] == 0.0
    assert table.loc["A", "precision_at_planted"] == 1.0
    assert table.loc["A", "random"] == pytest.approx(1 / 3)


def test_fraction_won_splits_ties_and_skips_drivers_without_auprc():
    auprcs = pd.DataFrame(
        {"a": [0.5, 0.2, np.nan], "b": [0.5, 0.9, np.nan], "c": [0.1, 0.3, np.nan]},
        index=["g1", "g2", "g3"],
    )
    won = lm.fraction_won(auprcs)
    assert won.to_dict() == pytest.approx({"a": 0.25, "b": 0.75, "c": 0.0})
    assert won.sum() == pytest.approx(1.0)


def test_truth_matrix_marks_planted_peaks_that_survived_preparation():
    truth = pd.DataFrame(
        {
            "gene": ["A", "A", "A", "B", "Z"],
            "peak": ["p1", "p2", "gone", "p3", "p1"],
            "effect": [1.5, 0.0, 2.0, -1.0, 1.0],
        }
    )
    labels = lm.truth_matrix(truth, ["A", "B"], pd.Index(["p1", "p2", "p3"]))
    np.testing.assert_array_equal(labels, [[True, False, False], [False, False, True]])


def test_summarise_reports_every_method_against_the_random_expectation():
    labels = np.zeros((2, 100), dtype=bool)
    labels[0, [0, 1]] = True
    labels[1, [5]] = True
    perfect = np.where(labels, 1.0, 0.0)
    reverse = -perfect
    summary, per_driver = lm.summarise({"perfect": perfect, "reverse": reverse}, labels, ["A", "B"])
    assert summary.loc["perfect", "pooled_auprc"] == 1.0
    assert summary.loc["perfect", "fraction_won"] == 1.0
    assert summary.loc["reverse", "fraction_won"] == 0.0
    assert summary.loc["perfect", "precision_at_planted"] == 1.0
    assert summary.loc["perfect", "precision_at_10"] == pytest.approx((2 / 10 + 1 / 10) / 2)
    assert summary.loc["reverse", "random_pooled"] == pytest.approx(3 / 200)
    assert summary.loc["reverse", "random_mean"] == pytest.approx((2 / 100 + 1 / 100) / 2)
    assert summary.loc["perfect", "n_planted"] == 3 and summary.loc["perfect", "n_drivers"] == 2
    assert set(per_driver["method"]) == {"perfect", "reverse"} and len(per_driver) == 4
    with pytest.raises(InputError, match="no driver gene has a planted peak"):
        lm.summarise({"x": perfect}, np.zeros_like(labels), ["A", "B"])


def test_call_counts_and_sham_genes(tmp_path):
    called = np.array([[True, True, False], [False, False, True]])
    labels = np.array([[True, False, False], [False, False, False]])
    counts = lm.call_counts(called, labels)
    assert counts == {"calls": 3.0, "true_calls": 1.0, "false_discovery_proportion": 2 / 3}
    assert lm.call_counts(called)["calls"] == 3.0
    assert np.isnan(lm.call_counts(None)["calls"])
    path = tmp_path / "sham_genes.tsv"
    path.write_text("gene\tmatched_driver\nS1\tA\nS2\tB\n")
    assert lm.read_sham_genes(path) == ["S1", "S2"]
    (tmp_path / "bad.tsv").write_text("name\nS1\n")
    with pytest.raises(InputError, match="expected a column gene"):
        lm.read_sham_genes(tmp_path / "bad.tsv")
    with pytest.raises(InputError, match="does not exist"):
        lm.read_sham_genes(tmp_path / "missing.tsv")
