"""Dose response: sweep the perturbed genes from silence to twice their highest value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genepeak.explain import perturb
from genepeak.explain.model import ExplainableModel
from genepeak.explain.values import cell_size_factor, model_value_to_count


def twice_the_highest(rna, gene: str) -> float:
    """The model-space value of twice the gene's highest normalised count in the data."""
    col = rna[:, gene].X
    top = float(col.max()) if col.shape[0] else 0.0
    return float(np.log1p(2.0 * np.expm1(top)))


def dose_response(
    model: ExplainableModel, rna, first, gene_idx, genes, table, threshold, config
) -> pd.DataFrame:
    """Sweep all perturbed genes together from silence to twice their highest normalised count."""
    steps = np.linspace(0.0, 1.0, config.dose_steps)
    tops = np.array([twice_the_highest(rna, g) for g in genes])
    rows = np.repeat(first["x"][None, :], len(steps), axis=0)
    for s, t in enumerate(steps):
        rows[s, gene_idx] = t * tops
    flips = perturb.flips_for_rows(
        model, rows, first["baseline"], config.n_passes, threshold, config.margin
    )
    top = table.head(config.top_k)
    index = pd.Index([str(p) for p in model.peaks])
    cols = index.get_indexer(top["peak"])
    sf = cell_size_factor(rna, first["cell"]) if "size_factor" in rna.obs else 1.0
    records = []
    for s, t in enumerate(steps):
        value = float(t * tops[0])
        for peak, c in zip(top["peak"], cols):
            records.append(
                {
                    "peak": peak,
                    "gene": ",".join(genes),
                    "step": s,
                    "value": value,
                    "count": model_value_to_count(value, sf),
                    "f_gain": float(flips.f_gain[s, c]),
                    "f_loss": float(flips.f_loss[s, c]),
                    "signed_frequency": float(flips.f_gain[s, c] - flips.f_loss[s, c]),
                    "mean_prediction": float(flips.mean[s, c]),
                    "baseline": float(first["baseline"][c]),
                }
            )
    return pd.DataFrame.from_records(records)
