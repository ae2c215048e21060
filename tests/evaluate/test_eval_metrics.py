"""Every metric against a value computed by hand on a tiny example."""

from __future__ import annotations

import numpy as np
import pytest

from genepeak.evaluate import metrics
from genepeak.evaluate.latent import leiden_clusters, score_latent
from genepeak.evaluate.translation import peak_thresholds, score_genes, score_peaks


def test_accuracy_report_hand_computed():
    # class a: P 2/2, R 2/3, F1 0.8; class b: P 1/2, R 1/1, F1 2/3; supports 3 and 1
    report = metrics.accuracy_report(["a", "a", "a", "b"], ["a", "a", "b", "b"])
    assert report["precision_weighted"] == pytest.approx((3 * 1 + 0.5) / 4)
    assert report["recall_weighted"] == pytest.approx((3 * 2 / 3 + 1) / 4)
    assert report["f1_weighted"] == pytest.approx((3 * 0.8 + 2 / 3) / 4)
    assert report["precision_macro"] == pytest.approx(0.75)
    assert report["recall_macro"] == pytest.approx((2 / 3 + 1) / 2)
    assert report["f1_macro"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert report["accuracy"] == pytest.approx(0.75)
    # pair counts: sum C(n_ij, 2) = 1, rows 3, columns 2, C(4, 2) = 6 -> expected 1 -> ARI 0
    assert report["ari"] == pytest.approx(0.0)


def test_relabelled_partition_has_ari_and_ami_one():
    agreement = metrics.cluster_agreement(["a", "a", "b", "b", "c"], [7, 7, 3, 3, 5])
    assert agreement == pytest.approx({"ari": 1.0, "ami": 1.0})


def test_silhouette_hand_computed():
    latent = np.array([[0.0], [1.0], [4.0], [5.0]])
    # s(0) = (4.5 - 1) / 4.5, s(1) = (3.5 - 1) / 3.5, symmetric for the other label
    expected = (3.5 / 4.5 + 2.5 / 3.5) / 2
    assert metrics.silhouette(latent, ["A", "A", "B", "B"]) == pytest.approx(expected)
    assert np.isnan(metrics.silhouette(latent, ["A"] * 4))


def test_classifier_fits_on_train_and_predicts_test():
    train = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    predicted = metrics.classify_latent(train, ["a", "a", "b", "b"], np.array([[-1.5], [1.5]]))
    assert list(predicted) == ["a", "b"]


def test_kmeans_and_leiden_recover_two_separate_groups():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [20.0, 20.0]])
    labels = np.repeat(["x", "y"], 12)
    latent = centres[np.repeat([0, 1], 12)] + rng.normal(0, 0.5, (24, 2))
    km = metrics.kmeans_agreement(latent[::2], latent[1::2], labels[1::2], n_clusters=2)
    assert km == pytest.approx({"ari": 1.0, "ami": 1.0})
    clusters = leiden_clusters(latent, n_neighbors=5, resolution=0.1)
    assert metrics.cluster_agreement(labels, clusters)["ari"] == pytest.approx(1.0)


def test_score_latent_has_every_metric():
    rng = np.random.default_rng(1)
    labels = np.repeat(["x", "y", "z"], 20)
    latent = np.eye(3)[np.repeat([0, 1, 2], 20)] * 10 + rng.normal(0, 0.3, (60, 3))
    out = score_latent(latent[::2], labels[::2], latent[1::2], labels[1::2])
    for key in (
        "precision_weighted",
        "recall_weighted",
        "f1_weighted",
        "f1_macro",
        "ari",
        "ami",
        "kmeans_ari",
        "kmeans_ami",
        "leiden_ari",
        "leiden_ami",
        "silhouette",
    ):
        assert key in out
    assert out["f1_weighted"] == pytest.approx(1.0)
    assert out["kmeans_ari"] == pytest.approx(1.0)
    assert out["silhouette"] > 0.8


def test_threshold_grids():
    grid = metrics.threshold_grid(0.0, 3.0, 0.3)
    assert len(grid) == 11 and grid[0] == 0.0 and grid[-1] == pytest.approx(3.0)
    assert peak_thresholds("probability")[[0, -1]] == pytest.approx([0.05, 0.95])
    assert len(peak_thresholds("probability")) == 19
    with pytest.raises(ValueError, match="log1p"):
        peak_thresholds("logits")


