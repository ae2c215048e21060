"""`genepeak run` end to end: the built-in data (tiny shape) and a real subset with real labels."""

from __future__ import annotations

import json
from pathlib import Path

import mudata
import pandas as pd
import pytest

from genepeak.config import ExplainConfig, RunConfig, from_dict, load_config, to_dict
from genepeak.pipeline import run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _fast_models() -> dict:
    small = {"latent_dim": 16, "hidden": [64]}
    return {
        "models": {
            "gpg": {"architecture": "gpg", **small},
            "pgp": {"architecture": "pgp", **small},
            "dual": {"architecture": "dual", **small, "atac_loss": "weighted_mse"},
        },
        "train": {
            name: {"epochs": 8, "lr": 3e-3, "batch_size": 64} for name in ("gpg", "pgp", "dual")
        },
    }


def test_run_on_builtin_data_writes_report_metrics_and_explanations(tmp_path, monkeypatch):
    from genepeak import pipeline

    monkeypatch.setattr(pipeline, "IN_MEMORY_MAX_VALUES", 0)  # streamed, as PBMC-10k size is
    config = from_dict(
        RunConfig,
        {
            "out": str(tmp_path / "out"),
            "shape": "tiny",
            "seed": 1,
            **_fast_models(),
            "prepare": {"compute_umap": False},
            "evaluate": {"compute_umap": False},
        },
    )
    config.explain = ExplainConfig(n_passes=20, n_null_genes=3, dose_steps=2)
    given = to_dict(config)
    result = run(config)
    assert to_dict(config) == given  # the run works on a copy of the caller's config

    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    for name in ("gpg", "pgp", "dual", "mean", "knn", "ridge"):
        assert metrics[name]["peaks"]["auroc_per_peak"] is not None, name
    assert metrics["mean"]["peaks"]["auroc_per_peak"] == pytest.approx(0.5)
    # latents are scored against the simulator's true cell types, not RNA Leiden clusters
    assert metrics["_run"]["labels_key"] == "cell_type"
    html = (out / "report.html").read_text()
    assert (
        "the simulator&#x27;s true cell types" in html or "the simulator's true cell types" in html
    )
    assert "Cell quality control" in html and "pct_counts_mt within median + 3 MADs" in html
    assert "<img" in html and "http://" not in html and "https://" not in html
    for section in ("Peak prediction", "Gene prediction", "Perturbation", "Parameters"):
        assert section in html
    assert set(result.models) == {"gpg", "pgp", "dual"}
    results = mudata.read_h5mu(out / "results.h5mu")
    links_tsv = pd.read_csv(out / "links" / "links.tsv", sep="\t")
    assert len(results.uns["genepeak_links"]["links"]) == len(links_tsv)  # scored before training
    for name, model in result.models.items():
        model_dir = out / "models" / name
        assert (model_dir / "loss_curve.png").is_file()
        # trained from the file, minibatch by minibatch (the matrices were not held in memory)
        assert model.source == out / "prepared.h5mu" and model.mdata.mod["atac"].X is None
        for key in model.latent_keys:  # the latents written beside the data read back
            assert results.obsm[f"X_{model.architecture}_{key}"].shape[0] == results.n_obs
        assert (
            Path((model_dir / "data_path.txt").read_text().strip())
            == (out / "prepared.h5mu").resolve()
        )
    summary = (out / "explain" / "explain_summary.tsv").read_text()
    assert "NKG7" in summary and "CD79A" in summary
    assert set(result.timings) >= {"data", "prepare", "report"}
    # links of every HVG from the data alone: no model trained a second time
    assert (out / "links" / "links.tsv").is_file() and (out / "links" / "links.html").is_file()
    assert "Gene -&gt; peak links" in html and "Calls per population" in html
    assert any(row["method"] == "genepeak_links" for row in metrics["links"])
    assert not any("trained again" in step and "GPG" in step for step in result.timings)


@pytest.mark.realdata
def test_run_on_real_bmmc_subset_with_annotated_labels(tmp_path, shared_data):
    folder = shared_data("bmmc_neurips2021_500cells")
    config = load_config(RunConfig, EXAMPLES / "bmmc_neurips2021.yaml")
    config.input = f"{folder / 'starter.output_rna.h5ad'},{folder / 'starter.output_mod2.h5ad'}"
    config.labels_key = "cell_type"
    config.out = str(tmp_path / "bmmc")
    for train in config.train.values():
        train["epochs"] = 10
    result = run(config)
    # a file this small is trained in memory (pipeline.IN_MEMORY_MAX_VALUES), not streamed
    assert all(model.source is None for model in result.models.values())
    metrics = json.loads((tmp_path / "bmmc" / "metrics.json").read_text())
    assert metrics["_run"]["labels_key"] == "cell_type"
    assert metrics["_run"]["n_labels"] >= 15  # 21 annotated types, a few too rare for the split
    import mudata

    prepared = mudata.read_h5mu(tmp_path / "bmmc" / "prepared.h5mu")
    # every cell that passes the data-driven QC is split into train / val / test
    assert sum(metrics["_run"]["n_cells"].values()) == prepared.n_obs > 400
    assert metrics["pca"]["latent"]["rna"]["f1_weighted"] > 0.5
    assert (tmp_path / "bmmc" / "report.html").stat().st_size > 50_000
