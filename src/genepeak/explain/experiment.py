"""One perturbation experiment end to end: choose cells, perturb, test against nulls, annotate.

``explain_gene`` runs one experiment (one or more genes, one cell or a population) and returns
an :class:`ExplainResult`; it writes nothing (:func:`genepeak.outputs.write_result` writes its
tables, plots and link files). The steps live in their own modules: cell choice
(:mod:`~genepeak.explain.cells`), the genes and their values (:mod:`~genepeak.explain.values`),
peak statistics (:mod:`~genepeak.explain.statistics`), genomic context
(:mod:`~genepeak.explain.links`), dose response (:mod:`~genepeak.explain.dose`) and validation
(:mod:`~genepeak.explain.validate`); batches of experiments are in :mod:`~genepeak.explain.design`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from genepeak._utils import seed_everything
from genepeak.config import ExplainConfig
from genepeak.explain import links, perturb, statistics, validate
from genepeak.explain.cells import choose_cells
from genepeak.explain.dose import dose_response as sweep_doses
from genepeak.explain.model import ExplainableModel
from genepeak.explain.values import (
    check_changes,
    check_values,
    describe_changes,
    gene_indices,
    model_rows,
    model_values,
)
from genepeak.io.annotation import gene_coordinates, recorded_annotation


@dataclass
class ExplainResult:
    """One perturbation experiment: the per-peak table and everything needed to judge it."""

    name: str
    genes: list[str]
    cells: list[str]
    cell_type: str | None
    values: list[float]  # new values in model input space (first cell when counts were given)
    before_values: list[float]  # the genes' values in the (first) cell before the change
    changes: list[str]  # "NKG7 3.67 (18) -> 2.89 (8)" per gene (first cell of a population)
    threshold: float
    margin: float
    n_passes: int
    table: pd.DataFrame  # one row per peak, ranked (strongest first)
    null_genes: list[list[str]]  # per null set, one matched gene per perturbed gene (first cell)
    noise_flip_rate: float  # mean per-peak flip frequency of unperturbed passes
    dose_response: pd.DataFrame | None = None
    validation: dict = field(default_factory=dict)
    gene_coords: pd.DataFrame | None = None  # chrom, start, end, strand, tss of the genes
    files: dict[str, Path] = field(default_factory=dict)  # set by genepeak.outputs
    seconds: float = 0.0

    def top(self, k: int = 20) -> pd.DataFrame:
        """The ``k`` most sensitive peaks, in the table's order (``ExplainConfig.rank_by``)."""
        return self.table.head(k)

    @property
    def n_changed(self) -> int:
        """Peaks that flip state in at least one Monte-Carlo pass."""
        return int((self.table["flip_frequency"] > 0).sum())

    @property
    def n_significant(self) -> int:
        """Peaks with FDR < 0.05 and a positive effect over the null genes."""
        return int(((self.table["fdr"] < 0.05) & (self.table["effect_size"] > 0)).sum())

    def summary(self) -> dict:
        """One line of numbers for the summary table and the report."""
        top = self.table.iloc[0] if len(self.table) else None
        row = {
            "experiment": self.name,
            "change": "; ".join(self.changes),
            "cells": len(self.cells),
            "cell": self.cells[0] if len(self.cells) == 1 else f"{len(self.cells)} cells",
            "cell_type": self.cell_type or "",
            "threshold": self.threshold,
            "n_changed": self.n_changed,
            "n_significant": self.n_significant,
            "noise_flip_rate": self.noise_flip_rate,
            "top_peak": top["peak"] if top is not None else "",
            "top_score": float(top["score"]) if top is not None else float("nan"),
            "seconds": round(self.seconds, 2),
        }
        for method, metrics in self.validation.get("planted", {}).items():
            row[f"{method}_auprc"] = metrics.get("auprc")
        if "tss" in self.validation:
            row["tss_enrichment"] = self.validation["tss"].get("enrichment")
        return row

    def to_uns(self) -> dict:
        """What ``mdata.uns`` keeps of this result (saved by ``write_h5mu``): the per-peak
        ``table``, the ``summary`` line, the ``dose_response`` table when swept, and the
        perturbed ``genes``, ``cells`` and ``null_genes``."""
        stored = {
            "table": self.table,
            "summary": {k: v for k, v in self.summary().items() if v is not None},
            "genes": list(self.genes),
            "cells": list(self.cells),
            "null_genes": [",".join(s) for s in self.null_genes],
        }
        if self.dose_response is not None:
            stored["dose_response"] = self.dose_response
        return stored


def _as_list(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str | int | float) else list(value)


def slug(text: str) -> str:
    """``text`` as a file-name stem: runs of other characters than ``A-Za-z0-9_.-`` -> ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "experiment"


@dataclass
class _Perturbation:
    """What one experiment perturbs: genes, their columns, the cells' rows before and after."""

    genes: list[str]
    gene_idx: list[int]
    cells: list[str]
    x: np.ndarray  # cells x model genes, before
    new: np.ndarray  # cells x perturbed genes, the new values
    threshold: float


