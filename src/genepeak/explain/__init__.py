"""In-silico gene perturbation: Monte-Carlo state flips, null model, links and validation."""

from genepeak._utils import make_module_callable
from genepeak.explain.cells import PBMC_MARKERS, cells_of_type, representative_cell
from genepeak.explain.design import DESIGN_EXPERIMENTS, Experiments, explain
from genepeak.explain.experiment import ExplainResult, explain_gene
from genepeak.explain.linking import link_scores
from genepeak.explain.model import ExplainableModel
from genepeak.explain.perturb import choose_threshold, count_flips
from genepeak.explain.validate import correlation_scores, recovery_metrics, tss_enrichment
from genepeak.links.nulls import matched_null_genes

__all__ = [
    "DESIGN_EXPERIMENTS",
    "PBMC_MARKERS",
    "ExplainResult",
    "ExplainableModel",
    "Experiments",
    "cells_of_type",
    "choose_threshold",
    "correlation_scores",
    "count_flips",
    "explain",
    "explain_gene",
    "link_scores",
    "matched_null_genes",
    "recovery_metrics",
    "representative_cell",
    "tss_enrichment",
]

make_module_callable(__name__, "genepeak.explain.design:explain")
