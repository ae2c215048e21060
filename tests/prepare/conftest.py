"""Fixtures of the prepare tests: a written Cell Ranger ARC outs folder."""

from __future__ import annotations

import pytest
from synthetic_arc import make_arc_counts

from genepeak.io.tenx_write import write_10x_h5


@pytest.fixture
def arc_outs(tmp_path):
    """Folder with filtered_feature_bc_matrix.h5; returns (folder, cell types)."""
    counts, barcodes, features, types = make_arc_counts()
    folder = tmp_path / "outs"
    write_10x_h5(folder / "filtered_feature_bc_matrix.h5", counts, barcodes, features)
    return folder, types
