"""evaluate(): every metric for every model and baseline, one split, JSON on disk."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from eval_fakes import FakeModel

from expected_names import PEAK_ONLY_BASELINES, TRANSLATION_BASELINES
from genepeak.config import EvaluateConfig
from genepeak.errors import InputError
from genepeak.evaluate import HEADLINE, LATENT_COLUMNS, evaluate
from genepeak.evaluate.multivi import MULTIVI_MISSING, multivi_available

CONFIG = EvaluateConfig(n_pcs=10, knn_k=5, compute_umap=False)
PEAK_KEYS = (
    "threshold",
    "val_f1",
    "precision",
    "recall",
    "f1",
    "auroc",
    "auprc",
    "prevalence",
    "auroc_per_cell",
    "auprc_per_cell",
    "auroc_per_peak",
    "auprc_per_peak",
    "prevalence_per_peak",
    "ece",
)
GENE_KEYS = ("pearson_per_cell", "pearson_per_gene", "spearman_per_gene", "rmse")


@pytest.fixture
def result(fake_model):
    return evaluate(fake_model.mdata, {"fake": fake_model}, CONFIG)


def test_metrics_json_has_every_metric_for_every_predictor(result, tmp_path):
    path = result.to_json(tmp_path / "out" / "metrics.json")
    metrics = json.loads(path.read_text())
    baselines = {*TRANSLATION_BASELINES, "pca"}
    assert set(metrics) == {"fake", "_run"} | baselines
    for name in ("fake", *TRANSLATION_BASELINES):
        for key in PEAK_KEYS:
            assert key in metrics[name]["peaks"], (name, key)
        if name in PEAK_ONLY_BASELINES:
            assert metrics[name]["genes"] is None, name
            continue
        for key in GENE_KEYS:
            assert isinstance(metrics[name]["genes"][key], float), (name, key)
    for name, keys in (("fake", ("z1", "z2")), ("pca", ("rna", "atac"))):
        assert set(metrics[name]["latent"]) == set(keys)
        for key in keys:
            assert set(LATENT_COLUMNS) <= set(metrics[name]["latent"][key])
    assert metrics["pca"]["peaks"] is None and metrics["mean"]["latent"] == {}
    assert metrics["fake"]["peaks"]["ece"] is None  # log1p head: no calibration, stored null
    assert isinstance(metrics["mean"]["peaks"]["ece"], float)
    assert metrics["_run"]["n_cells"]["test"] == len(result.split["test"])
    assert "ceiling" in " ".join(metrics["_run"]["notes"])
    assert not list(tmp_path.joinpath("out").glob(".*tmp"))  # written atomically


def test_table_rows_columns_and_expected_orderings(result):
    table = result.table
    assert list(table.index) == ["fake", *TRANSLATION_BASELINES, "pca"]
    assert [h.column for h in HEADLINE] == [
        c for c in table.columns if c in {h.column for h in HEADLINE}
    ]
    # the prevalence predictor ranks cells within a peak not at all
    assert table.loc["mean", "peak_auroc_per_peak"] == pytest.approx(0.5)
    assert table.loc["mean", "gene_pearson_per_gene"] == pytest.approx(0.0)
    # the fake reads the planted gene -> peak link: far above the prevalence baseline
    assert table.loc["fake", "peak_auroc_per_peak"] > 0.6
    assert table.loc["fake", "gene_pearson_per_gene"] > 0.99  # 0.9 x the truth
    assert table.loc["fake", "peak_task"] == "translation"
    assert table.loc["fake", "gene_task"] == "reconstruction"
    # RNA-PCA separates the RNA-derived labels (the ceiling)
    assert table.loc["pca", "latent_f1_weighted"] > 0.8
    assert list(result.latent_table.index) == ["fake:z1", "fake:z2", "pca:rna", "pca:atac"]


def test_arrays_for_the_figures(result):
    n_test = len(result.split["test"])
    assert result.test_labels.shape == (n_test,)
    assert result.latents["fake"]["z1"].shape == (n_test, 8)
    assert result.latents_2d["pca"]["atac"].shape == (n_test, 2)
    assert result.embedding_method == "PC"
    curves = result.threshold_curves["fake"]
    assert (
        len(curves["sweep_test"]["f1"]) == 11
        and curves["threshold"] in curves["sweep_val"]["threshold"]
    )
    assert "reliability" in result.threshold_curves["knn"]
    assert result.pearson["ridge"]["per_gene"].shape == (60,)
    assert result.threshold("fake") == result.metrics["fake"]["peaks"]["threshold"]


def test_models_on_different_splits_are_refused(tiny_mdata):
    one, other = FakeModel(tiny_mdata, seed=0), FakeModel(tiny_mdata, seed=1)
    with pytest.raises(InputError, match="different splits"):
        evaluate(tiny_mdata, {"a": one, "b": other}, CONFIG)


def test_unknown_labels_key_and_missing_modality(fake_model):
    with pytest.raises(InputError, match="cell_type"):
        evaluate(fake_model.mdata, {"fake": fake_model}, CONFIG, labels_key="cell_type")
    import mudata as md

    rna_only = md.MuData({"rna": fake_model.mdata.mod["rna"]})
    with pytest.raises(InputError, match="atac"):
        evaluate(rna_only, {}, CONFIG)


def test_baselines_alone_use_the_models_split_function(tiny_mdata):
    result = evaluate(tiny_mdata, {}, CONFIG)
    expected = FakeModel(tiny_mdata).split  # same function, same seed and fractions
    for key in ("train", "val", "test"):
        np.testing.assert_array_equal(np.sort(result.split[key]), np.sort(expected[key]))


@pytest.mark.skipif(multivi_available(), reason="scvi-tools is installed")
def test_multivi_without_scvi_tools_is_skipped_with_a_message(tiny_mdata):
    config = EvaluateConfig(n_pcs=10, compute_umap=False, run_multivi=True)
    result = evaluate(tiny_mdata, {}, config)
    assert result.skipped == {"multivi": MULTIVI_MISSING}
    assert result.metrics["_run"]["skipped"]["multivi"].startswith("MultiVI skipped")
    assert "genepeak[compare]" in MULTIVI_MISSING


@pytest.mark.slow
@pytest.mark.skipif(not multivi_available(), reason="scvi-tools is not installed")
def test_multivi_is_trained_on_the_training_cells_and_scored(tiny_mdata):
    config = EvaluateConfig(n_pcs=10, compute_umap=False, run_multivi=True, multivi_epochs=10)
    result = evaluate(tiny_mdata, {}, config)
    assert result.skipped == {}
    entry = result.metrics["multivi"]
    assert entry["peak_scale"] == "probability" and 0 <= entry["peaks"]["auroc"] <= 1
    assert np.isfinite(entry["genes"]["pearson_per_gene"])
    assert set(entry["latent"]) == {"joint"}
    assert entry["training"]["epochs"] == 10 and entry["training"]["seconds"] > 0


@pytest.mark.slow
@pytest.mark.skipif(not multivi_available(), reason="scvi-tools is not installed")
def test_multivi_epoch_callback_scores_mid_training(tiny_mdata):
    from genepeak.evaluate.multivi import MultiVIBaseline
    from genepeak.train.split import stratified_split

    labels = tiny_mdata.obs["leiden"].astype(str).to_numpy()
    split = stratified_split(tiny_mdata.obs_names, labels, 0.1, 0.2, 0)
    seen = []

    def score(baseline, epoch):
        peaks = baseline.predict_peaks(cells=split["test"])
        seen.append((epoch, peaks.shape, baseline.model.module.training))

    config = EvaluateConfig(multivi_epochs=3)
    baseline = MultiVIBaseline(tiny_mdata, split, config, on_epoch_end=score)
    assert [e for e, _, _ in seen] == [1, 2, 3]
    assert all(shape == (len(split["test"]), 90) for _, shape, _ in seen)
    assert all(training for _, _, training in seen)  # back in training mode after each score
    assert baseline.epochs_trained == 3 and 0 < baseline.train_seconds
    assert baseline.callback_seconds > 0


def test_against_baselines_ranks_translations_only_and_names_the_strongest_baseline():
    from genepeak.evaluate.result import against_baselines

    table = pd.DataFrame(
        {
            "kind": ["model", "model", "baseline", "baseline"],
            "peak_task": ["translation", "reconstruction", "translation", "translation"],
            "gene_task": ["reconstruction", "translation", "translation", "translation"],
            "peak_auroc_per_peak": [0.57, 0.90, 0.58, 0.56],
            "peak_auprc_per_peak": [0.30, 0.60, 0.28, 0.29],
            "gene_pearson_per_gene": [0.50, 0.11, 0.12, float("nan")],
        },
        index=["gpg", "pgp", "reduced_rank_ridge", "ridge"],
    )
    rows = against_baselines(table).set_index("score")
    # pgp's peaks are a reconstruction: not ranked, so gpg is the only peak model and loses
    auroc = rows.loc["peak_auroc_per_peak"]
    assert (auroc["model"], auroc["baseline"]) == ("gpg", "reduced_rank_ridge")
    assert auroc["margin"] == pytest.approx(-0.01)
    auprc = rows.loc["peak_auprc_per_peak"]
    assert (auprc["baseline"], auprc["margin"]) == ("ridge", pytest.approx(0.01))
    # gpg's genes are a reconstruction and ridge's Pearson is missing: pgp against rrr
    genes = rows.loc["gene_pearson_per_gene"]
    assert (genes["model"], genes["baseline"]) == ("pgp", "reduced_rank_ridge")
    assert genes["margin"] == pytest.approx(-0.01)
    assert against_baselines(table[table["kind"] == "baseline"]).empty
    # without a usable 'mean' row there is no floor to measure the gain from
    assert rows["share_of_gain"].isna().all() and not rows["learned_little"].any()


def test_against_baselines_measures_each_model_from_the_mean_baselines_floor():
    from genepeak.evaluate.result import against_baselines

    table = pd.DataFrame(
        {
            "kind": ["model", "model", "baseline", "baseline"],
            "peak_task": ["translation"] * 4,
            "gene_task": ["translation"] * 4,
            "peak_auroc_per_peak": [0.56, 0.505, 0.58, 0.50],
            "gene_pearson_per_gene": [0.09, 0.004, 0.10, 0.0],
        },
        index=["gpg", "dual", "reduced_rank_ridge", "mean"],
    )
    rows = against_baselines(table).set_index(["score", "model"])
    auroc = rows.loc[("peak_auroc_per_peak", "gpg")]
    assert auroc["mean_value"] == 0.5 and auroc["share_of_gain"] == pytest.approx(0.75)
    assert rows.loc[("peak_auroc_per_peak", "dual"), "share_of_gain"] == pytest.approx(0.0625)
    assert rows.loc[("gene_pearson_per_gene", "dual"), "share_of_gain"] == pytest.approx(0.04)
    assert rows["learned_little"].to_dict() == {
        ("peak_auroc_per_peak", "gpg"): False,
        ("peak_auroc_per_peak", "dual"): True,
        ("gene_pearson_per_gene", "gpg"): False,
        ("gene_pearson_per_gene", "dual"): True,
    }
    # a floor no baseline rises above gives no share
    flat = table.assign(peak_auroc_per_peak=[0.56, 0.505, 0.50, 0.50])
    flat_rows = against_baselines(flat).set_index(["score", "model"])
    assert np.isnan(flat_rows.loc[("peak_auroc_per_peak", "gpg"), "share_of_gain"])


def test_metrics_json_says_how_each_model_fares_against_the_strongest_baseline(result):
    rows = result.metrics["_run"]["against_baselines"]
    assert rows and {row["model"] for row in rows} == {"fake"}
    baselines = result.table[result.table["kind"] == "baseline"]
    for row in rows:
        assert row["baseline_value"] == pytest.approx(baselines[row["score"]].max())
        assert row["margin"] == pytest.approx(row["model_value"] - row["baseline_value"])


def test_a_predictor_is_scored_on_the_sampled_columns_only(tiny_mdata, monkeypatch):
    from tests.evaluate.eval_fakes import FakeModel

    from genepeak.evaluate import _data
    from genepeak.evaluate import metrics as metrics_module
    from genepeak.evaluate.evaluation import score_predictor
    from genepeak.evaluate.translation import score_peaks

    model = FakeModel(tiny_mdata)
    split = {k: np.asarray(v) for k, v in model.split.items()}
    labels = {k: _data.labels_of(tiny_mdata, split[k], "leiden") for k in ("train", "test")}
    config = EvaluateConfig(compute_umap=False)
    exact, _ = score_predictor(model, tiny_mdata, split, labels, config)
    densified = []
    peaks_open = _data.peaks_open
    monkeypatch.setattr(
        _data, "peaks_open", lambda m, c, p=None: densified.append(len(p)) or peaks_open(m, c, p)
    )
    n_peaks, n_genes = tiny_mdata.mod["atac"].n_vars, tiny_mdata.mod["rna"].n_vars
    monkeypatch.setattr(metrics_module, "SCORED_MAX_PEAKS", n_peaks // 2)
    monkeypatch.setattr(metrics_module, "SCORED_MAX_GENES", n_genes // 2)
    sampled, _ = score_predictor(model, tiny_mdata, split, labels, config)
    assert densified == [n_peaks // 2] * 2  # validation and test: the sample's columns only
    assert sampled["peaks"]["n_peaks_scored"] <= n_peaks // 2 < exact["peaks"]["n_peaks_scored"]
    assert sampled["genes"]["n_genes_scored"] <= n_genes // 2 < exact["genes"]["n_genes_scored"]
    # the same peaks as score_peaks would sample from the full matrices
    keep = metrics_module.column_sample(n_peaks, n_peaks // 2)
    val_obs = peaks_open(tiny_mdata, split["val"])
    test_obs = peaks_open(tiny_mdata, split["test"])

    direct, _ = score_peaks(
        val_obs,
        model.predict_peaks(tiny_mdata, split["val"]),
        test_obs,
        model.predict_peaks(tiny_mdata, split["test"]),
        model.peak_scale,
        config,
    )
    assert keep is not None
    assert pd.Series(direct).equals(pd.Series(sampled["peaks"]))  # NaN ece on both sides


def test_latent_metrics_are_fitted_on_a_sample_of_training_cells_above_the_cap(
    tiny_mdata, monkeypatch
):
    from genepeak.evaluate import _data, evaluation
    from genepeak.evaluate.evaluation import score_predictor

    model = FakeModel(tiny_mdata)
    split = {k: np.asarray(v) for k, v in model.split.items()}
    labels = {k: _data.labels_of(tiny_mdata, split[k], "leiden") for k in ("train", "test")}
    asked = []
    latent = model.latent
    monkeypatch.setattr(
        model, "latent", lambda m, cells, key: asked.append(list(cells)) or latent(m, cells, key)
    )
    config = EvaluateConfig(compute_umap=False)
    score_predictor(model, tiny_mdata, split, labels, config)
    assert asked[0] == list(split["train"])  # below the cap: every training cell
    asked.clear()
    cap = len(split["train"]) // 3
    monkeypatch.setattr(evaluation, "LATENT_FIT_MAX_CELLS", cap)
    out, _ = score_predictor(model, tiny_mdata, split, labels, config)
    fitted, scored = asked[0], asked[1]
    assert len(fitted) == cap and set(fitted) <= set(split["train"])
    assert scored == list(split["test"])  # the test cells are all scored
    assert 0.0 <= out["latent"][model.latent_keys[0]]["accuracy"] <= 1.0
