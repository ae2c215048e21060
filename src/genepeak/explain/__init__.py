"""In-silico gene perturbation: Monte-Carlo state flips, null model, links and validation."""

from genepeak._utils import make_module_callable
from genepeak.explain.cells import PBMC_MARKERS, cells_of_type, representative_cell
from genepeak.explain.experiment import (
    DESIGN_EXPERIMENTS,
    ExplainResult,
    explain,
    explain_gene,
)
from genepeak.explain.linking import link_scores
from genepeak.explain.null import benjamini_hochberg, empirical_pvalues, matched_null_genes
from genepeak.explain.perturb import choose_threshold, count_flips
from genepeak.explain.validate import correlation_scores, recovery_metrics, tss_enrichment

__all__ = [
    "DESIGN_EXPERIMENTS",
    "PBMC_MARKERS",
    "ExplainResult",
    "benjamini_hochberg",
    "cells_of_type",
    "choose_threshold",
    "correlation_scores",
    "count_flips",
    "empirical_pvalues",
    "explain",
    "explain_gene",
    "link_scores",
    "matched_null_genes",
    "recovery_metrics",
    "representative_cell",
    "tss_enrichment",
]

make_module_callable(__name__, "genepeak.explain.experiment:explain")
