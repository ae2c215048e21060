"""Writing a :class:`~genepeak.links.genome.LinkResult`: tables, browser tracks, one HTML page.

Computing stays in ``links/genome.py`` and drawing in ``report/link_figures.py``; this module
only writes. The whole folder is written next to its destination and renamed into place, so
an interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from genepeak._utils import atomic_path, log
from genepeak.errors import InputError
from genepeak.links.genome import LinkResult
from genepeak.outputs import write_bedpe, write_signac_links, write_tsv

#: genes drawn as track plots on the page (the best-scored called links' genes)
TRACK_GENES = 4
#: links in the page's heatmap and table
TOP_LINKS = 40


def browser_rows(result: LinkResult, group: str = "all") -> pd.DataFrame:
    """The called links of ``group`` in the columns the BEDPE / Signac writers read."""
    called = result.called(group)
    return pd.DataFrame(
        {
            "gene": called["gene"].astype(str).to_numpy(),
            "peak": called["peak"].astype(str).to_numpy(),
            "chrom": called["chrom"].astype(str).to_numpy(),
            "start": called["start"].to_numpy(),
            "end": called["end"].to_numpy(),
            "direction": np.where(called["partial_r"].to_numpy() >= 0, "positive", "negative"),
            "score": called["link_score"].to_numpy(),
            "zscore": called["z"].to_numpy(),
            "p_value": called["p_value"].to_numpy(),
        }
    )


def top_genes(result: LinkResult, k: int = TRACK_GENES, group: str = "all") -> list[str]:
    """The genes of the ``k`` best-scored called links (each gene once)."""
    called = result.called(group)
    return list(pd.unique(called["gene"].astype(str)))[:k]


def write_links(result: LinkResult, mdata, out: str | Path, *, groupby: str | None = None):
    """Write ``links.tsv`` (every tested pair), ``links_called.bedpe`` and
    ``links_signac.tsv`` (the called links of all cells), ``comparison.tsv`` (with
    ``groupby``), ``params.json`` and ``links.html``. Returns the folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder")
    with atomic_path(out, is_dir=True) as tmp:
        tmp.chmod(0o755)  # a temporary folder is private; the result is not
        write_tsv(result.links, tmp / "links.tsv")
        genes = result.genes.rename_axis(None)
        rows = browser_rows(result)
        write_bedpe(rows, genes, tmp / "links_called.bedpe")
        write_signac_links(rows, genes, tmp / "links_signac.tsv")
        if result.comparison is not None:
            write_tsv(result.comparison, tmp / "comparison.tsv")
        (tmp / "params.json").write_text(
            json.dumps({**result.params, "seconds": result.seconds}, indent=2, default=str)
        )
        write_page(result, mdata, tmp / "links.html", groupby=groupby)
    log(f"links: tables, tracks and links.html in {out}")
    return out


def figures(result: LinkResult, mdata, groupby: str | None) -> list[tuple[object, str]]:
    """(figure, caption) of the track plots of the top genes and, with groups, the heatmap."""
    from genepeak.report.link_figures import link_heatmap, track_plot

    drawn = []
    for gene in top_genes(result):
        fig = track_plot(mdata, result.links, gene, groupby=groupby)
        drawn.append((fig, f"{gene}: accessibility per group, peaks, genes and link arcs"))
    if groupby is not None and result.called().shape[0]:
        fig = link_heatmap(mdata, result.links, groupby, top=TOP_LINKS)
        drawn.append((fig, "top links: gene expression beside peak accessibility per group"))
    return drawn


def write_page(result: LinkResult, mdata, path: Path, *, groupby: str | None) -> Path:
    """One self-contained HTML page: what was run, calls per group, figures, top links."""
    from genepeak.report.html import Section, figure_block, key_value_table, note, write_report

    sections = [Section("Settings", key_value_table(_settings(result)))]
    sections.append(Section("Calls", calls_table(result).to_html(index=False, border=0)))
    drawn = figures(result, mdata, groupby)
    if drawn:
        body = "".join(figure_block(fig, caption) for fig, caption in drawn)
        sections.append(Section("Pictures", body))
    else:
        sections.append(Section("Pictures", note("No link was called, so nothing is drawn.")))
    top = result.called().head(TOP_LINKS)
    columns = ["gene", "peak", "distance_to_tss", "partial_r", "z", "fdr", "link_score"]
    sections.append(
        Section(
            "Top links (all cells)",
            top[columns].to_html(index=False, border=0, float_format="%.4g"),
        )
    )
    if result.comparison is not None and not result.comparison.empty:
        differs = result.comparison.head(TOP_LINKS)
        sections.append(
            Section(
                "Links that differ between groups",
                note(
                    "Each link called in some group, its partial r in every group, and Cochran's "
                    "Q test (Fisher's z) of whether it differs between them."
                )
                + differs.to_html(index=False, border=0, float_format="%.4g"),
            )
        )
    return write_report(path, sections, title="genepeak links")


def calls_table(result: LinkResult) -> pd.DataFrame:
    """Cells, tested pairs and called links of each population."""
    table = result.links.groupby("group", observed=True).agg(
        cells=("n_cells", "first"),
        tested_pairs=("z", "count"),
        called=("called", "sum"),
        genes_with_a_link=("gene", lambda g: 0),
    )
    called = result.links[result.links["called"]]
    per_group = called.groupby("group", observed=True)["gene"].nunique()
    table["genes_with_a_link"] = per_group.reindex(table.index).fillna(0).astype(int)
    table["seconds"] = [result.seconds.get(str(g), np.nan) for g in table.index]
    return table.reset_index()


def _settings(result: LinkResult) -> dict:
    params = dict(result.params)
    params["window"] = f"{params['window']:,} bp"
    params["seconds (total)"] = result.seconds.get("total")
    return params


def links_html(result: LinkResult, benchmark_table, mdata, groupby: str | None) -> str:
    """The run report's links section body: calls per group, the pictures, and (on
    simulated data) the benchmark against planted truth."""
    from genepeak.benchmark import link_benchmark_html
    from genepeak.report.html import figure_block

    body = "<h3>Calls per population</h3>" + calls_table(result).to_html(index=False, border=0)
    body += "".join(figure_block(fig, caption) for fig, caption in figures(result, mdata, groupby))
    if benchmark_table is not None:
        body += "<h3>Against planted truth</h3>" + link_benchmark_html(benchmark_table)
    return body
