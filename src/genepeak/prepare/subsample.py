"""Stratified subsampling of paired cells by a reference label (e.g. 30% of PBMC 10k by cluster)."""

from __future__ import annotations

import mudata as md
import numpy as np
import pandas as pd

from genepeak.errors import ConfigError, InputError
from genepeak.io.pairing import paired_mudata


def stratified_indices(labels: pd.Series | np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted positions of a ``fraction`` of cells drawn within each label.

    Each label keeps ``round(fraction * n)`` cells, at least one, so rare types survive.
    """
    if not 0 < fraction <= 1:
        raise ConfigError(f"subsample fraction must be in (0, 1], got {fraction!r}")
    values = pd.Series(np.asarray(labels, dtype=object)).astype(str)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in sorted(values.unique()):
        members = np.flatnonzero(values.to_numpy() == label)
        take = max(1, int(round(fraction * members.size)))
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen))


def subsample_stratified(mdata: md.MuData, fraction: float, key: str, seed: int = 0) -> md.MuData:
    """A paired MuData with ``fraction`` of the cells of every ``key`` group (seeded).

    ``key`` is looked up in ``mdata.obs`` and then in the RNA obs.
    """
    if key in mdata.obs:
        labels = mdata.obs[key]
    elif "rna" in mdata.mod and key in mdata.mod["rna"].obs:
        labels = mdata.mod["rna"].obs[key].reindex(mdata.obs_names)
    else:
        columns = sorted(set(mdata.obs.columns) | set(mdata.mod["rna"].obs.columns))
        raise InputError(f"subsample key {key!r} is not an obs column; available: {columns}")
    positions = stratified_indices(labels, fraction, seed)
    cells = mdata.obs_names[positions]
    mods = {name: adata[cells].copy() for name, adata in mdata.mod.items()}
    out = paired_mudata(**mods)
    for column in mdata.obs.columns:
        if ":" not in column:
            out.obs[column] = mdata.obs.loc[cells, column].values
    out.uns.update(mdata.uns)
    return out
