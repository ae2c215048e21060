"""EvaluationResult: the metrics, the side-by-side table and the arrays behind the figures."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genepeak._utils import atomic_path

__all__ = [
    "HEADLINE",
    "LATENT_COLUMNS",
    "TRANSLATION_SCORES",
    "EvaluationResult",
    "Headline",
    "against_baselines",
    "to_jsonable",
]


@dataclass(frozen=True)
class Headline:
    """One column of the side-by-side table: where its value lives and which way is better."""

    column: str
    section: str  # "peaks", "genes" or "latent"
    key: str
    label: str
    direction: str | None  # "higher", "lower" or None (a reference value, not a score)


HEADLINE: tuple[Headline, ...] = (
    Headline("peak_auroc", "peaks", "auroc", "Peak AUROC (pooled)", "higher"),
    Headline("peak_auroc_per_peak", "peaks", "auroc_per_peak", "Peak AUROC (per peak)", "higher"),
    Headline("peak_auroc_per_cell", "peaks", "auroc_per_cell", "Peak AUROC (per cell)", "higher"),
    Headline("peak_auprc", "peaks", "auprc", "Peak AUPRC (pooled)", "higher"),
    Headline("peak_auprc_per_peak", "peaks", "auprc_per_peak", "Peak AUPRC (per peak)", "higher"),
    Headline("peak_prevalence", "peaks", "prevalence", "AUPRC floor (open fraction)", None),
    Headline("peak_f1", "peaks", "f1", "Peak F1 at val. threshold", "higher"),
    Headline("peak_threshold", "peaks", "threshold", "Threshold (chosen on val.)", None),
    Headline("peak_ece", "peaks", "ece", "Calibration error (ECE)", "lower"),
    Headline(
        "gene_pearson_per_cell", "genes", "pearson_per_cell", "Gene Pearson (per cell)", "higher"
    ),
    Headline(
        "gene_pearson_per_gene", "genes", "pearson_per_gene", "Gene Pearson (per gene)", "higher"
    ),
    Headline(
        "gene_spearman_per_gene", "genes", "spearman_per_gene", "Gene Spearman (per gene)", "higher"
    ),
    Headline("gene_rmse", "genes", "rmse", "Gene RMSE (log1p)", "lower"),
    Headline("latent_f1_weighted", "latent", "f1_weighted", "Latent label F1 (weighted)", "higher"),
    Headline("latent_ari", "latent", "ari", "Latent label ARI", "higher"),
    Headline("latent_kmeans_ari", "latent", "kmeans_ari", "Latent KMeans ARI", "higher"),
    Headline("latent_silhouette", "latent", "silhouette", "Latent silhouette", "higher"),
)

#: Scores that show whether a translation learned cell-specific signal: (column, task column).
TRANSLATION_SCORES = (
    ("peak_auroc_per_peak", "peak_task"),
    ("peak_auprc_per_peak", "peak_task"),
    ("gene_pearson_per_gene", "gene_task"),
)

_AGAINST_COLUMNS = (
    "score",
    "label",
    "model",
    "model_value",
    "baseline",
    "baseline_value",
    "margin",
    "mean_value",
    "share_of_gain",
    "learned_little",
)
#: the baseline that knows nothing of the cell (training mean / open fraction): the floor
NO_INFORMATION_BASELINE = "mean"
#: below this share of the strongest baseline's gain over that floor, a model has learned
#: almost nothing cell-specific (a translation stuck at the mean profile)
LEARNED_LITTLE_SHARE = 0.1


def against_baselines(table: pd.DataFrame) -> pd.DataFrame:
    """Each model against the strongest baseline, for each translation score.

    ``table`` is ``EvaluationResult.table`` (a ``kind`` column, the task columns). Only rows
    that translate for that score count (a reconstruction saw its target). One row per score
    and model, best model first; ``margin`` > 0 means the model beats every baseline.
    ``share_of_gain`` is how much of the strongest baseline's gain over the ``mean`` baseline
    (``mean_value``, the floor of a predictor that knows nothing of the cell) the model
    reaches: 1 ties that baseline, 0 is the floor; NaN without a usable ``mean`` row.
    ``learned_little``: that share is below ``LEARNED_LITTLE_SHARE``.
    """
    labels = {h.column: h.label for h in HEADLINE}
    rows = []
    for column, task in TRANSLATION_SCORES:
        if column not in table or task not in table or "kind" not in table:
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        usable = table[(table[task] == "translation") & np.isfinite(values)]
        models = values[usable.index[usable["kind"] == "model"]]
        baselines = values[usable.index[usable["kind"] == "baseline"]]
        if models.empty or baselines.empty:
            continue
        baseline = baselines.idxmax()
        floor = float(baselines.get(NO_INFORMATION_BASELINE, np.nan))
        gain = float(baselines[baseline]) - floor
        for model, value in models.sort_values(ascending=False).items():
            share = float(value - floor) / gain if gain > 0 else np.nan
            rows.append(
                dict(
                    score=column,
                    label=labels[column],
                    model=model,
                    model_value=float(value),
                    baseline=baseline,
                    baseline_value=float(baselines[baseline]),
                    margin=float(value - baselines[baseline]),
                    mean_value=floor,
                    share_of_gain=share,
                    learned_little=bool(share < LEARNED_LITTLE_SHARE),
                )
            )
    return pd.DataFrame(rows, columns=list(_AGAINST_COLUMNS))


#: Columns of the per-latent table, with which way is better (all higher).
LATENT_COLUMNS = (
    "f1_weighted",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "accuracy",
    "ari",
    "ami",
    "kmeans_ari",
    "kmeans_ami",
    "leiden_ari",
    "leiden_ami",
    "silhouette",
)


def to_jsonable(value: Any) -> Any:
    """Nested dicts / lists of numbers and strings, NaN and inf as null."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class EvaluationResult:
    """Everything ``evaluate`` measured on the held-out cells.

    Attributes
    ----------
    metrics
        ``{predictor name: {"kind", "peak_task", "gene_task", "peak_scale", "peaks", "genes",
        "latent": {key: {...}}}}`` plus ``"_run"`` (split sizes, labels, config, notes).
        JSON-serialisable; a section is ``None`` where the predictor does not make it.
    table
        Rows = models and baselines, columns = the ``HEADLINE`` metrics (+ task columns).
    latent_table
        Rows = ``"name:latent"``, columns = ``LATENT_COLUMNS``.
    """

    metrics: dict
    table: pd.DataFrame
    latent_table: pd.DataFrame
    test_labels: np.ndarray
    latents: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    latents_2d: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    embedding_method: str = "UMAP"
    threshold_curves: dict[str, dict] = field(default_factory=dict)
    pearson: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    split: dict[str, np.ndarray] = field(default_factory=dict)

    def to_json(self, path: str | Path) -> Path:
        """Write ``metrics`` as JSON (atomically) and return the path."""
        path = Path(path)
        text = json.dumps(to_jsonable(self.metrics), indent=2, allow_nan=False)
        with atomic_path(path) as tmp:
            tmp.write_text(text + "\n")
        return path

    def threshold(self, name: str) -> float:
        """The peak threshold chosen on validation cells for predictor ``name``."""
        peaks = self.metrics.get(name, {}).get("peaks")
        if not peaks:
            raise KeyError(f"{name!r} has no peak predictions in this evaluation")
        return float(peaks["threshold"])
