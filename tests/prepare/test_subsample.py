"""Stratified subsampling by reference label."""

from __future__ import annotations

import numpy as np
import pytest

from genepeak.errors import ConfigError, InputError
from genepeak.prepare.subsample import stratified_indices, subsample_stratified


def test_stratified_indices_per_label():
    labels = np.array(["a"] * 10 + ["b"] * 4 + ["c"])
    chosen = stratified_indices(labels, 0.3, seed=1)
    picked = labels[chosen]
    # round(0.3 * 10) = 3, round(0.3 * 4) = 1, and the single "c" cell is kept (at least one)
    assert (picked == "a").sum() == 3 and (picked == "b").sum() == 1 and (picked == "c").sum() == 1
    assert np.all(np.diff(chosen) > 0)
    assert stratified_indices(labels, 0.3, seed=1).tolist() == chosen.tolist()
    assert stratified_indices(labels, 0.3, seed=2).tolist() != chosen.tolist()
    with pytest.raises(ConfigError, match=r"fraction must be in \(0, 1\]"):
        stratified_indices(labels, 0.0, seed=0)


def test_subsample_keeps_pairing_and_labels(tiny_mdata):
    out = subsample_stratified(tiny_mdata, 0.25, key="leiden", seed=0)
    counts = tiny_mdata.obs["leiden"].value_counts()
    kept = out.obs["leiden"].value_counts()
    for label, n in counts.items():
        assert kept[label] == max(1, round(0.25 * n))
    assert list(out.mod["rna"].obs_names) == list(out.mod["atac"].obs_names) == list(out.obs_names)
    assert out.obs["leiden"].dtype.name == "category"
    assert out.uns["genepeak"] == tiny_mdata.uns["genepeak"]
    with pytest.raises(InputError, match="subsample key 'cluster' is not an obs column"):
        subsample_stratified(tiny_mdata, 0.5, key="cluster", seed=0)
