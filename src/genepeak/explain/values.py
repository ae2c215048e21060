"""What is perturbed: the genes, their new values, and the cells' rows in model input space.

Read from the prepared MuData through :mod:`genepeak.io.prepared` (feature and cell lookup,
size factors, raw counts). Model input space is ``log1p(count / size_factor)``.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from genepeak.errors import AbsentGeneError, InputError
from genepeak.explain.model import ExplainableModel
from genepeak.io import prepared


def _data_gene_names(rna) -> set[str]:
    """Gene names known to exist before preprocessing (``rna.raw``) or after it."""
    names = set(map(str, rna.var_names))
    if getattr(rna, "raw", None) is not None:
        names.update(map(str, rna.raw.var_names))
    return names


def _absent_gene(gene: str, model_genes: pd.Index, rna) -> AbsentGeneError:
    """The error for a gene outside ``model.genes``: filtered out, misspelt or unknown."""
    if gene in _data_gene_names(rna):
        return AbsentGeneError(
            f"gene {gene!r} is in the data but not among the model's {len(model_genes)} "
            "genes: it was filtered out by preprocessing or by the model's gene selection "
            "(e.g. genes='hvg'); retrain with ModelConfig.genes='all' or lower "
            "PrepareConfig.min_cells_per_gene to keep it"
        )
    upper = {g.upper(): g for g in model_genes}
    if gene.upper() in upper:
        return AbsentGeneError(
            f"unknown gene {gene!r}; gene names are case-sensitive: did you mean {upper[gene.upper()]!r}?"
        )
    close = difflib.get_close_matches(gene, list(model_genes), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return AbsentGeneError(
        f"unknown gene {gene!r}: it is not among the model's {len(model_genes)} genes.{hint}"
    )


def gene_indices(model: ExplainableModel, mdata, genes: list[str]) -> list[int]:
    """Column indices of ``genes`` in ``model.genes``; AbsentGeneError for an absent gene."""
    if not genes:
        raise InputError("no gene to perturb was given")
    model_genes = pd.Index([str(g) for g in model.genes])
    out = []
    for gene in genes:
        if gene not in model_genes:
            raise _absent_gene(gene, model_genes, mdata.mod["rna"])
        out.append(int(model_genes.get_loc(gene)))
    if len(set(out)) != len(out):
        raise InputError(f"a gene is listed twice in {genes}")
    return out


def check_values(values: list[float], genes: list[str]) -> list[float]:
    """Validate new values: one per gene, finite and non-negative."""
    if len(values) != len(genes):
        raise InputError(
            f"{len(values)} value(s) given for {len(genes)} gene(s) {genes}; give one value per gene"
        )
    out = []
    for gene, value in zip(genes, values):
        try:
            v = float(value)
        except (TypeError, ValueError) as err:
            raise InputError(f"value for {gene} must be a number, got {value!r}") from err
        if not np.isfinite(v):
            raise InputError(f"value for {gene} must be finite, got {value!r}")
        if v < 0:
            raise InputError(
                f"value for {gene} must be >= 0 (log1p of normalised counts, or a raw count), "
                f"got {value!r}"
            )
        out.append(v)
    return out


def count_to_model_value(count: float, size_factor: float) -> float:
    """Raw count -> model input space, ``log1p(count / size_factor)`` (the prepared contract)."""
    return float(np.log1p(count / size_factor))


def model_value_to_count(value: float, size_factor: float) -> float:
    """Model input space -> the equivalent raw count of this cell."""
    return float(np.expm1(value) * size_factor)


def _format_count(count: float) -> str:
    return f"{count:.0f}" if abs(count - round(count)) < 0.05 or count >= 100 else f"{count:.1f}"


def format_change(
    gene: str, before: float, before_count: float, after: float, after_count: float
) -> str:
    """``NKG7 3.67 (18) -> 2.89 (8)``: model-space value and raw count, before and after."""
    return (
        f"{gene} {before:.2f} ({_format_count(before_count)}) -> "
        f"{after:.2f} ({_format_count(after_count)})"
    )


def cell_size_factor(rna, cell: str) -> float:
    """The cell's size factor (:func:`genepeak.io.prepared.size_factors`), checked positive."""
    sf = float(prepared.size_factors(rna)[prepared.cell_rows(rna.obs_names, [cell])[0]])
    if not np.isfinite(sf) or sf <= 0:
        raise InputError(f"cell {cell}: size factor {sf} is not positive")
    return sf


def model_rows(rna, model_genes: list[str], cells: list[str]) -> np.ndarray:
    """Dense float32 model-input rows (cells x model genes) of ``cells`` from ``rna.X``."""
    cols = prepared.feature_columns(
        rna, [str(g) for g in model_genes], "rna", "use the MuData the model was trained on"
    )
    return prepared.dense_block(rna.X, prepared.cell_rows(rna.obs_names, cells), cols)


def raw_count(rna, cell: str, gene: str) -> float | None:
    """The observed raw count of ``gene`` in ``cell`` (``layers['counts']``), if stored."""
    if "counts" not in rna.layers:
        return None
    row = prepared.cell_rows(rna.obs_names, [cell])[0]
    col = prepared.feature_columns(rna, [gene], "rna")[0]
    return float(prepared.counts(rna, "rna")[row, col])


def model_values(rna, cell: str, values: list[float], are_counts: bool) -> np.ndarray:
    """The new values in model input space; raw counts converted with the cell's size factor."""
    if not are_counts:
        return np.asarray(values, dtype=np.float32)
    sf = cell_size_factor(rna, cell)
    return np.asarray([count_to_model_value(v, sf) for v in values], dtype=np.float32)


def describe_changes(rna, cell, genes, before, after) -> list[str]:
    """``NKG7 3.67 (18) -> 2.89 (8)`` per gene: observed raw count before, equivalent after."""
    known = "size_factor" in rna.obs or "counts" in rna.layers
    sf = cell_size_factor(rna, cell) if known else 1.0
    out = []
    for gene, b, a in zip(genes, before, after):
        observed = raw_count(rna, cell, gene)
        b_count = observed if observed is not None else model_value_to_count(b, sf)
        out.append(format_change(gene, float(b), b_count, float(a), model_value_to_count(a, sf)))
    return out


def check_changes(rna, genes, cells, before, after) -> None:
    """Refuse a perturbation that changes nothing, naming a cell or a value that would."""
    if not np.allclose(before, after, atol=1e-6):
        return
    gene = genes[0]
    column = np.asarray(rna[:, gene].X.todense() if hasattr(rna.X, "todense") else rna[:, gene].X)
    best = str(rna.obs_names[int(np.argmax(column.ravel()))])
    where = f"cell {cells[0]}" if len(cells) == 1 else f"all {len(cells)} chosen cells"
    raise InputError(
        f"nothing to perturb: {', '.join(genes)} already "
        f"{'has' if len(genes) == 1 else 'have'} the new value in {where} "
        f"({', '.join(f'{v:.2f}' for v in np.unique(np.round(before, 2)))}). Choose a cell "
        f"where {gene} is expressed (it is highest in {best}) or set another value."
    )
