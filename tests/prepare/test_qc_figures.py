"""QC figures of the preparation step (report/qc.py)."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from genepeak.config import PrepareConfig
from genepeak.errors import InputError
from genepeak.prepare.pipeline import prepare
from genepeak.report.qc import plot_prepare_qc


def test_figures_from_a_prepared_mudata(arc_outs, tmp_path):
    folder, _ = arc_outs
    mdata = prepare(folder, PrepareConfig(n_top_genes=50, compute_umap=False, run_scrublet=False))
    paths = plot_prepare_qc(mdata, tmp_path / "fig")
    # no UMAP was computed and no ATAC metric exists, so neither figure
    assert sorted(paths) == ["hvg_dispersion", "peak_activity", "qc_rules", "qc_violins"]
    for path in paths.values():
        image = mpimg.imread(path)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
        assert image[..., :3].std() > 0.05  # something was drawn


def test_atac_qc_figure_from_arc_barcode_metrics(arc_outs, tmp_path):
    """ARC's per_barcode_metrics.csv gives FRiP and TSS fraction: their rules and figure."""
    folder, _ = arc_outs
    raw = prepare(folder, PrepareConfig(n_top_genes=50, compute_umap=False, run_scrublet=False))
    barcodes = raw.uns["genepeak"]["qc_before"].index
    rng = np.random.default_rng(0)
    fragments = rng.integers(8000, 12000, len(barcodes))
    frame = pd.DataFrame(
        {
            "barcode": barcodes,
            "atac_fragments": fragments,
            "atac_TSS_fragments": (fragments * rng.uniform(0.3, 0.35, len(barcodes))).astype(int),
            "atac_peak_region_fragments": (fragments * 0.6).astype(int),
        }
    )
    frame.loc[0, "atac_peak_region_fragments"] = 100  # FRiP 0.01: an ATAC outlier
    frame.to_csv(folder / "per_barcode_metrics.csv", index=False)
    mdata = prepare(folder, PrepareConfig(n_top_genes=50, compute_umap=False, run_scrublet=False))
    rules = mdata.uns["genepeak"]["qc_rules"].set_index("metric")
    assert rules.loc["atac_frip", "n_removed"] == 1 and barcodes[0] not in mdata.obs_names
    assert rules.loc["atac_tss_fraction", "n_removed"] == 0
    paths = plot_prepare_qc(mdata, tmp_path / "fig")
    assert {"atac_qc", "qc_rules"} <= set(paths)
    assert mpimg.imread(paths["atac_qc"])[..., :3].std() > 0.05


def test_figures_need_a_prepared_mudata(tiny_mdata, tmp_path):
    del tiny_mdata.uns["genepeak"]
    with pytest.raises(InputError, match=r"needs a MuData from genepeak.prepare"):
        plot_prepare_qc(tiny_mdata, tmp_path)