def _set_up(
    model, mdata, genes, new_values, choose: Callable[[], list[str]], are_counts, config, threshold
) -> _Perturbation:
    """Check genes and values, ``choose`` the cells, the threshold, read rows (in this order)."""
    rna = mdata.mod["rna"]
    genes = [str(g) for g in _as_list(genes)]
    gene_idx = gene_indices(model, mdata, genes)
    raw = check_values([0.0] * len(genes) if new_values is None else _as_list(new_values), genes)
    cells = choose()
    if threshold is None:
        threshold = config.threshold
    if threshold is None:
        threshold = perturb.choose_threshold(model, mdata, seed=config.seed)
    x = model_rows(rna, [str(g) for g in model.genes], cells)
    new = np.vstack([model_values(rna, c, raw, are_counts) for c in cells])
    check_changes(rna, genes, cells, x[:, gene_idx], new)
    return _Perturbation(genes, gene_idx, cells, x, new, threshold)


def _statistics(model, mdata, p: _Perturbation, config, rng, annotation):
    """Null sets, shift and flip statistics, genomic context and the ranked per-peak table."""
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    model_genes = [str(g) for g in model.genes]
    null_sets = statistics.null_sets(rna, model_genes, p.x, p.gene_idx, config.n_null_genes, rng)
    stats = statistics.shift_stats(model, p.x, p.gene_idx, p.new, null_sets)
    stats.update(
        statistics.flip_stats(model, p.x, p.gene_idx, p.new, null_sets, p.threshold, config, rng)
    )
    genes_coords = gene_coordinates(rna.var, annotation or recorded_annotation(mdata))
    peaks = [str(peak) for peak in model.peaks]
    window = model.cis_window or config.cis_window
    context = links.distance_context(
        atac.var, peaks, genes_coords, p.genes, null_sets, model_genes, window
    )
    table = statistics.peak_table(stats, peaks, p.genes, config, context)
    table = links.add_context(table, atac.var, genes_coords, p.genes)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    null_genes = [[model_genes[j] for j in s] for s in null_sets]
    return stats, context, table, null_genes, genes_coords.loc[genes_coords.index.isin(p.genes)]


def _result(mdata, p: _Perturbation, name, cell_type, config, found) -> ExplainResult:
    """The result of one experiment from its perturbation and ``found`` (``_statistics``)."""
    stats, _, table, nulls, coords = found
    before = p.x[0, p.gene_idx]
    return ExplainResult(
        name=name or f"{'+'.join(p.genes)}_{slug(cell_type or p.cells[0])}",
        genes=p.genes,
        cells=p.cells,
        cell_type=cell_type,
        values=[float(v) for v in p.new[0]],
        before_values=[float(v) for v in before],
        changes=describe_changes(mdata.mod["rna"], p.cells[0], p.genes, before, p.new[0]),
        threshold=float(p.threshold),
        margin=float(config.margin),
        n_passes=config.n_passes,
        table=table,
        null_genes=nulls,
        noise_flip_rate=float(np.mean(stats["noise_f"])),
        gene_coords=coords,
    )


def explain_gene(
    model: ExplainableModel,
    mdata,
    genes: str | list[str],
    values: float | list[float] | None = None,
    cell_type: str | None = None,
    cell: str | list[str] | None = None,
    *,
    values_are_counts: bool = False,
    population: bool = False,
    config: ExplainConfig | None = None,
    threshold: float | None = None,
    name: str | None = None,
    truth: str | Path | pd.DataFrame | None = None,
    annotation: str | Path | None = None,
    labels_key: str | None = None,
    dose_response: bool = True,
    key_added: str | None = None,
) -> ExplainResult:
    """Perturb ``genes`` to ``values`` in one cell (or a population) and rank the peaks.

    ``model`` is a trained GPG / PGP / DualVAE (:class:`~genepeak.explain.model.ExplainableModel`)
    and ``mdata`` the prepared MuData it was trained on. ``values`` are in model input space
    (log1p of size-factor-normalised counts) or, with ``values_are_counts``, raw counts
    converted with each cell's size factor; None silences the genes. ``cell`` gives barcodes;
    else ``cell_type`` chooses its representative cell by markers (or ``mdata.obs[labels_key]``),
    every cell of it with ``population=True``. ``config`` holds the Monte-Carlo options;
    ``threshold`` overrides ``config.threshold`` (None: chosen on validation cells). ``truth``
    (planted links) adds AUPRC / precision@k beside a correlation baseline; ``annotation`` is a
    gene annotation TSV for genes without coordinates in ``rna.var``. ``key_added``: also store
    :meth:`ExplainResult.to_uns` in ``mdata.uns[key_added]`` (None: store nothing).
    """
    started = time.perf_counter()
    config = config or ExplainConfig()
    seed_everything(config.seed)
    rng = np.random.default_rng(config.seed)
    choose = partial(choose_cells, mdata, cell, cell_type, population, config, labels_key)
    p = _set_up(model, mdata, genes, values, choose, values_are_counts, config, threshold)
    found = _statistics(model, mdata, p, config, rng, annotation)
    result = _result(mdata, p, name, cell_type, config, found)
    stats, context = found[0], found[1]
    if dose_response:
        first = {"x": p.x[0], "cell": p.cells[0], "baseline": stats["first_baseline"]}
        result.dose_response = sweep_doses(
            model, mdata.mod["rna"], first, p.gene_idx, p.genes, result.table, p.threshold, config
        )
    result.validation = validate.validate_result(mdata, result, stats, context, config, truth)
    result.seconds = time.perf_counter() - started
    if key_added is not None:
        mdata.uns[key_added] = result.to_uns()
    return result


__all__ = ["ExplainResult", "explain_gene", "slug"]
