"""Planted-link recovery of the perturbation ranking on the built-in default data (issue 5).

The default path: ``simulate(shape="small", seed=0)`` -> ``prepare`` -> the small GPG preset ->
silence each of the eight PBMC marker drivers in its cell type's representative cell. About
60-90 s on 2 CPU cores, hence ``slow``. Run with ``pytest -m slow -s`` to see the table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genepeak.config import ExplainConfig, PrepareConfig, preset
from genepeak.explain.validate import SIMULATED_MARKER_DRIVERS, planted_link_recovery


def default_recovery(tmp_path, seed: int = 0) -> pd.DataFrame:
    """Per-driver AUPRC of the flip and shift rankings, the correlation baseline and random."""
    from genepeak.models import GPG
    from genepeak.prepare.pipeline import prepare
    from genepeak.simulate import simulate

    sim = simulate(tmp_path / "sim", shape="small", seed=0)
    mdata = prepare(sim.out_dir, PrepareConfig(gene_annotation=str(sim.annotation_path)))
    model_config, train_config = preset("gpg", small=True)
    train_config.seed = seed
    model = GPG(mdata, model_config=model_config, train_config=train_config).train()
    table = planted_link_recovery(model, mdata, sim.links_path, config=ExplainConfig(seed=seed))
    return table[["gene", "random", "flips_auprc", "shift_auprc", "correlation_auprc"]]


@pytest.mark.slow
def test_perturbation_ranking_recovers_planted_links_on_default_data(tmp_path):
    """Mean flip-ranking AUPRC over the 8 drivers is at least 3x random and >= 0.0025.

    Measured on 2 CPU cores (small GPG preset, default ExplainConfig), mean AUPRC:
    training seed 0: flips 0.0048, shift 0.0057; seed 1: 0.0128, 0.0173; seed 2: 0.0053, 0.0055;
    correlation baseline 0.107, random (prevalence) 0.0008. The mean leans on one or two
    drivers (MS4A1, IL7R); the others sit at 1-4x random. The GPG learns no within-type
    signal here (validation per-peak AUROC within leiden clusters 0.506; overall 0.549, below
    a per-cluster mean predictor's 0.564), and the planted links are within-type covariation.
    """
    table = default_recovery(tmp_path)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    assert (
        len(table) == len(SIMULATED_MARKER_DRIVERS)
        and np.isfinite(table.drop(columns="gene")).all().all()
    )
    mean = table.drop(columns="gene").mean()
    print(mean.to_dict())
    assert mean["random"] == pytest.approx(0.0008, abs=0.0002)
    assert mean["flips_auprc"] >= 0.0025
    assert mean["flips_auprc"] >= 3 * mean["random"]
    assert mean["shift_auprc"] >= 3 * mean["random"]
    # the correlation baseline is reported next to it and is itself far above random
    assert mean["correlation_auprc"] >= 0.05