def test_threshold_sweep_hand_computed():
    observed = np.array([[1, 0], [2, 1]])  # counts: > 0 is open
    scores = np.array([[0.5, 0.2], [0.1, 0.9]])
    sweep = metrics.threshold_sweep(observed > 0, scores, np.array([0.0, 0.3]))
    # t=0: all open -> tp 3, fp 1; t=0.3: open 0.5 and 0.9 -> tp 2, fp 0, fn 1
    assert sweep["precision"] == pytest.approx([0.75, 1.0])
    assert sweep["recall"] == pytest.approx([1.0, 2 / 3])
    assert sweep["f1"] == pytest.approx([6 / 7, 0.8])
    assert metrics.choose_threshold(sweep) == 0.0


def test_auroc_and_average_precision_hand_computed_with_ties():
    y = np.array([[1], [0], [1], [0]], dtype=bool)
    assert metrics.auroc_columns(y, np.array([[0.9], [0.8], [0.4], [0.1]]))[0] == 0.75
    # a tie between a positive and a negative counts one half: (0.5 + 1 + 1 + 1) / 4
    assert metrics.auroc_columns(y, np.array([[0.5], [0.5], [0.9], [0.1]]))[0] == 0.875
    assert metrics.average_precision_columns(y, np.array([[0.9], [0.8], [0.4], [0.1]]))[
        0
    ] == pytest.approx((1 + 2 / 3) / 2)
    # one tie group (0.5, 0.5, 0.5) holding a positive: it takes the group's precision 2/4
    y2 = np.array([[1], [1], [0], [0]], dtype=bool)
    ap = metrics.average_precision_columns(y2, np.array([[0.9], [0.5], [0.5], [0.5]]))[0]
    assert ap == pytest.approx(0.5 * 1 + 0.5 * 0.5)
    assert np.isnan(metrics.auroc_columns(np.ones((3, 1), bool), np.ones((3, 1)))[0])


def test_column_scores_match_scikit_learn_on_random_ties():
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.random((40, 6)) < 0.3
    s = np.round(rng.random((40, 6)), 1)  # many ties
    for j in range(6):
        assert metrics.auroc_columns(y, s)[j] == pytest.approx(roc_auc_score(y[:, j], s[:, j]))
        assert metrics.average_precision_columns(y, s)[j] == pytest.approx(
            average_precision_score(y[:, j], s[:, j])
        )


def test_ranking_scores_hand_computed():
    observed = np.array([[1, 0], [0, 0], [1, 1]], dtype=bool)
    scores = np.array([[0.8, 0.65], [0.4, 0.2], [0.6, 0.5]])
    out = metrics.ranking_scores(observed, scores)
    # positives 0.8, 0.6, 0.5 vs negatives 0.65, 0.4, 0.2: 3 + 2 + 2 of 9 pairs
    assert out["auroc"] == pytest.approx(7 / 9)
    assert out["auprc"] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    assert out["prevalence"] == pytest.approx(0.5)
    # peak 0 is ranked perfectly; peak 1: its positive 0.5 sits below the negative 0.65
    assert out["auroc_per_peak"] == pytest.approx((1 + 0.5) / 2)
    assert out["auprc_per_peak"] == pytest.approx((1 + 0.5) / 2)
    assert out["prevalence_per_peak"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    # only cell 0 has both classes
    assert out["auroc_per_cell"] == 1.0 and out["n_cells_scored"] == 1


def test_reliability_curve_and_ece_hand_computed():
    curve = metrics.reliability_curve([0, 1, 1, 0], [0.1, 0.15, 0.8, 0.9], n_bins=2)
    assert curve["mean_predicted"] == pytest.approx([0.125, 0.85])
    assert curve["observed_fraction"] == pytest.approx([0.5, 0.5])
    assert curve["count"] == pytest.approx([2, 2])
    assert metrics.expected_calibration_error(curve) == pytest.approx((0.75 + 0.7) / 4)


def test_gene_correlations_and_rmse_hand_computed():
    observed = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 7.0]])
    predicted = np.array([[1.0, 2.0, 4.0], [1.0, 3.0, 5.0]])
    cell_r = metrics.per_cell_pearson(observed, predicted)
    assert cell_r[0] == pytest.approx(3 / (np.sqrt(2) * np.sqrt(42 / 9)))
    assert cell_r[1] == pytest.approx(10 / (np.sqrt(114 / 9) * np.sqrt(8)))
    # gene 0's prediction is constant: no signal, scored 0; genes 1 and 2 rise with the truth
    assert metrics.per_gene_pearson(observed, predicted) == pytest.approx([0.0, 1.0, 1.0])
    assert metrics.rmse(observed, predicted) == pytest.approx(np.sqrt(7 / 6))
    rho = metrics.per_gene_spearman(
        np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([[10.0], [30.0], [20.0], [40.0]])
    )
    assert rho[0] == pytest.approx(1 - 6 * 2 / (4 * 15))  # 0.8
    constant_truth = metrics.per_gene_pearson(np.ones((3, 1)), np.array([[1.0], [2.0], [3.0]]))
    assert np.isnan(constant_truth[0])


