"""Validation metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genepeak.errors import InputError
from genepeak.explain import validate


def test_recovery_metrics_hand_computed():
    scores = pd.Series([0.9, 0.8, 0.7, 0.6, 0.1], index=list("abcde"))
    m = validate.recovery_metrics(scores, {"a", "c"}, top_k=(2, 4))
    assert m["auprc"] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert m["precision_at_2"] == 0.5 and m["precision_at_4"] == 0.5
    assert m["prevalence"] == pytest.approx(0.4)


def test_correlation_matches_dense_pearson(tiny_mdata):
    peaks = list(tiny_mdata.mod["atac"].var_names[:6])
    r = validate.correlation_scores(tiny_mdata, ["GENE0"], peaks)
    g = tiny_mdata.mod["rna"][:, "GENE0"].X.toarray().ravel()
    x = tiny_mdata.mod["atac"][:, peaks].X.toarray()
    expected = [np.corrcoef(g, x[:, j])[0, 1] for j in range(6)]
    np.testing.assert_allclose(r.to_numpy(), expected, rtol=1e-4, atol=1e-6)
    assert r.iloc[:2].min() > r.iloc[2:].abs().max()  # GENE0 drives peaks 0 and 1


def test_tss_enrichment_counts_and_fisher():
    out = validate.tss_enrichment(
        np.array([10, -5e4, 2e5, np.nan]),
        [np.array([3e5, 1e3]), np.array([np.nan, 5e6])],
        window=100_000,
    )
    assert out["target_fraction"] == 0.5 and out["null_fraction"] == 0.25
    assert out["enrichment"] == 2.0
    # one-sided Fisher on [[2, 2], [1, 3]]
    assert out["p_value"] == pytest.approx(0.5, abs=1e-9)


def test_read_truth_signs_and_errors(tmp_path):
    path = tmp_path / "truth.tsv"
    pd.DataFrame(
        {
            "gene": ["A", "A", ""],
            "peak": ["p1", "p2", "p3"],
            "effect": [0.5, 0.7, 0.0],
            "sign": [1, -1, 0],
        }
    ).to_csv(path, sep="\t", index=False)
    truth = validate.read_truth(path)
    assert truth["effect"].tolist() == [0.5, -0.7]
    assert validate.planted_peaks(truth, ["A"]) == {"p1", "p2"}
    with pytest.raises(InputError, match="expected columns gene and peak"):
        validate.read_truth(pd.DataFrame({"x": [1]}))
    with pytest.raises(InputError, match="does not exist"):
        validate.read_truth(tmp_path / "missing.tsv")
