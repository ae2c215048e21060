"""``evaluate``: every model and baseline, same split, same code, held-out cells only."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from genepeak._utils import log, progress, release_freed_memory
from genepeak.config import EvaluateConfig, to_dict
from genepeak.errors import InputError
from genepeak.evaluate import _data
from genepeak.evaluate import metrics as score_metrics
from genepeak.evaluate.baselines import baseline_factories
from genepeak.evaluate.latent import embed_2d, score_latent
from genepeak.evaluate.result import (
    HEADLINE,
    LATENT_COLUMNS,
    EvaluationResult,
    against_baselines,
)
from genepeak.evaluate.translation import score_genes, score_peaks
from genepeak.train.split import SPLIT_NAMES

__all__ = ["CEILING_NOTE", "evaluate", "shared_split", "score_predictor"]

CEILING_NOTE = (
    "The reference labels come from clustering the RNA (unless real annotations are given), so "
    "the RNA-PCA baseline ('pca:rna') is the ceiling a model's latent has to reach on the latent "
    "metrics, not a bar to clear easily."
)
CLUSTER_NOTE = (
    "cluster_profile gives each test cell the training open fraction / mean expression of its "
    "cluster; per_type_ridge fits a ridge within each cluster. For RNA -> ATAC a cell's cluster "
    "is its label in mdata.obs[labels_key]; for ATAC -> RNA it is predicted from the cell's "
    "ATAC (a classifier on ATAC-LSI fitted to the training labels), so no RNA reaches it. "
    "reduced_rank_ridge keeps the ridge's predictions to their leading directions across "
    "peaks / genes (rank chosen on validation cells): the low-rank sharing a model's latent has. "
    "reduced_rank_ridge_depth (RNA -> ATAC only) adds each cell's depth, the log number of "
    "genes detected: a deeper cell shows more of its open peaks, which per-peak AUROC / AUPRC "
    "reward and normalised expression has lost. kernel_ridge is kernel ridge regression with "
    "an RBF kernel on the same components (the NeurIPS 2021 predict-modality winner), its "
    "width and penalty chosen on validation cells."
)
#: The latent metrics' classifier and KMeans are fitted on a seeded sample of at most this many
#: training cells (every one below it): at PBMC-10k size the latents of all 6,400 training cells
#: and the fits on them took about 55 s of the evaluation, for 10-20 labels in 32 dimensions
LATENT_FIT_MAX_CELLS = 3_000

TASK_NOTE = (
    "peak_task / gene_task say what predict_peaks / predict_genes measure: 'translation' "
    "(from the other modality) or 'reconstruction' (from the same modality, an easier task)."
)


def shared_split(models: Mapping[str, object], mdata) -> dict[str, np.ndarray] | None:
    """The split every model was trained on; InputError if the models disagree."""
    split = None
    first = None
    for name, model in models.items():
        this = getattr(model, "split", None)
        if this is None:
            raise InputError(f"model {name!r} has no .split; train it before evaluating")
        this = _data.check_split(this, mdata)
        if split is None:
            split, first = this, name
            continue
        for key in SPLIT_NAMES:
            if set(this[key]) != set(split[key]):
                raise InputError(
                    f"models {first!r} and {name!r} were trained on different splits "
                    f"({key} cells differ); train them with the same seed and fractions"
                )
    return split


def score_predictor(
    predictor, mdata, split: Mapping[str, np.ndarray], labels: dict, config: EvaluateConfig
) -> tuple[dict, dict]:
    """Score one model or baseline: peaks, genes and each latent, on ``split['test']``.

    ``labels`` maps ``"train"`` / ``"test"`` to reference labels of those cells.
    Returns ``(metrics, arrays)``; arrays hold curves, Pearson values and test latents.
    """
    val, test, train = split["val"], split["test"], split["train"]
    peak_task = getattr(predictor, "peak_task", None)
    gene_task = getattr(predictor, "gene_task", None)
    peak_scale = getattr(predictor, "peak_scale", None)
    out: dict = {
        "peak_task": peak_task,
        "gene_task": gene_task,
        "peak_scale": peak_scale,
        "peaks": None,
        "genes": None,
        "latent": {},
    }
    arrays: dict = {"latents": {}}
    if peak_task is not None:
        names, keep = _scored(
            getattr(predictor, "peaks", None), mdata, "atac", score_metrics.SCORED_MAX_PEAKS
        )
        val_obs = _data.peaks_open(mdata, val, names)
        test_obs = _data.peaks_open(mdata, test, names)
        val_pred = _columns(predictor.predict_peaks(mdata, cells=val), keep)
        test_pred = _columns(predictor.predict_peaks(mdata, cells=test), keep)
        out["peaks"], arrays["curves"] = score_peaks(
            val_obs, val_pred, test_obs, test_pred, peak_scale, config
        )
    if gene_task is not None:
        names, keep = _scored(
            getattr(predictor, "genes", None), mdata, "rna", score_metrics.SCORED_MAX_GENES
        )
        observed = _data.gene_values(mdata, test, names)
        predicted = _columns(predictor.predict_genes(mdata, cells=test), keep)
        out["genes"], arrays["pearson"] = score_genes(observed, predicted)
    fit = score_metrics.column_sample(len(train), LATENT_FIT_MAX_CELLS, config.seed)
    fit_cells, fit_labels = (
        (train, labels["train"]) if fit is None else (train[fit], labels["train"][fit])
    )
    for key in getattr(predictor, "latent_keys", ()) or ():
        train_z = np.asarray(predictor.latent(mdata, cells=fit_cells, key=key))
        test_z = np.asarray(predictor.latent(mdata, cells=test, key=key))
        out["latent"][key] = score_latent(
            train_z, fit_labels, test_z, labels["test"], seed=config.seed
        )
        arrays["latents"][key] = test_z
    return out, arrays


def _scored(features, mdata, modality: str, cap: int):
    """``(names, columns)`` of the features a predictor is scored on: above ``cap`` the seeded
    sample that ``score_peaks`` / ``score_genes`` would take (``metrics.column_sample``), so
    only those columns of the observed data are made dense; below it, all (``None``)."""
    names = np.asarray(mdata.mod[modality].var_names if features is None else features)
    keep = score_metrics.column_sample(len(names), cap)
    if keep is None:
        return features, None
    return names[keep], keep


def _columns(predicted, keep: np.ndarray | None) -> np.ndarray:
    predicted = np.asarray(predicted)
    return predicted if keep is None else predicted[:, keep]


def _training_summary(predictor) -> dict:
    """Epochs and seconds a trained predictor reports (models' history, MultiVI's run)."""
    if hasattr(predictor, "epochs_trained"):  # MultiVI
        return {"epochs": predictor.epochs_trained, "seconds": predictor.train_seconds}
    history = getattr(predictor, "history", None)
    if history is None or not len(history) or "seconds" not in history:
        return {}
    return {
        "epochs": int(len(history)),
        "best_epoch": int(history.attrs.get("best_epoch", len(history))),
        "seconds": float(history["seconds"].sum()),
    }


def _table(metrics: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, latent_rows = {}, {}
    for name, entry in metrics.items():
        if name.startswith("_"):
            continue
        row: dict = {
            "kind": entry["kind"],
            "peak_task": entry["peak_task"] or "",
            "gene_task": entry["gene_task"] or "",
            "latent": "",
        }
        latent_keys = list(entry["latent"])
        if latent_keys:
            row["latent"] = latent_keys[0]
        for h in HEADLINE:
            if h.section == "latent":
                section = entry["latent"].get(latent_keys[0]) if latent_keys else None
            else:
                section = entry[h.section]
            value = section.get(h.key) if section else None
            row[h.column] = np.nan if value is None else float(value)
        rows[name] = row
        for key, values in entry["latent"].items():
            latent_rows[f"{name}:{key}"] = {c: values.get(c, np.nan) for c in LATENT_COLUMNS}
    table = pd.DataFrame.from_dict(rows, orient="index")
    latent_table = pd.DataFrame.from_dict(latent_rows, orient="index", columns=LATENT_COLUMNS)
    return table, latent_table


def evaluate(
    mdata,
    models: Mapping[str, object] | None = None,
    config: EvaluateConfig | None = None,
    labels_key: str = "leiden",
    split: Mapping[str, np.ndarray] | None = None,
) -> EvaluationResult:
    """Score every model and every baseline on the held-out test cells of one split.

    Parameters
    ----------
    mdata
        The prepared MuData the models were trained on.
    models
        ``{name: trained model}``; every model must carry the same ``.split``.
    config
        Threshold grid, kNN k, ridge alpha, PCA size, MultiVI, UMAP and seed.
    labels_key
        Column of ``mdata.obs`` with the reference labels (``"cell_type"`` for annotations).
    split
        Used only when no model is given; by default the models' split function makes one.

    Returns
    -------
    EvaluationResult with ``.metrics`` (JSON-ready), ``.table`` and the figures' arrays.
    Classifiers, KMeans, PCA/LSI, kNN indices, ridge weights and peak thresholds are all
    fitted on training or validation cells; test cells are only scored.
    """
    config = config or EvaluateConfig()
    models = dict(models or {})
    _data.require_modalities(mdata)
    if models:
        split = shared_split(models, mdata)
    elif split is None:
        split = _data.make_split(mdata, labels_key, config.seed)
    split = _data.check_split(split, mdata)
    labels = {k: _data.labels_of(mdata, split[k], labels_key) for k in ("train", "test")}
    predictors, skipped = _predictors(mdata, models, split, config, labels_key)
    metrics, arrays = _score_all(predictors, mdata, split, labels, config)
    latents_2d, method = _embed_all(arrays["latents"], config)
    metrics["_run"] = _run_record(split, labels, labels_key, config, skipped)
    table, latent_table = _table(metrics)
    metrics["_run"]["against_baselines"] = against_baselines(table).to_dict("records")
    return EvaluationResult(
        metrics=metrics,
        table=table,
        latent_table=latent_table,
        test_labels=labels["test"],
        latents=arrays["latents"],
        latents_2d=latents_2d,
        embedding_method=method,
        threshold_curves=arrays["curves"],
        pearson=arrays["pearson"],
        skipped=skipped,
        split=split,
    )


def _predictors(mdata, models, split, config, labels_key):
    """``({name: (kind, get)}, skipped)``: the models, then every baseline; ``get()`` gives
    the predictor, a baseline fitted only then (each is scored and dropped before the next
    is fitted: at PBMC-10k size their coefficients and targets add up to GiB)."""
    predictors: dict[str, tuple[str, object]] = {
        n: ("model", lambda m=m: m) for n, m in models.items()
    }
    log(f"baselines are fitted on {len(split['train'])} training cells, one at a time")
    for name, fit in baseline_factories(mdata, split, config, labels_key).items():
        if name in predictors:
            raise InputError(f"model name {name!r} clashes with a baseline; rename the model")
        predictors[name] = ("baseline", fit)
    skipped: dict[str, str] = {}
    if config.run_multivi:
        from genepeak.evaluate.multivi import fit_multivi

        multivi, message = fit_multivi(mdata, split, config)
        if multivi is None:
            skipped["multivi"] = message
            log(message)
        else:
            predictors["multivi"] = ("baseline", lambda: multivi)
    return predictors, skipped


def _score_all(predictors, mdata, split, labels, config) -> tuple[dict, dict[str, dict]]:
    """Metrics of every predictor, and its arrays by kind (latents, curves, pearson)."""
    metrics: dict = {}
    arrays: dict[str, dict] = {"latents": {}, "curves": {}, "pearson": {}}
    for name in progress(list(predictors), desc="evaluating"):
        kind, get = predictors[name]
        release_freed_memory()  # scoring GPG left 0.48 GiB of freed heap at PBMC-10k size
        predictor = get()
        entry, found = score_predictor(predictor, mdata, split, labels, config)
        metrics[name] = {"kind": kind, "architecture": type(predictor).__name__, **entry}
        training = _training_summary(predictor)
        if training:
            metrics[name]["training"] = training
        if found["latents"]:
            arrays["latents"][name] = found["latents"]
        for key in ("curves", "pearson"):
            if key in found:
                arrays[key][name] = found[key]
        del predictor  # a baseline is gone before the next one is fitted
    return metrics, arrays


def _embed_all(latents: dict[str, dict[str, np.ndarray]], config) -> tuple[dict, str]:
    """2-D views of every latent, and the method used (UMAP, or PC when off or too few)."""
    latents_2d: dict[str, dict[str, np.ndarray]] = {}
    method = "UMAP" if config.compute_umap else "PC"
    for name, by_key in latents.items():
        latents_2d[name] = {}
        for key, z in by_key.items():
            latents_2d[name][key], method = embed_2d(z, config.compute_umap, config.seed)
    return latents_2d, method


def _run_record(split, labels, labels_key: str, config, skipped: dict[str, str]) -> dict:
    """``metrics['_run']``: labels, cell counts, config, skipped methods, notes, directions."""
    return {
        "labels_key": labels_key,
        "n_cells": {k: int(len(v)) for k, v in split.items()},
        "n_labels": int(np.unique(labels["train"]).size),
        "config": to_dict(config),
        "skipped": skipped,
        "notes": [CEILING_NOTE, CLUSTER_NOTE, TASK_NOTE],
        "directions": {h.column: h.direction for h in HEADLINE},
    }