def test_score_peaks_chooses_threshold_on_validation_only():
    val_obs = np.array([[1, 0], [1, 1]])
    val_scores = np.array([[0.9, 0.1], [0.9, 0.9]])  # best val F1 (1.0) at any t in [0.1, 0.9)
    test_obs = np.array([[1, 0], [0, 1]])
    test_scores = np.array([[0.3, 0.2], [0.1, 0.95]])
    out, curves = score_peaks(val_obs, val_scores, test_obs, test_scores, "probability")
    assert out["threshold"] == pytest.approx(0.1)  # lowest threshold with val F1 = 1
    # test at 0.1: predicted open 0.3, 0.2, 0.95 -> tp 2, fp 1, fn 0
    assert out["precision"] == pytest.approx(2 / 3) and out["recall"] == 1.0
    assert out["f1"] == pytest.approx(0.8)
    assert curves["sweep_test"]["f1"].max() == pytest.approx(1.0)  # the test optimum differs
    assert "reliability" in curves and np.isfinite(out["ece"])
    log_out, log_curves = score_peaks(val_obs, val_scores * 3, test_obs, test_scores, "log1p")
    assert np.isnan(log_out["ece"]) and "reliability" not in log_curves
    assert log_curves["sweep_val"]["threshold"][-1] == pytest.approx(3.0)


def test_score_genes_summaries():
    observed = np.array([[1.0, 0.0, 2.0], [2.0, 1.0, 0.0], [3.0, 1.0, 1.0]])
    out, arrays = score_genes(observed, observed)
    assert out["pearson_per_gene"] == pytest.approx(1.0)
    assert out["pearson_per_cell"] == pytest.approx(1.0)
    assert out["rmse"] == 0.0 and out["n_genes_scored"] == 3
    assert arrays["per_cell"].shape == (3,) and arrays["per_gene"].shape == (3,)


def test_column_scores_in_blocks_equal_one_block(monkeypatch):
    rng = np.random.default_rng(4)
    y = rng.random((12, 210)) < 0.4
    s = np.round(rng.random((12, 210)) * 5) / 5  # many ties
    whole_auc, whole_ap = metrics.column_ranking(y, s)
    monkeypatch.setattr(metrics, "RANKING_BLOCK", 50)  # 4 columns per block, 53 blocks
    auc, ap = metrics.column_ranking(y, s)
    np.testing.assert_allclose(auc, whole_auc, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ap, whole_ap, rtol=0, atol=1e-12)


def test_correlations_and_rmse_in_blocks_equal_one_block(monkeypatch):
    rng = np.random.default_rng(5)
    observed = np.round(rng.random((12, 210)) * 4)  # ties, and a constant column below
    observed[:, 7] = 1.0
    predicted = rng.random((12, 210)).astype(np.float32)
    scores = (metrics.per_gene_spearman, metrics.per_gene_pearson, metrics.per_cell_pearson)
    whole = [score(observed, predicted) for score in scores]
    whole_rmse = metrics.rmse(observed, predicted)
    monkeypatch.setattr(metrics, "RANKING_BLOCK", 50)  # 4 genes (or cells) per block
    for score, expected in zip(scores, whole, strict=True):
        np.testing.assert_allclose(score(observed, predicted), expected, rtol=0, atol=1e-12)
    assert metrics.rmse(observed, predicted) == pytest.approx(whole_rmse, rel=1e-12)
    spearman = metrics.per_gene_spearman(observed, predicted)
    assert np.isnan(spearman[7]) and np.isfinite(np.delete(spearman, 7)).all()


