"""Held-out evaluation of models against baselines: latents, peak and gene prediction.

``evaluate(mdata, models)`` scores every model and baseline on the same split's test cells;
``genepeak.evaluate.metrics`` holds the pure metric functions.
"""

from genepeak._utils import make_module_callable
from genepeak.evaluate.evaluation import CEILING_NOTE, evaluate, score_predictor
from genepeak.evaluate.result import HEADLINE, LATENT_COLUMNS, EvaluationResult, Headline

__all__ = [
    "CEILING_NOTE",
    "HEADLINE",
    "LATENT_COLUMNS",
    "EvaluationResult",
    "Headline",
    "evaluate",
    "score_predictor",
]

make_module_callable(__name__, "genepeak.evaluate.evaluation:evaluate")
