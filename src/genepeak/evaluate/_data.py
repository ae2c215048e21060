"""Row / column access to the prepared MuData for scoring, and the train / val / test split.

Lookups go through :mod:`genepeak.io.prepared` (one error form), with evaluation's hint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from genepeak.errors import InputError
from genepeak.io import prepared
from genepeak.train.split import SPLIT_NAMES, stratified_split

#: what to do when evaluation meets cells or features its MuData lacks
SAME_DATA = "evaluate a model on the MuData it was trained on"


def require_modalities(mdata) -> None:
    """Raise InputError unless ``mdata`` has the ``rna`` and ``atac`` modalities."""
    prepared.require_modalities(mdata, "evaluation")


def cell_positions(adata, cells: Sequence[str], modality: str) -> np.ndarray:
    """Rows of ``cells`` in the ``modality`` AnnData; InputError naming the absent ones."""
    where = f"mdata.mod['{modality}'].obs_names"
    return prepared.positions(adata.obs_names, cells, "cells", where, SAME_DATA)


def gene_values(mdata, cells: Sequence[str], genes: Sequence[str] | None = None) -> np.ndarray:
    """``rna.X`` (log1p size-factor-normalised) of ``cells`` x ``genes`` as float32."""
    rna = mdata.mod["rna"]
    rows = cell_positions(rna, cells, "rna")
    cols = None if genes is None else prepared.feature_columns(rna, genes, "rna", SAME_DATA)
    return prepared.dense_block(rna.X, rows, cols)


def peak_counts_matrix(atac):
    """Raw peak counts (``layers['counts']``), or ``X`` when the layer is absent."""
    return atac.layers["counts"] if "counts" in atac.layers else atac.X


def peaks_open(mdata, cells: Sequence[str], peaks: Sequence[str] | None = None) -> np.ndarray:
    """Observed openness (raw count > 0) of ``cells`` x ``peaks`` as a boolean array."""
    atac = mdata.mod["atac"]
    rows = cell_positions(atac, cells, "atac")
    cols = None if peaks is None else prepared.feature_columns(atac, peaks, "atac", SAME_DATA)
    return prepared.dense_block(peak_counts_matrix(atac), rows, cols) > 0


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
    rows = prepared.positions(series.index, cells, "cells", f"the {labels_key!r} labels", SAME_DATA)
    return series.astype(str).to_numpy()[rows]


def check_split(split: Mapping[str, Sequence[str]], mdata) -> dict[str, np.ndarray]:
    """Validate a split: train / val / test keys, disjoint, every cell in the MuData."""
    missing = [k for k in SPLIT_NAMES if k not in split]
    if missing:
        raise InputError(f"split lacks {', '.join(missing)}; expected keys train, val, test")
    out = {k: np.asarray(split[k]).astype(str) for k in SPLIT_NAMES}
    for key in SPLIT_NAMES:
        if len(out[key]) == 0:
            raise InputError(f"split[{key!r}] is empty; evaluation needs cells in every part")
        prepared.positions(mdata.obs_names, out[key], f"split[{key!r}] cells", "mdata.obs_names")
    if set(out["train"]) & set(out["test"]) or set(out["val"]) & set(out["test"]):
        raise InputError("split: test cells overlap training or validation cells")
    if set(out["train"]) & set(out["val"]):
        raise InputError("split: validation cells overlap training cells")
    return out


def make_split(
    mdata, labels_key: str, seed: int, val_fraction: float = 0.1, test_fraction: float = 0.2
) -> dict[str, np.ndarray]:
    """The models' own stratified split (``genepeak.train.split``) of ``mdata``'s cells."""
    names = np.asarray(mdata.obs_names).astype(str)
    labels = labels_of(mdata, names, labels_key)
    return stratified_split(names, labels, val_fraction, test_fraction, seed)
