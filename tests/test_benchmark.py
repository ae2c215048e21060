"""``genepeak benchmark-links``: end to end on the tiny simulation, on user data, model branch."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from genepeak import benchmark
from genepeak.benchmark import MODEL_COLUMNS
from genepeak.cli import main
from genepeak.errors import ConfigError
from genepeak.links.baselines import BASELINE_METHODS
from genepeak.report.links import link_benchmark_html

sys.path.insert(0, str(Path(__file__).parent / "links"))
from link_fakes import COPY, FAR_COPY, TYPE_ONLY, make_link_mdata  # noqa: E402

DATA_METHODS = [
    *BASELINE_METHODS,
    benchmark.GENOME_LINKS,
    benchmark.GENOME_NO_PRIOR,
]  # data-only, in order
MODEL_METHODS = [*MODEL_COLUMNS, benchmark.WITHOUT_MODEL]  # and the link score's ablation


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    (out / "metrics.json").write_text(json.dumps({"gpg": {"kept": 1}}))
    code = main(["benchmark-links", "--shape", "tiny", "--seeds", "0", "--out", str(out)])
    assert code == 0
    return out


def test_tiny_benchmark_writes_a_table_that_beats_random(tiny_run, capsys):
    table = pd.read_csv(tiny_run / "link_benchmark.tsv", sep="\t")
    # the data-only baselines, then the model's methods (genepeak.explain.link_scores)
    assert list(table["method"]) == DATA_METHODS + MODEL_METHODS
    rows = table.set_index("method")
    assert (rows["shape"] == "tiny").all() and (rows["seed"] == 0).all()
    prevalence = rows.loc["random", "random_pooled"]
    assert 0 < prevalence < 0.01
    assert rows.loc["random", "pooled_auprc"] < 5 * prevalence
    for method in ("distance", "linkpeaks", "partial_correlation_cis"):
        assert rows.loc[method, "pooled_auprc"] > 50 * prevalence, method
    assert rows["fraction_won"].sum() == pytest.approx(1.0)
    assert rows.loc["linkpeaks", "driver_calls"] >= rows.loc["linkpeaks", "driver_true_calls"] > 0
    assert np.isnan(rows.loc["distance", "driver_calls"])  # distance calls nothing
    # the calls' false-discovery proportion counts the drivers' unplanted calls and every
    # sham-gene call as false
    calls = rows["driver_calls"] + rows["sham_calls"]
    false = calls - rows["driver_true_calls"]
    expected = (false / calls).where(calls > 0)
    assert np.allclose(rows["false_discovery_proportion"], expected, equal_nan=True)
    assert rows["false_discovery_proportion"].notna().sum() >= 3
    assert np.isnan(rows.loc["distance", "false_discovery_proportion"])
    per_driver = pd.read_csv(tiny_run / "link_benchmark_per_driver.tsv", sep="\t")
    methods = len(DATA_METHODS) + len(MODEL_METHODS)
    assert len(per_driver) == methods * rows.loc["random", "n_drivers"]


def test_tiny_benchmark_merges_its_section_into_metrics_json(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["gpg"] == {"kept": 1}
    section = metrics["link_benchmark"]
    assert [r["method"] for r in section["over_seeds"]] == DATA_METHODS + MODEL_METHODS
    assert len(section["table"]) == len(DATA_METHODS) + len(MODEL_METHODS)
    html = link_benchmark_html(pd.DataFrame(section["table"]))
    assert html.count("<tr") == len(DATA_METHODS) + len(MODEL_METHODS) + 1
    assert "pooled AUPRC" in html
    # simulated data removed unless --keep-data
    assert sorted(p.name for p in tiny_run.iterdir()) == [
        "link_benchmark.tsv",
        "link_benchmark_per_driver.tsv",
        "metrics.json",
    ]


@pytest.fixture
def user_data(tmp_path):
    mdata = make_link_mdata()
    path = tmp_path / "prepared.h5mu"
    mdata.write(path)
    truth = pd.DataFrame(
        {"gene": ["GA", "GA", "GA"], "peak": [COPY, FAR_COPY, TYPE_ONLY], "effect": [1.5, 2.0, 0]}
    )
    truth.to_csv(tmp_path / "links.tsv", sep="\t", index=False)
    pd.DataFrame({"gene": ["GB"]}).to_csv(tmp_path / "sham.tsv", sep="\t", index=False)
    return path, tmp_path / "links.tsv", tmp_path / "sham.tsv"


def test_benchmark_runs_on_user_data_with_a_truth_table(user_data, tmp_path):
    path, truth, sham = user_data
    result = benchmark.benchmark_links(
        tmp_path / "out", input=path, truth=truth, sham_genes=sham, model_methods=False
    )
    rows = result.table.set_index("method")
    assert (rows["data"] == str(path)).all() and (rows["preset"] == "reference").all()
    # the within-type copies rank first, over all peaks and in the partial correlations' 1 Mb
    # window, given the types or the RNA PCs, and genepeak links with and without its distance
    # prior (a tie: each wins a fifth); LinkPeaks' 500 kb window cannot see the far one
    tied = ("partial_correlation", "partial_correlation_cis", "partial_correlation_state")
    for method in (*tied, benchmark.GENOME_LINKS, benchmark.GENOME_NO_PRIOR):
        assert rows.loc[method, "pooled_auprc"] == 1.0
        assert rows.loc[method, "fraction_won"] == pytest.approx(1 / 5)
    assert rows.loc["linkpeaks", "pooled_auprc"] < 1.0
    assert rows.loc["partial_correlation", "n_sham"] == 1
    assert rows.loc["partial_correlation", "sham_calls"] >= 0
    assert np.isnan(rows.loc["distance", "sham_calls"])
    assert "GA" in set(result.per_driver["gene"]) and "GB" not in set(result.per_driver["gene"])


def test_model_methods_come_from_explain_link_scores(user_data, tmp_path, monkeypatch):
    import genepeak.explain as explain

    path, truth, _ = user_data
    calls = {}

    def fake_link_scores(model, mdata, genes, *, labels_key, config=None):
        calls["genes"], calls["labels_key"] = list(genes), labels_key
        peaks = list(mdata.mod["atac"].var_names[:3])  # COPY, TYPE_ONLY, FAR_COPY
        return pd.DataFrame(
            {
                "gene": ["GA"] * 3,
                "peak": peaks,
                "flip_frequency": [0.5, 0.1, 0.0],
                "perturbation_effect": [0.1, 0.2, 0.3],
                "link_score": [3.0, 1.0, 2.0],
                "p_value": [0.001, 0.5, 0.01],
                "fdr": [0.003, 0.5, 0.02],
            }
        )

    monkeypatch.setattr(explain, "link_scores", fake_link_scores, raising=False)
    trained = SimpleNamespace(cis_window=1_000_000)
    monkeypatch.setattr(benchmark, "train_gpg", lambda mdata, **kw: trained)
    result = benchmark.benchmark_links(tmp_path / "out", input=path, truth=truth)
    rows = result.table.set_index("method")
    assert list(rows.index) == DATA_METHODS + [
        "flip_frequency",
        "perturbation_effect",
        "link_score",
        benchmark.WITHOUT_MODEL,
    ]
    assert calls == {"genes": ["GA"], "labels_key": "leiden"}
    # link_score ranks COPY (3.0) and FAR_COPY (2.0) first: both planted
    assert rows.loc["link_score", "pooled_auprc"] == 1.0
    assert (
        rows.loc["link_score", "driver_calls"] == 2
        and rows.loc["link_score", "driver_true_calls"] == 2
    )
    # perturbation_effect ranks FAR_COPY (+), TYPE_ONLY (-), COPY (+): (1/1 + 2/3) / 2
    assert rows.loc["perturbation_effect", "pooled_auprc"] == pytest.approx(5 / 6)
    assert not result.notes or "skipped" not in " ".join(result.notes)


def test_benchmark_refuses_inconsistent_options(tmp_path, user_data):
    path, truth, _ = user_data
    with pytest.raises(ConfigError, match="--input and --truth together"):
        benchmark.benchmark_links(tmp_path, input=path)
    with pytest.raises(ConfigError, match="preset 'huge'"):
        benchmark.benchmark_links(tmp_path, input=path, truth=truth, preset="huge")
    out = tmp_path / "refused"
    missing = str(tmp_path / "nope.h5mu")
    assert (
        main(["benchmark-links", "--input", missing, "--truth", str(truth), "--out", str(out)]) == 2
    )
    assert not out.exists()  # nothing half-written
