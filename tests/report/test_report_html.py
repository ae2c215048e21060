"""The HTML report: one self-contained file with the side-by-side table and every section."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pandas as pd

from genepeak.report.html import Section, metrics_table, write_report, write_run_report


def _png(path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.bar([0, 1], [0.8, 0.4])
    fig.savefig(path)
    plt.close(fig)
    return path


def _fake_explain(tmp_path):
    """Duck-typed ExplainResult: ``name``, ``summary()`` and ``files['top_peaks_plot']``."""
    plot = _png(tmp_path / "top_peaks.png")
    summary = {
        "experiment": "NKG7 in NK",
        "change": "NKG7 3.67 (18) -> 2.89 (8)",
        "n_significant": 4,
        "top_peak": "chr1:100-600",
    }
    return SimpleNamespace(
        name="NKG7 in NK", summary=lambda: summary, files={"top_peaks_plot": plot}
    )


def test_run_report_is_self_contained_and_has_every_section(
    baseline_evaluation, history_model, tmp_path
):
    qc = _png(tmp_path / "qc.png")
    path = write_run_report(
        tmp_path / "run" / "report.html",
        data_summary={"source": "tiny fixture", "cells": 240},
        qc_figures={"qc_violins": qc},
        evaluation=baseline_evaluation,
        models={"gpg": history_model},
        explain=[_fake_explain(tmp_path)],
        params={"seed": 0, "evaluate": {"knn_k": 5}},
        versions={"genepeak": "0.1.0", "torch": "2.x"},
        timings={"evaluate": 1.5},
    )
    text = path.read_text()
    # self-contained: no external source, stylesheet or script
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<link" not in text and "<script" not in text
    images = re.findall(r'src="data:image/png;base64,', text)
    # qc + training + latent grid + threshold curves + reliability + pearson + explain plot
    assert len(images) == 7
    for title in (
        "Data",
        "Training",
        "Models and baselines on held-out cells",
        "Latent spaces",
        "Peak prediction",
        "Gene prediction",
        "Perturbation (explain)",
        "Parameters and versions",
    ):
        assert f">{title}</h2>" in text, title
    for name in ("mean", "knn", "ridge", "pca"):
        assert f"<td>{name}</td>" in text
    assert "NKG7 3.67 (18) -&gt; 2.89 (8)" in text
    assert "ceiling" in text and "higher is better" in text
    assert "&quot;knn_k&quot;: 5" in text  # parameters, escaped JSON
    assert not list(path.parent.glob(".*tmp"))


def test_best_value_per_column_is_bold_in_the_direction_of_the_metric():
    table = pd.DataFrame(
        {"auroc": [0.7, 0.9, 0.8], "rmse": [1.0, 0.5, 0.2], "prevalence": [0.3, 0.3, 0.3]},
        index=["gpg", "pgp", "knn"],
    )
    html_text = metrics_table(
        table,
        {"auroc": "higher", "rmse": "lower", "prevalence": None},
        excluded={"auroc": {"pgp"}, "rmse": {"pgp"}},
    )
    rows = dict(re.findall(r"<td>(\w+)</td>(.*?)</tr>", html_text))
    # pgp is a reconstruction: shown with a dagger, not ranked; so knn's 0.8 is the best AUROC
    assert '<td class="recon">0.900†</td>' in rows["pgp"]
    assert '<td class="best">0.800</td>' in rows["knn"]
    assert '<td class="best">0.200</td>' in rows["knn"]  # lower RMSE is better
    assert "best" not in rows["gpg"]
    assert html_text.count('class="best"') == 2  # prevalence has no direction


def test_write_report_escapes_text(tmp_path):
    path = write_report(tmp_path / "r.html", [Section("<b>x</b>", "<p>ok</p>")], title="T & U")
    text = path.read_text()
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "<title>T &amp; U</title>" in text
    assert "<p>ok</p>" in text


def test_metrics_table_handles_strings_and_missing_values():
    table = pd.DataFrame(
        {"task": ["translation", None], "f1": [0.5, float("nan")]}, index=["a", "b"]
    )
    text = metrics_table(table, {"f1": "higher"})
    assert "<td>translation</td>" in text and "<td>–</td>" in text
    assert '<td class="best">0.500</td>' in text


def test_the_report_says_plainly_whether_a_model_beats_the_baselines():
    from genepeak.evaluate.result import against_baselines
    from genepeak.report.html import _against_baselines

    table = pd.DataFrame(
        {
            "kind": ["model", "model", "baseline"],
            "peak_task": ["translation", "translation", "translation"],
            "gene_task": ["reconstruction", "translation", "translation"],
            "peak_auroc_per_peak": [0.57, 0.56, 0.58],
            "gene_pearson_per_gene": [0.5, 0.13, 0.12],
        },
        index=["gpg", "dual", "reduced_rank_ridge"],
    )
    rows = against_baselines(table).to_dict("records")
    (peaks, peaks_lost), (genes, genes_lost) = _against_baselines(rows)
    assert peaks_lost and "no model beats the baselines" in peaks
    assert "reduced_rank_ridge (0.5800)" in peaks and "gpg (0.5700)" in peaks
    assert not genes_lost and "dual (0.1300), beats every baseline" in genes
    # the results section writes what evaluate stored in metrics['_run'], as warnings on a loss
    from genepeak.report.html import _results_body

    evaluation = SimpleNamespace(
        metrics={"_run": {"against_baselines": rows}}, table=table, skipped={}
    )
    body = _results_body(evaluation, table["kind"].to_dict())
    assert body.count("no model beats the baselines") == 1
    assert body.count("beats every baseline") == 1
    assert "learned almost nothing" not in body  # no 'mean' row: no floor to judge from


def test_the_report_warns_when_a_model_learned_almost_nothing():
    from genepeak.evaluate.result import against_baselines
    from genepeak.report.html import _against_baselines

    table = pd.DataFrame(
        {
            "kind": ["model", "model", "baseline", "baseline"],
            "peak_task": ["translation"] * 4,
            "gene_task": ["translation"] * 4,
            "peak_auroc_per_peak": [0.57, 0.519, 0.58, 0.50],
            "gene_pearson_per_gene": [0.09, 0.005, 0.10, 0.0],
        },
        index=["gpg", "dual", "reduced_rank_ridge", "mean"],
    )
    rows = against_baselines(table).to_dict("records")
    warnings = [text for text, warn in _against_baselines(rows) if "almost nothing" in text]
    # dual reaches 5% of the ridge's Pearson gain (warned) and 24% of its AUROC gain (not)
    assert len(warnings) == 1 and warnings[0].startswith("dual learned almost nothing")
    assert "0.0050, against 0.0000 for the training mean" in warnings[0]
    assert "5% of that baseline's gain" in warnings[0]
