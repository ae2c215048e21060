"""Batches of experiments: the reference design's five, a config's list, planted-link recovery.

Each experiment is one :func:`~genepeak.explain.experiment.explain_gene`; these functions
choose their values and cells, skip the ones the data cannot run (with the reason) and
collect the results. They write nothing (:func:`genepeak.outputs.write_explain` does).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genepeak._utils import log
from genepeak.config import ExplainConfig, PerturbationConfig
from genepeak.errors import AbsentGeneError, InputError
from genepeak.explain import perturb
from genepeak.explain.cells import representative_cell
from genepeak.explain.dose import twice_the_highest
from genepeak.explain.experiment import ExplainResult, explain_gene, slug
from genepeak.explain.model import ExplainableModel
from genepeak.explain.values import gene_indices, model_rows
from genepeak.simulate import DRIVER_CELL_TYPES

#: The reference design's five PBMC experiments: (gene, cell type, kind).
DESIGN_EXPERIMENTS: list[tuple[str, str, str]] = [
    ("NKG7", "NK", "partial"),
    ("CD79A", "B", "silence"),
    ("FCGR3A", "CD14 monocyte", "activate"),
    ("CD8B", "CD8 T", "activate"),
    ("IL7R", "CD4 T", "silence"),
]

#: Marker genes the built-in simulator always plants links for, with the cell type to perturb
#: (the simulator's own names; explain.cells maps them onto its marker sets)
SIMULATED_MARKER_DRIVERS: list[tuple[str, str]] = list(DRIVER_CELL_TYPES.items())


class Experiments(list):
    """The results of :func:`explain` (a list), with the experiments it ``skipped`` and why."""

    def __init__(self, results=(), skipped: list[tuple[str, str]] | None = None) -> None:
        super().__init__(results)
        self.skipped = list(skipped or [])

    def to_uns(self) -> dict:
        """What ``mdata.uns`` keeps (saved by ``write_h5mu``): a ``summary`` table (one row per
        experiment run), each result's :meth:`~ExplainResult.to_uns` under ``experiments``
        (by file-name stem) and the ``skipped`` ones with their reason."""
        summaries = [r.to_uns()["summary"] for r in self]
        return {
            "summary": pd.DataFrame(summaries),
            "experiments": {slug(r.name): r.to_uns() for r in self},
            "skipped": pd.DataFrame(self.skipped, columns=["experiment", "reason"]),
        }


def design_experiment(
    model: ExplainableModel, mdata, gene: str, cell_type: str, kind: str, config: ExplainConfig
) -> PerturbationConfig:
    """Concrete values for one design experiment in this data.

    ``silence`` sets the gene to 0; ``partial`` halves the representative cell's normalised
    count (the design's NKG7 18 -> 8); ``activate`` sets it to twice the gene's highest
    normalised count in the data.
    """
    rna = mdata.mod["rna"]
    gene_indices(model, mdata, [gene])
    cell = representative_cell(rna, cell_type, config.markers)
    if kind == "silence":
        value = 0.0
    elif kind == "partial":
        current = float(model_rows(rna, [gene], [cell])[0, 0])
        value = float(np.log1p(np.expm1(current) / 2.0))
    else:
        value = twice_the_highest(rna, gene)
    return PerturbationConfig(
        genes=[gene],
        values=[value],
        cell_type=cell_type,
        cell=cell,
        name=f"{gene}_{slug(cell_type)}_{kind}",
    )


def _design_experiments(model, mdata, config) -> tuple[list[PerturbationConfig], list]:
    """The design's five in this data, and (label, reason) of those it cannot run."""
    experiments, skipped = [], []
    for gene, cell_type, kind in DESIGN_EXPERIMENTS:
        try:
            experiments.append(design_experiment(model, mdata, gene, cell_type, kind, config))
        except InputError as err:
            skipped.append((f"{gene} in {cell_type}", str(err)))
    return experiments, skipped


def _run_experiment(model, mdata, exp: PerturbationConfig, **options) -> ExplainResult:
    result = explain_gene(
        model,
        mdata,
        exp.genes,
        exp.values or None,
        cell_type=exp.cell_type,
        cell=exp.cell,
        values_are_counts=exp.values_are_counts,
        population=exp.population,
        name=exp.name,
        **options,
    )
    log(
        f"explain: {result.name}: {'; '.join(result.changes)}; {result.n_significant} peaks "
        f"shift more than for null genes (FDR<0.05), {result.n_changed} flip state in some pass"
    )
    return result


def explain(
    model: ExplainableModel,
    mdata,
    config: ExplainConfig | None = None,
    truth: str | Path | pd.DataFrame | None = None,
    annotation: str | Path | None = None,
    labels_key: str | None = None,
    key_added: str | None = None,
) -> Experiments:
    """Run every experiment of ``config`` (default: the design's five PBMC experiments).

    Experiments whose gene is absent from the model (or, for the design's five, whose cell
    type has no marker in the data) are skipped with a message and listed in the returned
    ``skipped`` (:func:`genepeak.outputs.write_explain` writes every experiment's files and an
    ``explain_summary.tsv``). ``truth`` (planted links of simulated data) adds planted-link
    recovery; ``annotation`` gives gene coordinates; ``labels_key`` selects populations
    (``PerturbationConfig.population``) by ``mdata.obs`` labels, else by markers.
    ``key_added``: also store :meth:`Experiments.to_uns` in ``mdata.uns[key_added]``.
    """
    config = config or ExplainConfig()
    threshold = config.threshold
    if threshold is None:
        threshold = perturb.choose_threshold(model, mdata, seed=config.seed)
        log(f"explain: decision threshold {threshold:g} chosen on validation cells (F1-optimal)")
    if config.experiments:
        experiments, skipped = list(config.experiments), []
    else:
        experiments, skipped = _design_experiments(model, mdata, config)
    options = dict(
        config=config,
        threshold=threshold,
        truth=truth,
        annotation=annotation,
        labels_key=labels_key,
    )
    results = []
    for exp in experiments:
        try:
            results.append(_run_experiment(model, mdata, exp, **options))
        except InputError as err:
            if config.experiments and not isinstance(err, AbsentGeneError):
                raise
            skipped.append(
                (exp.name or f"{'+'.join(exp.genes)} in {exp.cell or exp.cell_type}", str(err))
            )
    for label, reason in skipped:
        log(f"explain: skipped {label}: {reason}")
    done = Experiments(results, skipped)
    if key_added is not None:
        mdata.uns[key_added] = done.to_uns()
    return done


def planted_link_recovery(
    model: ExplainableModel,
    mdata,
    truth,
    drivers: list[tuple[str, str]] | None = None,
    config=None,
) -> pd.DataFrame:
    """Silence each driver gene in its cell type's representative cell; score the rankings.

    Returns one row per driver present in the model: planted peaks, random AUPRC (prevalence),
    AUPRC of the flip-frequency ranking, of the shift ranking (|posterior-mean shift| beyond the
    null genes) and of the correlation baseline.
    """
    rows = []
    for gene, cell_type in drivers or SIMULATED_MARKER_DRIVERS:
        if gene not in set(map(str, model.genes)):
            continue
        result = explain_gene(
            model,
            mdata,
            gene,
            0.0,
            cell_type=cell_type,
            config=config,
            truth=truth,
            dose_response=False,
        )
        planted = result.validation["planted"]
        rows.append(
            {
                "gene": gene,
                "cell_type": cell_type,
                "change": "; ".join(result.changes),
                "n_planted": planted["flips"]["n_planted"],
                "random": planted["flips"]["prevalence"],
            }
            | {f"{k}_auprc": planted[k]["auprc"] for k in ("flips", "shift", "correlation")}
        )
    return pd.DataFrame(rows)
