"""Row / column access to the prepared MuData for scoring, and the train / val / test split."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from genepeak.errors import InputError

SPLIT_KEYS = ("train", "val", "test")


def require_modalities(mdata) -> None:
    """Raise InputError unless ``mdata`` has the ``rna`` and ``atac`` modalities."""
    missing = [m for m in ("rna", "atac") if m not in getattr(mdata, "mod", {})]
    if missing:
        raise InputError(
            f"evaluation needs a prepared MuData with modalities 'rna' and 'atac'; "
            f"missing: {', '.join(missing)} (run genepeak.prepare first)"
        )


def indexer(names, wanted: Sequence[str], what: str) -> np.ndarray:
    """Positions of ``wanted`` in the pandas Index ``names``; InputError naming what is absent."""
    positions = names.get_indexer(np.asarray(wanted, dtype=str))
    if (positions < 0).any():
        absent = np.asarray(wanted)[positions < 0]
        raise InputError(
            f"{len(absent)} {what} are not in the MuData (first: {absent[0]!r}); "
            "evaluate a model on the MuData it was trained on"
        )
    return positions


def dense_rows(matrix, rows: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
    """Dense copy of the selected rows (and columns) only; never the whole matrix."""
    sub = matrix[rows]
    if cols is not None:
        sub = sub[:, cols]
    return sub.toarray() if sp.issparse(sub) else np.asarray(sub)


def gene_values(mdata, cells: Sequence[str], genes: Sequence[str] | None = None) -> np.ndarray:
    """``rna.X`` (log1p size-factor-normalised) of ``cells`` x ``genes`` as float32."""
    rna = mdata.mod["rna"]
    rows = indexer(rna.obs_names, cells, "cells")
    cols = None if genes is None else indexer(rna.var_names, genes, "genes")
    return dense_rows(rna.X, rows, cols).astype(np.float32)


def peak_counts_matrix(atac):
    """Raw peak counts (``layers['counts']``), or ``X`` when the layer is absent."""
    return atac.layers["counts"] if "counts" in atac.layers else atac.X


def peaks_open(mdata, cells: Sequence[str], peaks: Sequence[str] | None = None) -> np.ndarray:
    """Observed openness (raw count > 0) of ``cells`` x ``peaks`` as a boolean array."""
    atac = mdata.mod["atac"]
    rows = indexer(atac.obs_names, cells, "cells")
    cols = None if peaks is None else indexer(atac.var_names, peaks, "peaks")
    return dense_rows(peak_counts_matrix(atac), rows, cols) > 0


def labels_of(mdata, cells: Sequence[str], labels_key: str) -> np.ndarray:
    """Reference labels (as strings) of ``cells`` from ``mdata.obs[labels_key]``."""
    if labels_key not in mdata.obs.columns:
        rna_obs = mdata.mod["rna"].obs
        if labels_key in rna_obs.columns:
            series = rna_obs[labels_key]
        else:
            raise InputError(
                f"reference labels {labels_key!r} are not in mdata.obs (columns: "
                f"{', '.join(map(str, mdata.obs.columns)) or 'none'}); pass labels_key= one of them"
            )
    else:
        series = mdata.obs[labels_key]
    rows = indexer(series.index, cells, "cells")
    return series.astype(str).to_numpy()[rows]


def check_split(split: Mapping[str, Sequence[str]], mdata) -> dict[str, np.ndarray]:
    """Validate a split: train / val / test keys, disjoint, every cell in the MuData."""
    missing = [k for k in SPLIT_KEYS if k not in split]
    if missing:
        raise InputError(f"split lacks {', '.join(missing)}; expected keys train, val, test")
    out = {k: np.asarray(split[k]).astype(str) for k in SPLIT_KEYS}
    for key in SPLIT_KEYS:
        if len(out[key]) == 0:
            raise InputError(f"split[{key!r}] is empty; evaluation needs cells in every part")
        indexer(mdata.obs_names, out[key], f"split[{key!r}] cells")
    if set(out["train"]) & set(out["test"]) or set(out["val"]) & set(out["test"]):
        raise InputError("split: test cells overlap training or validation cells")
    if set(out["train"]) & set(out["val"]):
        raise InputError("split: validation cells overlap training cells")
    return out


def make_split(
    mdata, labels_key: str, seed: int, val_fraction: float = 0.1, test_fraction: float = 0.2
) -> dict[str, np.ndarray]:
    """The models' own stratified split (``genepeak.train.split``) of ``mdata``'s cells."""
    from genepeak.train.split import stratified_split

    names = np.asarray(mdata.obs_names).astype(str)
    labels = labels_of(mdata, names, labels_key)
    return stratified_split(names, labels, val_fraction, test_fraction, seed)
