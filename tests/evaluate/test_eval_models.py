"""evaluate() and the report on real (tiny, briefly trained) GPG, PGP and Dual VAE models."""

from __future__ import annotations

import json
import re

import numpy as np

from genepeak.config import EvaluateConfig
from genepeak.evaluate import HEADLINE, evaluate
from genepeak.report.html import write_run_report

SMALL = dict(latent_dim=8, hidden=[32], epochs=3, lr=1e-3, batch_size=128)


def test_every_architecture_is_scored_and_reported(tiny_mdata, tmp_path):
    import genepeak

    models = {
        "gpg": genepeak.GPG(tiny_mdata, atac_loss="bernoulli", **SMALL).train(),
        "pgp": genepeak.PGP(tiny_mdata, **SMALL).train(),
        "dual": genepeak.DualVAE(tiny_mdata, **SMALL).train(),
    }
    result = evaluate(tiny_mdata, models, EvaluateConfig(n_pcs=10, compute_umap=False))
    table = result.table
    assert list(table.index[:3]) == ["gpg", "pgp", "dual"]
    assert table.loc["pgp", "peak_task"] == "reconstruction"
    assert table.loc["gpg", "gene_task"] == "reconstruction"
    assert table.loc["dual", "peak_task"] == table.loc["dual", "gene_task"] == "translation"
    for name in models:
        for h in HEADLINE:
            if h.column == "peak_ece" and models[name].peak_scale == "log1p":
                assert np.isnan(table.loc[name, h.column])
            else:
                assert np.isfinite(table.loc[name, h.column]), (name, h.column)
    assert set(result.latents["gpg"]) == {"z1", "z2"}
    assert set(result.latents["dual"]) == set(models["dual"].latent_keys)
    # the Bernoulli head outputs probabilities: swept 0.05..0.95 and calibrated
    assert result.threshold_curves["gpg"]["scale"] == "probability"
    assert 0.05 <= result.threshold("gpg") <= 0.95
    assert result.threshold_curves["pgp"]["sweep_val"]["threshold"][-1] == 3.0

    metrics = json.loads(result.to_json(tmp_path / "metrics.json").read_text())
    assert metrics["_run"]["n_cells"] == {k: len(v) for k, v in models["gpg"].split.items()}
    page = write_run_report(
        tmp_path / "report.html",
        data_summary={"cells": 240},
        qc_figures={},
        evaluation=result,
        models=models,
        explain=None,
        params={},
        versions={},
    )
    text = page.read_text()
    assert "gpg: total loss" not in text  # figure text lives in the PNGs, not the page
    assert len(re.findall(r"data:image/png;base64,", text)) == 5
    assert "<td>dual:atac</td>" in text or "<td>dual:rna</td>" in text
