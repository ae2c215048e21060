"""QC figures of the preparation step (report/qc.py)."""

from __future__ import annotations

import matplotlib.image as mpimg
import pytest

from genepeak.config import PrepareConfig
from genepeak.errors import InputError
from genepeak.prepare.pipeline import prepare
from genepeak.report.qc import plot_prepare_qc


def test_figures_from_a_prepared_mudata(arc_outs, tmp_path):
    folder, _ = arc_outs
    mdata = prepare(folder, PrepareConfig(n_top_genes=50, compute_umap=False, run_scrublet=False))
    paths = plot_prepare_qc(mdata, tmp_path / "fig")
    # no UMAP was computed, so no UMAP figure
    assert sorted(paths) == ["hvg_dispersion", "peak_activity", "qc_violins"]
    for path in paths.values():
        image = mpimg.imread(path)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
        assert image[..., :3].std() > 0.05  # something was drawn


def test_figures_need_a_prepared_mudata(tiny_mdata, tmp_path):
    del tiny_mdata.uns["genepeak"]
    with pytest.raises(InputError, match=r"needs a MuData from genepeak.prepare"):
        plot_prepare_qc(tiny_mdata, tmp_path)
