"""Which cell to perturb: representative cells and populations chosen from marker genes.

Label-free: a cell type is defined by its marker genes, so the choice works on data without
annotations. The representative cell of a type is the cell with the highest mean expression
(model input space, ``rna.X``) of the type's markers.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd
import scipy.sparse as sp

from genepeak.errors import InputError

#: Standard PBMC marker programs (the reference design's five experiments use these types).
PBMC_MARKERS: dict[str, list[str]] = {
    "CD4 T": ["IL7R", "CD4", "CCR7", "LEF1", "TCF7", "MAL"],
    "CD8 T": ["CD8A", "CD8B", "GZMK", "CD3E"],
    "CD14 monocyte": ["CD14", "LYZ", "S100A8", "S100A9", "VCAN"],
    "CD16 monocyte": ["FCGR3A", "MS4A7", "LST1", "CDKN1C"],
    "B": ["CD79A", "MS4A1", "CD79B", "BANK1", "CD19"],
    "NK": ["NKG7", "GNLY", "KLRD1", "PRF1", "NCAM1"],
}

#: Short names users type, mapped onto the keys of :data:`PBMC_MARKERS`.
CELL_TYPE_ALIASES: dict[str, str] = {
    "monocyte": "CD14 monocyte",
    "mono": "CD14 monocyte",
    "cd14 mono": "CD14 monocyte",
    "cd16 mono": "CD16 monocyte",
    "fcgr3a mono": "CD16 monocyte",  # the simulator's name (genepeak.simulate.CELL_TYPES)
    "cd4": "CD4 T",
    "cd8": "CD8 T",
    "b cell": "B",
    "nk cell": "NK",
}


def marker_sets(markers: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """The PBMC defaults, updated with (and overridden by) user marker sets."""
    merged = dict(PBMC_MARKERS)
    merged.update(markers or {})
    return merged


def resolve_cell_type(cell_type: str, markers: dict[str, list[str]]) -> str:
    """Map a user-typed cell type onto a marker-set key, case-insensitively."""
    if cell_type in markers:
        return cell_type
    lower = {k.lower(): k for k in markers}
    key = cell_type.strip().lower()
    if key in lower:
        return lower[key]
    if key in CELL_TYPE_ALIASES and CELL_TYPE_ALIASES[key] in markers:
        return CELL_TYPE_ALIASES[key]
    close = difflib.get_close_matches(cell_type, list(markers), n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise InputError(
        f"unknown cell type {cell_type!r}.{hint} Known types (from marker sets): "
        f"{', '.join(markers)}; add your own with ExplainConfig.markers={{'{cell_type}': [genes]}}"
    )


def _gene_columns(rna, genes: list[str]) -> list[int]:
    index = pd.Index(rna.var_names)
    return [int(index.get_loc(g)) for g in genes if g in index]


def marker_scores(rna, markers: dict[str, list[str]]) -> pd.DataFrame:
    """Mean ``rna.X`` of each type's markers per cell (cells x types); NaN for types without any.

    Only the marker columns are read, so the gene matrix is never densified.
    """
    scores = {}
    for name, genes in markers.items():
        cols = _gene_columns(rna, genes)
        if not cols:
            scores[name] = np.full(rna.n_obs, np.nan)
            continue
        block = rna.X[:, cols]
        block = block.toarray() if sp.issparse(block) else np.asarray(block)
        scores[name] = block.mean(axis=1)
    return pd.DataFrame(scores, index=rna.obs_names)


def representative_cell(rna, cell_type: str, markers: dict[str, list[str]] | None = None) -> str:
    """Barcode of the cell with the highest mean expression of ``cell_type``'s markers."""
    sets = marker_sets(markers)
    name = resolve_cell_type(cell_type, sets)
    present = [g for g in sets[name] if g in rna.var_names]
    if not present:
        raise InputError(
            f"none of the markers of {name!r} ({', '.join(sets[name])}) is among the genes of "
            "the data; give markers that are present with ExplainConfig.markers"
        )
    score = marker_scores(rna, {name: present})[name].to_numpy()
    return str(rna.obs_names[int(np.argmax(score))])


def central_cell(rna) -> str:
    """Barcode of the cell closest (Euclidean, on ``rna.X``) to the mean profile of ``rna``."""
    x = sp.csr_matrix(rna.X, dtype=np.float64)
    centroid = np.asarray(x.mean(axis=0)).ravel()
    squared = np.asarray(x.multiply(x).sum(axis=1)).ravel() - 2.0 * (x @ centroid)
    return str(rna.obs_names[int(np.argmin(squared))])


def cells_of_type(
    rna,
    cell_type: str,
    markers: dict[str, list[str]] | None = None,
    labels: pd.Series | None = None,
) -> list[str]:
    """All cells of a type: by ``labels`` when they contain the type, else by marker scores.

    Label-free assignment: marker scores are standardised per type across cells and each cell
    goes to the type with the highest standardised score (only cells scoring above 0 count).
    """
    if labels is not None and cell_type in set(map(str, labels.unique())):
        return [str(c) for c in labels.index[labels.astype(str) == cell_type]]
    sets = marker_sets(markers)
    name = resolve_cell_type(cell_type, sets)
    scores = marker_scores(rna, sets).dropna(axis=1, how="all")
    if name not in scores:
        raise InputError(f"none of the markers of {name!r} is among the genes of the data")
    sd = scores.std(axis=0).replace(0, 1.0)
    z = (scores - scores.mean(axis=0)) / sd
    best = z.idxmax(axis=1)
    chosen = z.index[(best == name) & (z[name] > 0)]
    if len(chosen) == 0:
        raise InputError(f"no cell is assigned to {name!r} by its markers")
    return [str(c) for c in chosen]


def check_cells(rna, cells: list[str]) -> None:
    """Raise a clear error for barcodes that are not in the data."""
    index = pd.Index(rna.obs_names)
    missing = [c for c in cells if c not in index]
    if missing:
        close = difflib.get_close_matches(missing[0], [str(x) for x in index[:50_000]], n=3)
        hint = f" Close barcodes: {', '.join(close)}." if close else ""
        raise InputError(
            f"cell barcode {missing[0]!r} is not in the data ({rna.n_obs} cells, e.g. "
            f"{index[0]!r}).{hint}"
        )


def choose_cells(mdata, cell, cell_type, population, config, labels_key) -> list[str]:
    """The cells to perturb: the barcodes given, else the representative cell of a type.

    A type is found by ``mdata.obs[labels_key]`` when it names one of its labels (the cell
    nearest the label's centroid when the label has no marker set), else by its markers;
    ``population=True`` takes every cell of the type (:func:`cells_of_type`).
    """
    rna = mdata.mod["rna"]
    if cell is not None:
        chosen = [cell] if isinstance(cell, str | int | float) else list(cell)
        check_cells(rna, [str(c) for c in chosen])
        return [str(c) for c in chosen]
    if cell_type is None:
        raise InputError("give a cell barcode (cell=...) or a cell type (cell_type=...) to perturb")
    labels = mdata.obs[labels_key] if labels_key and labels_key in mdata.obs else None
    if population:
        return cells_of_type(rna, cell_type, config.markers, labels)
    if labels is not None and cell_type in set(map(str, labels.unique())):
        # the representative among the cells carrying that label
        members = labels.index[labels.astype(str) == cell_type]
        try:
            return [representative_cell(rna[members], cell_type, config.markers)]
        except InputError:  # a label without known markers: the cell nearest its centroid
            return [central_cell(rna[members])]
    return [representative_cell(rna, cell_type, config.markers)]
