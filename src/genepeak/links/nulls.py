"""Matched null genes: genes that look like a target in expression, to calibrate its test.

Perturbing a gene moves the model's peaks partly through what the gene drives and partly
through how much input the perturbation changes: a gene expressed higher, or in more of the
cells, moves more. A target's null genes are therefore the genes most like it, *in the cells
that are perturbed*, in the two quantities that set the size of that change: the mean value
and the detection rate (the fraction of those cells in which the gene is above 0). This module
is the one rule that every caller uses (``explain.linking.link_scores``,
``explain.experiment.explain_gene``, the TSS-proximity check of ``explain.proximity``):

- each gene is described by the log of its mean and the log of its detection over the rows of
  ``x``; a gene at 0 in every row sits at half the smallest positive value of each, just below
  the least expressed gene. Each coordinate is divided by its standard deviation over the
  expressed genes, so that neither dominates (a coordinate that does not vary, as detection
  in one cell, is left as it is);
- a target's candidates are the other genes less ``exclude``; a target expressed in some row
  takes expressed genes only (a gene at 0 in every perturbed cell changes nothing when
  silenced, so it cannot stand for one that changes something);
- its null genes are the ``n_null`` candidates nearest to it (Euclidean distance), nearest
  first: deterministic, the closest match there is. Exact ties (common in one cell, where many
  genes share a value) are broken by the same distance over ``reference`` rows (e.g. every
  cell), then by a random order drawn from ``rng``.

Fewer candidates than ``n_null`` is an :class:`~genepeak.errors.InputError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from genepeak.errors import InputError

#: other targets are kept out of a target's null genes while at least this many times
#: ``n_null`` non-target genes qualify; fewer, and the targets serve as each other's null genes
OTHERS_FACTOR = 3


def expression_coordinates(x) -> np.ndarray:
    """``(genes, 2)`` standardised log mean and log detection of each column of ``x``.

    ``x`` is cells x genes (dense or sparse, non-negative). Genes at 0 in every row sit at half
    the smallest positive mean and detection; each coordinate is divided by its standard
    deviation over the expressed genes (by 1 where that is 0 or undefined).
    """
    n_rows = x.shape[0]
    if n_rows == 0:
        raise InputError("no cells to describe the genes' expression in")
    if sp.issparse(x):
        x = sp.csc_matrix(x)
        mean = np.asarray(x.mean(axis=0)).ravel()
        detected = np.asarray((x > 0).sum(axis=0)).ravel() / n_rows
    else:
        x = np.asarray(x)
        mean = x.mean(axis=0, dtype=np.float64)
        detected = (x > 0).mean(axis=0)
    expressed = detected > 0
    columns = []
    for value in (mean, detected):
        positive = value[expressed & (value > 0)]
        floor = 0.5 * positive.min() if positive.size else 1.0
        coordinate = np.log(np.maximum(value, floor))
        spread = np.std(coordinate[expressed]) if expressed.sum() > 1 else 0.0
        columns.append(coordinate / (spread if spread > 0 else 1.0))
    return np.column_stack(columns)


def matched_null_genes(
    x,
    targets: Sequence[int],
    n_null: int,
    rng: np.random.Generator,
    *,
    exclude_targets: bool | None = True,
    reference=None,
) -> np.ndarray:
    """The ``n_null`` genes nearest to each target in expression: ``(len(targets), n_null)``.

    Parameters
    ----------
    x
        The perturbed cells x genes (model input space, non-negative; dense or sparse).
    targets
        Column indices of the target genes.
    n_null
        Null genes per target.
    rng
        Breaks exact ties (after ``reference``) in a random order.
    exclude_targets
        True: no target is ever a null gene of another; False: only of itself; None: other
        targets are excluded while at least ``OTHERS_FACTOR * n_null`` non-target genes qualify,
        and serve as each other's null genes when fewer do (linking nearly every gene).
    reference
        Rows (e.g. every cell) whose expression breaks exact ties of the distance over ``x``.

    Returns
    -------
    Integer column indices, each row nearest first. A target never appears in its own row.
    """
    targets = np.asarray(targets, dtype=int).reshape(-1)
    n_genes = x.shape[1]
    if n_null < 1:
        return np.zeros((len(targets), 0), dtype=int)
    if targets.size and (targets.min() < 0 or targets.max() >= n_genes):
        raise InputError(f"target columns {targets.tolist()} are outside x's {n_genes} genes")
    coords = expression_coordinates(x)
    expressed = _expressed(x)
    second = None
    if reference is not None:
        if reference.shape[1] != n_genes:
            raise InputError(f"reference has {reference.shape[1]} genes, x has {n_genes}")
        second = expression_coordinates(reference)
    order = rng.random(n_genes)
    is_target = np.zeros(n_genes, dtype=bool)
    is_target[targets] = True
    if exclude_targets is None:
        exclude_targets = (expressed & ~is_target).sum() >= OTHERS_FACTOR * n_null
    out = np.empty((len(targets), n_null), dtype=int)
    for row, target in enumerate(targets):
        allowed = ~is_target if exclude_targets else np.ones(n_genes, dtype=bool)
        allowed[target] = False
        if expressed[target]:
            allowed &= expressed
        candidates = np.flatnonzero(allowed)
        if len(candidates) < n_null:
            raise InputError(
                f"only {len(candidates)} genes can be null genes of gene column {target} "
                f"({_which(expressed[target], exclude_targets)}); {n_null} were asked for. "
                "Ask for fewer null genes, link fewer genes at once or use more cells"
            )
        distance = np.linalg.norm(coords[candidates] - coords[target], axis=1)
        keys = [order[candidates]]
        if second is not None:
            keys.append(np.linalg.norm(second[candidates] - second[target], axis=1))
        keys.append(distance)
        out[row] = candidates[np.lexsort(keys)[:n_null]]
    return out


def _expressed(x) -> np.ndarray:
    """Genes above 0 in some row of ``x``."""
    if sp.issparse(x):
        return np.asarray((x > 0).sum(axis=0)).ravel() > 0
    return (np.asarray(x) > 0).any(axis=0)


def _which(expressed: bool, exclude_targets: bool) -> str:
    """What a target's candidates were, for the error message."""
    parts = ["other genes"]
    if expressed:
        parts.append("expressed in these cells")
    if exclude_targets:
        parts.append("not a target")
    return ", ".join(parts)
