"""benchmarks/translation_benchmark.py: translations only, and each model against the best baseline."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from bench_scripts import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("translation_benchmark")


def test_overrides_are_yaml_values(bench):
    parsed = bench.parse_overrides(["hidden=[256]", "lr=0.001", "joint_stages=true"])
    assert parsed == {"hidden": [256], "lr": 0.001, "joint_stages": True}
    with pytest.raises(SystemExit, match="key=value"):
        bench.parse_overrides(["epochs"])


def test_a_seed_scores_translations_only_and_names_the_strongest_baseline(bench, tiny_mdata):
    args = SimpleNamespace(models=["gpg", "pgp"], preset="small", labels_key="leiden")
    overrides = {"epochs": 2, "cis_window": 0}
    scores, against = bench.score_seed(tiny_mdata, args, 0, overrides)
    rows = scores.set_index(["metric", "predictor"])
    # GPG's genes and PGP's peaks are reconstructions: not in the translation columns
    assert ("gene_pearson_per_gene", "gpg") not in rows.index
    assert ("peak_auroc_per_peak", "pgp") not in rows.index
    assert ("peak_auroc_per_peak", "gpg") in rows.index
    assert ("gene_pearson_per_gene", "pgp") in rows.index
    assert "reduced_rank_ridge" in set(scores["predictor"]) and "pca" not in set(
        scores["predictor"]
    )
    for row in against.itertuples():
        baselines = scores[(scores["metric"] == row.score) & (scores["kind"] == "baseline")]
        assert row.baseline_value == pytest.approx(baselines["value"].max())
        assert row.seed == 0