@pytest.mark.slow
def test_umap_embedding_keeps_separate_groups_apart():
    from genepeak.evaluate.latent import embed_2d

    rng = np.random.default_rng(5)
    latent = np.repeat(np.eye(2) * 30, 30, axis=0) + rng.normal(0, 1, (60, 2))
    xy, method = embed_2d(latent, use_umap=True, seed=0)
    assert method == "UMAP" and xy.shape == (60, 2)
    labels = np.repeat([0, 1], 30)
    assert metrics.silhouette(xy, labels) > 0.5
    pcs, method = embed_2d(latent, use_umap=False)
    assert method == "PC" and metrics.silhouette(pcs, labels) > 0.5


def test_pooled_scores_are_estimated_on_a_sample_above_the_size_cap(monkeypatch):
    from sklearn.metrics import roc_auc_score

    from genepeak.evaluate import metrics as metrics_module

    rng = np.random.default_rng(1)
    observed = rng.random((400, 300)) < 0.2
    scores = (observed * 0.5 + rng.random(observed.shape)).astype(np.float32)
    exact = metrics_module.ranking_scores(observed, scores)
    assert exact["auroc"] == pytest.approx(roc_auc_score(observed.ravel(), scores.ravel()))
    monkeypatch.setattr(metrics_module, "POOLED_MAX_ENTRIES", 20_000)
    estimate = metrics_module.ranking_scores(observed, scores)
    assert estimate["auroc"] != exact["auroc"]  # really sampled
    assert estimate["auroc"] == pytest.approx(exact["auroc"], abs=0.01)
    assert estimate["auroc_per_peak"] == exact["auroc_per_peak"]  # per-peak stays exact


def test_binary_scores_and_sweep_equal_scikit_learn():
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(3)
    observed = rng.random((40, 30)) < 0.2
    scores = rng.random((40, 30))
    thresholds = np.array([0.0, 0.5, 0.9, 1.0])
    sweep = metrics.threshold_sweep(observed, scores, thresholds)
    for i, t in enumerate(thresholds):
        expected = precision_recall_fscore_support(
            observed.ravel(), (scores > t).ravel(), average="binary", zero_division=0
        )[:3]
        got = (sweep["precision"][i], sweep["recall"][i], sweep["f1"][i])
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert sweep["f1"][-1] == 0.0  # nothing predicted above 1: F1 0 (scikit-learn's zero_division)


def test_peak_scores_are_estimated_on_one_peak_sample_above_the_cap(monkeypatch):
    from genepeak.evaluate import metrics as metrics_module
    from genepeak.evaluate.translation import score_peaks

    rng = np.random.default_rng(2)
    observed = rng.random((300, 400)) < 0.2
    scores = (observed * rng.random(400) + rng.random(observed.shape)).astype(np.float32)
    val_observed = rng.random((100, 400)) < 0.2
    val_scores = (val_observed * rng.random(400) + rng.random(val_observed.shape)).astype(
        np.float32
    )
    args = (val_observed, val_scores, observed, scores, "probability")
    exact, _ = score_peaks(*args)
    monkeypatch.setattr(metrics_module, "SCORED_MAX_PEAKS", 200)
    estimate, curves = score_peaks(*args)
    assert estimate["n_peaks_scored"] == 200 < exact["n_peaks_scored"]  # really sampled
    assert estimate["auroc"] != exact["auroc"]  # pooled reads the same sample
    for key in ("auroc", "auroc_per_peak", "auroc_per_cell", "f1", "precision"):
        assert estimate[key] == pytest.approx(exact[key], abs=0.02), key
    again, _ = score_peaks(*args)
    assert again == estimate  # one seeded sample: the same peaks every time
    assert metrics_module.column_sample(200, 200) is None  # at the cap every peak is scored


def test_gene_scores_are_estimated_on_one_gene_sample_above_the_cap(monkeypatch):
    from genepeak.evaluate import metrics as metrics_module
    from genepeak.evaluate.translation import score_genes

    rng = np.random.default_rng(4)
    observed = rng.gamma(1.0, 1.0, (200, 600)) * (rng.random((200, 600)) < 0.4)
    predicted = observed + rng.normal(0, 1.0, observed.shape)
    exact, _ = score_genes(observed, predicted)
    monkeypatch.setattr(metrics_module, "SCORED_MAX_GENES", 300)
    estimate, arrays = score_genes(observed, predicted)
    assert estimate["n_genes_scored"] == 300 < exact["n_genes_scored"]  # really sampled
    assert len(arrays["per_gene"]) == 300
    for key in ("pearson_per_gene", "spearman_per_gene", "pearson_per_cell", "rmse"):
        assert estimate[key] != exact[key]
        assert estimate[key] == pytest.approx(exact[key], rel=0.05), key
