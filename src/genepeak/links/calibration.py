"""Calibration of a perturbation's effects on peaks: one gene's effect on every peak against
the effects of its matched null genes (``links/nulls.py``), put on an empirical null.

A model-free home for the statistics behind ``genepeak.explain.link_scores`` and
``explain_gene``: ``genepeak.explain`` perturbs a trained model (silences a gene, reads the mean
change of every peak) and hands the effects here. For each peak, the null genes give the mean
and spread of effects that a gene of that expression causes there (the spread moderated towards
the median over peaks, as limma does with gene variances). The target's z-score against them is
put on an empirical null (Efron 2004): the gene's own peaks beyond its cis window give the
centre and scale of z under "this gene drives nothing", and the null genes' leave-one-out
z-scores say how much wider the null is within the window (a cis weight adds its own noise
there). Each gene's effects are first divided by their robust spread, so that genes the model
listens to more do not look linked everywhere. Two-sided t p-values (N - 1 degrees of freedom)
and Benjamini-Hochberg follow. The single experiment's score is ``z**2 / 2`` plus a prior
falling with distance at ``decay`` (:func:`decay_prior`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from genepeak.links.baselines import benjamini_hochberg
from genepeak.links.state import empirical_null, p_values

#: distance (bp) below which the prior stops rising: a promoter-sized neighbourhood
PRIOR_FLOOR = 5_000
#: the distance that a peak on another chromosome counts as in the prior
TRANS_DISTANCE = 100_000_000


def moderated_z(effect: np.ndarray, null: np.ndarray) -> np.ndarray:
    """z of ``effect`` (..., peaks) against null effects (N, peaks), per-peak spread moderated.

    The per-peak variance of the N null effects is shrunk towards its median over peaks with
    the weight of ``N - 1`` against ``D0`` prior degrees of freedom.
    """
    n = null.shape[0]
    centre = null.mean(axis=0)
    variance = null.var(axis=0, ddof=1)
    # peaks that no null gene moves at all (variance 0) would put the prior at 0
    moved = variance[variance > 0]
    prior = float(np.median(moved)) if moved.size else 1e-30
    pooled = ((n - 1) * variance + D0 * prior) / (n - 1 + D0)
    return (effect - centre) / np.sqrt(pooled * (1.0 + 1.0 / n))


#: prior degrees of freedom of the moderated per-peak null variance
D0 = 4.0


def leave_one_out_z(null: np.ndarray) -> np.ndarray:
    """Each null gene's z against the other null genes, ``(N, peaks)``."""
    out = np.empty_like(null)
    for i in range(null.shape[0]):
        out[i] = moderated_z(null[i], np.delete(null, i, axis=0))
    return out


def influence(effect: np.ndarray, bulk: np.ndarray) -> float:
    """Robust spread (MAD, normal consistency) of a gene's effects over its ``bulk`` peaks."""
    return robust_spread(effect[bulk] if bulk.sum() >= MIN_BULK else effect)


def robust_spread(values: np.ndarray) -> float:
    """MAD (normal consistency) of ``values``; their SD when the MAD is 0; 1 when both are."""
    scale = float(stats.median_abs_deviation(values, scale="normal"))
    if scale <= 0:
        scale = float(np.std(values))
    return scale if scale > 0 else 1.0


#: peaks beyond the window needed to estimate a gene's own null; fewer: all its peaks
MIN_BULK = 50


def cis_inflation(null: np.ndarray, null_in_window: np.ndarray) -> float:
    """How much wider null z-scores are within the cis window than beyond it (>= 1).

    Measured on the null genes' leave-one-out z-scores: a cis weight adds noise to the pairs
    it covers, which the gene's bulk of distant peaks does not show.
    """
    z_null = leave_one_out_z(null)
    inside, outside = z_null[null_in_window], z_null[~null_in_window]
    if inside.size < 10 or outside.size < 10:
        return 1.0
    ratio = empirical_null(inside)[1] / empirical_null(outside)[1]
    return float(np.clip(ratio, 1.0, 10.0))


def decay_prior(distance: np.ndarray, decay: float) -> np.ndarray:
    """ln prior of a link at ``distance`` bp (NaN = another chromosome), up to a constant."""
    d = np.where(np.isnan(distance), TRANS_DISTANCE, np.abs(distance))
    return -decay * np.log(np.maximum(d, PRIOR_FLOOR) / PRIOR_FLOOR)


def gene_link_table(
    gene: str,
    effect: np.ndarray,
    null: np.ndarray,
    in_window: np.ndarray,
    null_in_window: np.ndarray,
    distance: np.ndarray,
    decay: float,
    state_t: np.ndarray | None = None,
    state_z: np.ndarray | None = None,
) -> pd.DataFrame:
    """Calibrated statistics of one gene's effects on every peak (one row per peak).

    ``state_t`` / ``state_z``: the gene's state-adjusted t on every peak and its z against the
    gene's own peaks beyond the window (``links/state.py``), with ``state_p_value`` inside the
    window. The link score here is the perturbation evidence ``zscore**2 / 2`` plus the prior
    at ``decay``; :func:`genepeak.explain.link_scores` replaces it by the state-adjusted one.
    """
    raw_effect = effect
    # a gene's influence (how much the model responds to it at all) varies between genes;
    # dividing each gene's effects by their spread over its distant peaks leaves each peak's
    # null a plain scale family instead of a heavy-tailed mixture of influences
    effect = effect / influence(effect, ~in_window)
    null = null / np.array([[influence(n, ~w)] for n, w in zip(null, null_in_window)])
    z_raw = moderated_z(effect, null)
    # the gene's own bulk of peaks beyond its window is the null of its z (Efron): a gene
    # that moves the model more than its null genes do inflates every peak alike
    bulk = z_raw[~in_window] if (~in_window).sum() >= MIN_BULK else z_raw
    centre, scale = empirical_null(bulk)
    z = (z_raw - centre) / (scale * np.where(in_window, cis_inflation(null, null_in_window), 1.0))
    p_value = 2.0 * stats.t.sf(np.abs(z), df=max(null.shape[0] - 1, 1))
    prior = decay_prior(distance, decay)
    table = pd.DataFrame(
        {
            "gene": gene,
            "effect": raw_effect,
            "perturbation_effect": np.abs(raw_effect),
            "zscore": z,
            "p_value": p_value,
            "fdr": benjamini_hochberg(p_value),
            "distance_to_tss": distance,
            "prior_only": prior,
        }
    )
    table["link_score"] = 0.5 * z**2 + prior
    if state_t is not None:
        table["state_t"], table["state_z"] = state_t, state_z
        table["state_p_value"] = p_values(state_z, in_window)
    return table
