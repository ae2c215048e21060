"""The pictures of links: the track plot's arcs and the peak-to-gene heatmap, from the data."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.patches import Arc

matplotlib.use("Agg")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "links"))
from link_fakes import COPY, FAR_COPY, make_link_mdata  # noqa: E402

from genepeak.links.genome import LinkOptions, link_genes  # noqa: E402
from genepeak.report.link_figures import link_heatmap, track_plot  # noqa: E402


def _links():
    mdata = make_link_mdata()
    codes = pd.factorize(mdata.obs["leiden"])[0]
    mdata.mod["rna"].obsm["X_pca"] = np.eye(3)[codes][:, 1:]
    options = LinkOptions(window=1_000_000, state_pcs=2, min_cells=10)
    return mdata, link_genes(mdata, ["GA", "GB"], groupby="leiden", options=options).links


def test_track_plot_draws_an_arc_per_tested_peak_thick_where_called():
    mdata, links = _links()
    fig = track_plot(mdata, links, "GA", groupby="leiden")
    arcs = [p for ax in fig.axes for p in ax.patches if isinstance(p, Arc)]
    tested = links[(links["gene"] == "GA") & (links["group"] == "all")]
    assert len(arcs) == len(tested)
    thick = sorted(a.get_linewidth() for a in arcs)[-int(tested["called"].sum()) :]
    assert min(thick) > 2.0 and tested.set_index("peak").loc[[COPY, FAR_COPY], "called"].all()
    # one link with huge log odds does not wash the others out: their colours stay strong
    links = links.copy()
    ga = (links["gene"] == "GA") & (links["group"] == "all")
    links.loc[ga, "link_score"] = np.where(links.loc[ga, "peak"] == COPY, 300.0, 8.0)
    fig = track_plot(mdata, links, "GA", groupby="leiden")
    arcs = [p for ax in fig.axes for p in ax.patches if isinstance(p, Arc)]
    assert all(min(a.get_edgecolor()[:3]) < 0.5 for a in arcs)  # saturated reds, not near white


def test_heatmap_shows_each_top_link_in_every_group():
    mdata, links = _links()
    fig = link_heatmap(mdata, links, "leiden")
    images = [im for ax in fig.axes for im in ax.images]
    called = links[(links["group"] == "all") & links["called"]]
    assert len(images) == 2  # gene expression beside peak accessibility
    for image in images:
        assert image.get_array().shape == (len(called), 3)  # links x the three groups
