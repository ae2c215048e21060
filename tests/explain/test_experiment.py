"""End-to-end perturbation experiments on a fake model with a known gene -> peak map."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from explain_fakes import linear_model_for

from genepeak import outputs
from genepeak.config import ExplainConfig, PerturbationConfig
from genepeak.explain import explain, explain_gene
from genepeak.explain.perturb import choose_threshold

CONFIG = ExplainConfig(
    n_passes=50, n_null_genes=20, dose_steps=4, top_k=5, markers={"G3": ["GENE3"], "G2": ["GENE2"]}
)


def _peak(mdata, i):
    return mdata.mod["atac"].var_names[i]


def _silence_gene3(model, mdata, **options):
    """Silence GENE3 (the driver of peaks 6 and 7) in the representative G3 cell."""
    options = {"config": CONFIG, "threshold": 0.5, **options}
    return explain_gene(model, mdata, "GENE3", 0.0, cell_type="G3", **options)


def test_silencing_a_driver_gene_loses_its_peaks(tiny_mdata, linear_model, tmp_path):
    result = _silence_gene3(linear_model, tiny_mdata)
    assert result.files == {} and not list(tmp_path.iterdir())  # explain writes nothing
    outputs.write_result(result, tmp_path, CONFIG.top_k)
    top = result.table.head(2)
    assert set(top["peak"]) == {_peak(tiny_mdata, 6), _peak(tiny_mdata, 7)}
    assert (top["direction"] == "loss").all() and (top["flip_frequency"] == 1.0).all()
    assert (top["f_gain"] == 0).all()
    # the two driven peaks are the only ones at FDR < 0.05 and have the smallest p-values
    assert top["p_value"].max() <= result.table["p_value"].iloc[2:].min()
    assert (top["fdr"] < 0.05).all() and result.n_significant == 2
    assert result.noise_flip_rate < 0.05
    row6 = result.table.set_index("peak").loc[_peak(tiny_mdata, 6)]
    assert row6["nearest_gene"] == "GENE3" and row6["distance_to_tss"] == 250
    assert result.table.set_index("peak").loc[_peak(tiny_mdata, 7), "distance_to_tss"] == 5250
    # dose response: silence -> every pass a loss; twice the max -> stays open
    curve = result.dose_response[result.dose_response["peak"] == _peak(tiny_mdata, 6)]
    assert curve["signed_frequency"].iloc[0] == -1.0 and curve["signed_frequency"].iloc[-1] == 0.0
    assert len(curve) == 4
    for key in (
        "links",
        "bedpe",
        "signac",
        "top_peaks_plot",
        "dose_response",
        "dose_response_plot",
    ):
        assert result.files[key].stat().st_size > 0
    assert result.files["top_peaks_plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dose = pd.read_csv(result.files["dose_response"], sep="\t")
    assert len(dose) == 4 * CONFIG.top_k and dose["value"].min() == 0.0
    bedpe = result.files["bedpe"].read_text().splitlines()
    assert bedpe[1].split("\t")[:3] == ["chr1", "610000", "610001"]
    assert result.validation["tss"]["target_fraction"] == pytest.approx(
        float((result.table["distance_to_tss"].abs().head(5) <= 100_000).mean())
    )


def test_activation_gives_gains(tiny_mdata, linear_model):
    rna = tiny_mdata.mod["rna"]
    cell = rna.obs_names[np.argmin(rna[:, "GENE2"].X.toarray().ravel())]
    result = explain_gene(
        linear_model, tiny_mdata, "GENE2", 3.0, cell=cell, config=CONFIG, threshold=0.5
    )
    top = result.table.head(2)
    assert set(top["peak"]) == {_peak(tiny_mdata, 4), _peak(tiny_mdata, 5)}
    assert (top["direction"] == "gain").all() and (top["f_gain"] == 1.0).all()


def test_multi_gene_perturbation(tiny_mdata, linear_model):
    rna = tiny_mdata.mod["rna"]
    dense = rna[:, ["GENE3", "GENE4"]].X.toarray()
    cell = rna.obs_names[np.argmax(dense.min(1))]
    result = explain_gene(
        linear_model,
        tiny_mdata,
        ["GENE3", "GENE4"],
        [0.0, 0.0],
        cell=cell,
        config=CONFIG,
        threshold=0.5,
    )
    assert set(result.table.head(4)["peak"]) == {_peak(tiny_mdata, i) for i in (6, 7, 8, 9)}
    assert result.table["gene"].iloc[0] == "GENE3,GENE4"
    assert all(len(s) == 2 for s in result.null_genes)


def test_population_averages_over_cells(tiny_mdata, linear_model):
    result = explain_gene(
        linear_model,
        tiny_mdata,
        "GENE3",
        0.0,
        cell_type="1",
        population=True,
        labels_key="leiden",
        # flips on every cell of the population (by default a subsample of link_flip_cells)
        config=dataclasses.replace(CONFIG, link_flip_cells=10_000),
        threshold=0.5,
        dose_response=False,
    )
    labels = tiny_mdata.obs["leiden"]
    assert result.cells == list(labels.index[labels == "1"])
    x3 = tiny_mdata.mod["rna"][result.cells, "GENE3"].X.toarray().ravel()
    expected = np.mean(0.2 + 0.6 * x3 > 0.5)  # cells whose peak 6 starts open, then closes
    row = result.table.set_index("peak").loc[_peak(tiny_mdata, 6)]
    assert row["f_loss"] == pytest.approx(expected, abs=0.06)


def test_seeded_runs_are_identical(tiny_mdata):
    runs = [
        explain_gene(
            linear_model_for(tiny_mdata, seed=3),
            tiny_mdata,
            "GENE3",
            cell_type="G3",
            config=CONFIG,
            threshold=0.5,
        )
        for _ in range(2)
    ]
    pd.testing.assert_frame_equal(runs[0].table, runs[1].table)
    assert runs[0].null_genes == runs[1].null_genes


def test_planted_links_recovered_better_than_random(tiny_mdata, linear_model):
    truth = pd.DataFrame(
        {
            "gene": ["GENE3", "GENE3", "GENE4"],
            "peak": [_peak(tiny_mdata, 6), _peak(tiny_mdata, 7), _peak(tiny_mdata, 8)],
            "effect": [0.6, 0.6, 0.6],
        }
    )
    result = explain_gene(
        linear_model, tiny_mdata, "GENE3", cell_type="G3", config=CONFIG, threshold=0.5, truth=truth
    )
    planted = result.validation["planted"]
    assert planted["flips"]["auprc"] == 1.0 and planted["shift"]["auprc"] == 1.0
    assert planted["flips"]["precision_at_10"] == 0.2
    assert planted["flips"]["prevalence"] == pytest.approx(2 / 90)
    assert 0 < planted["correlation"]["auprc"] <= 1


def test_threshold_chosen_on_validation_cells(tiny_mdata, linear_model):
    t = choose_threshold(linear_model, tiny_mdata)
    assert t in {round(0.3 * i, 1) for i in range(11)}
    result = explain_gene(
        linear_model,
        tiny_mdata,
        "GENE3",
        cell_type="G3",
        config=ExplainConfig(n_passes=10, n_null_genes=2, markers=CONFIG.markers),
    )
    assert result.threshold == t


def test_explain_runs_config_and_skips_absent_genes(tiny_mdata, linear_model, tmp_path):
    config = ExplainConfig(
        n_passes=20,
        n_null_genes=4,
        dose_steps=3,
        threshold=0.5,
        markers=CONFIG.markers,
        experiments=[
            PerturbationConfig(genes=["GENE3"], cell_type="G3", name="g3_silence"),
            PerturbationConfig(genes=["NKG7"], values=[8], values_are_counts=True, cell_type="G3"),
            PerturbationConfig(genes=["GENE3"], cell_type="2", population=True, name="pop2"),
        ],
    )
    results = explain(linear_model, tiny_mdata, config, labels_key="leiden")
    outputs.write_explain(results, tmp_path, config.top_k)
    assert [r.name for r in results] == ["g3_silence", "pop2"]
    labels = tiny_mdata.obs["leiden"]
    assert results[1].cells == list(labels.index[labels == "2"])
    summary = pd.read_csv(tmp_path / "explain_summary.tsv", sep="\t")
    assert summary["status"].tolist()[:2] == ["done", "done"]
    assert "unknown gene 'NKG7'" in summary["status"].tolist()[2]
    assert (tmp_path / "g3_silence_links.tsv").is_file()


def test_default_design_experiments_skip_with_messages(tiny_mdata, linear_model, tmp_path):
    results = explain(linear_model, tiny_mdata, ExplainConfig(threshold=0.5))
    assert results == [] and len(results.skipped) == 5
    outputs.write_explain(results, tmp_path)
    summary = pd.read_csv(tmp_path / "explain_summary.tsv", sep="\t")
    assert len(summary) == 5 and summary["status"].str.startswith("skipped").all()


def test_cell_type_by_labels_picks_a_cell_of_that_label(tiny_mdata, linear_model):
    labels = tiny_mdata.obs["leiden"].astype(str)
    result = explain_gene(
        linear_model,
        tiny_mdata,
        "GENE3",
        0.0,
        cell_type="2",
        labels_key="leiden",
        config=CONFIG,
        threshold=0.5,
        dose_response=False,
    )
    chosen = result.cells[0]
    assert labels[chosen] == "2"
    # label "2" has no marker set: the cell nearest the label's mean profile is chosen
    members = labels.index[labels == "2"]
    x = tiny_mdata.mod["rna"][members].X.toarray()
    nearest = members[np.argmin(((x - x.mean(0)) ** 2).sum(1))]
    assert chosen == nearest


def test_shift_ranking_finds_links_that_never_flip(tiny_mdata, linear_model):
    # a threshold above every prediction: no peak flips, yet the shift beyond the null genes
    # ranks the driver's two peaks first and gives them the smallest p-value
    result = _silence_gene3(linear_model, tiny_mdata, threshold=50.0, dose_response=False)
    assert (result.table["flip_frequency"] == 0).all()
    top = result.table.head(2)
    assert set(top["peak"]) == {_peak(tiny_mdata, 6), _peak(tiny_mdata, 7)}
    assert top["p_value"].max() < result.table["p_value"].iloc[2:].min()
    assert (top["direction"] == "loss").all() and (top["shift"] < 0).all()
    assert (result.table["score"] == result.table["link_score"]).all()


def test_rank_by_flips_orders_by_change_frequency(tiny_mdata, linear_model):
    config = dataclasses.replace(CONFIG, rank_by="flips")
    result = _silence_gene3(linear_model, tiny_mdata, config=config, dose_response=False)
    table = result.table
    assert (table["score"] == table["flip_frequency"]).all()
    assert table["score"].is_monotonic_decreasing and table["score"].iloc[0] == 1.0
