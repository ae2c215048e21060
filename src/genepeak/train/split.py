"""Train / validation / test split of cells, stratified by a label and fixed by a seed."""

from __future__ import annotations

import numpy as np

SPLIT_NAMES = ("train", "val", "test")


def stratified_split(
    obs_names: np.ndarray,
    labels: np.ndarray | None,
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> dict[str, np.ndarray]:
    """Split cells so that every label is represented in each part in proportion.

    Each label's cells are shuffled (seeded); ``round(n * fraction)`` go to test and val, but a
    label always keeps at least one training cell, so classes of one or two cells stay usable.
    When rounding leaves the validation set empty although ``val_fraction > 0``, one training
    cell of the largest label moves there.

    Returns
    -------
    ``{"train": names, "val": names, "test": names}`` (numpy arrays of str, in obs order).
    """
    obs_names = np.asarray(obs_names).astype(str)
    n = len(obs_names)
    labels = np.zeros(n, dtype=int) if labels is None else np.asarray(labels).astype(str)
    rng = np.random.default_rng(seed)
    part = np.zeros(n, dtype=int)  # 0 train, 1 val, 2 test
    classes, counts = np.unique(labels, return_counts=True)
    for cls in classes:
        members = rng.permutation(np.flatnonzero(labels == cls))
        n_test = int(round(len(members) * test_fraction))
        n_val = int(round(len(members) * val_fraction))
        spare = len(members) - 1  # at least one training cell per label
        n_test = min(n_test, spare)
        n_val = min(n_val, spare - n_test)
        part[members[:n_test]] = 2
        part[members[n_test : n_test + n_val]] = 1
    if val_fraction > 0 and not (part == 1).any():
        largest = classes[np.argmax(counts)]
        candidates = np.flatnonzero((labels == largest) & (part == 0))
        if len(candidates) > 1:
            part[rng.choice(candidates)] = 1
    return {name: obs_names[part == i] for i, name in enumerate(SPLIT_NAMES)}
