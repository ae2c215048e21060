"""Evaluation figures: what each panel shows, and PNG output."""

from __future__ import annotations

import numpy as np
import pytest

from expected_names import GENE_BASELINES, TRANSLATION_BASELINES
from genepeak.report import figures


def test_latent_grid_has_a_panel_per_latent_and_a_colour_per_label(baseline_evaluation):
    ev = baseline_evaluation
    fig = figures.plot_latent_grid(ev.latents_2d, ev.test_labels, ev.embedding_method)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["pca: rna", "pca: atac"]
    first = fig.axes[0]
    # one scatter per label, holding every test cell once
    assert len(first.collections) == len(np.unique(ev.test_labels))
    assert sum(len(c.get_offsets()) for c in first.collections) == len(ev.test_labels)
    assert len(fig.legends[0].get_texts()) == len(np.unique(ev.test_labels))
    with pytest.raises(ValueError, match="no latents"):
        figures.plot_latent_grid({}, ev.test_labels)


def test_label_colours_are_distinct_for_many_labels():
    labels = np.array([f"type{i}" for i in range(21)])
    colours = figures.label_colours(labels)
    assert len(set(colours.values())) == 21
    assert list(figures.label_colours(np.array(["10", "2", "1"]))) == ["1", "2", "10"]


def test_threshold_curves_mark_the_validation_threshold(baseline_evaluation):
    curves = baseline_evaluation.threshold_curves
    fig = figures.plot_threshold_curves(curves)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split(" ")[0] for ax in axes] == list(curves)
    for ax, name in zip(axes, curves):
        vertical = [line for line in ax.lines if line.get_linestyle() == ":"]
        assert vertical[0].get_xdata()[0] == pytest.approx(curves[name]["threshold"])
        assert len(ax.lines) == 5  # precision, recall, F1 (test), F1 (validation), marker


def test_pearson_and_reliability_and_training_figures(baseline_evaluation, history_model, tmp_path):
    ev = baseline_evaluation
    fig = figures.plot_pearson_distributions(ev.pearson)
    labels = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    translators = list(TRANSLATION_BASELINES)
    assert labels == list(GENE_BASELINES)
    fig_rel = figures.plot_reliability(ev.threshold_curves)
    names = [t.get_text() for t in fig_rel.axes[0].get_legend().get_texts()]
    assert names == ["perfect calibration", *translators]
    fig_train = figures.plot_training_curves({"gpg": history_model.history})
    top, bottom = fig_train.axes[0], fig_train.axes[1]
    assert [line.get_label() for line in top.lines] == ["training", "validation"]
    terms = [line.get_label() for line in bottom.lines if not line.get_label().startswith("_")]
    assert terms == ["rec_peaks", "rec_genes", "kl_z1"]
    np.testing.assert_allclose(top.lines[1].get_ydata(), history_model.history["val_loss"])
    path = figures.save_figure(fig_train, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="history"):
        figures.plot_training_curves({"gpg": history_model.history.iloc[:0]})
