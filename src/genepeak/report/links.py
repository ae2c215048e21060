"""The page of a :class:`~genepeak.links.genome.LinkResult` and its run-report section.

Computing stays in ``links/genome.py``, drawing in ``report/link_figures.py``; the tables and
browser tracks are written by :func:`genepeak.outputs.write_links`.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from genepeak.links.genome import LinkResult
from genepeak.links.metrics import (
    CALL_COLUMNS,
    SUMMARY_COLUMNS,
    TOP_K,
    over_settings,
    summary_over_seeds,
)
from genepeak.report.html import metrics_table

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


def figures(result: LinkResult, mdata, groupby: str | None) -> list[tuple[object, str]]:
    """(figure, caption) of the track plots of the top genes and, with groups, the heatmap."""
    from genepeak.report.link_figures import link_heatmap, track_plot

    drawn = []
    for gene in top_genes(result):
        fig = track_plot(mdata, result.links, gene, groupby=groupby)
        drawn.append((fig, f"{gene}: accessibility per group, peaks, genes and link arcs"))
    if groupby is not None and result.called("all").shape[0]:
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
    top = result.called("all").head(TOP_LINKS)
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
                + '<div class="scroll">'
                + differs.to_html(index=False, border=0, float_format="%.4g")
                + "</div>",
            )
        )
    return write_report(path, sections, title="genepeak links")


def calls_table(result: LinkResult) -> pd.DataFrame:
    """Cells, tested pairs and called links of each population."""
    table = result.links.groupby("group", observed=True).agg(
        cells=("n_cells", "first"),
        tested_pairs=("z", "count"),
        called=("called", "sum"),
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


def links_html(result: LinkResult, mdata, groupby: str | None) -> str:
    """The run report's links section body: calls per population and the pictures."""
    from genepeak.report.html import figure_block

    body = "<h3>Calls per population</h3>" + calls_table(result).to_html(index=False, border=0)
    body += "".join(figure_block(fig, caption) for fig, caption in figures(result, mdata, groupby))
    return body


def link_benchmark_html(table: pd.DataFrame, model_methods=()) -> str:
    """HTML fragment for the report: per setting group, methods x headline numbers, best in bold.

    ``table`` is ``genepeak.benchmark.LinkBenchmarkResult.table`` (or ``link_benchmark.tsv``
    read back); ``model_methods`` are shown as models, the rest as baselines.
    """
    labels = {
        "pooled_auprc": "pooled AUPRC",
        "mean_auprc": "mean per-driver AUPRC",
        f"precision_at_{TOP_K}": f"precision@{TOP_K}",
        "precision_at_planted": "precision@planted",
        "fraction_won": "drivers won",
        "false_discovery_proportion": "calls' FDP",
        "sham_calls": "sham-gene calls",
        "n_seeds": "seeds",
    }
    directions = {c: "higher" for c in SUMMARY_COLUMNS} | dict.fromkeys(CALL_COLUMNS, "lower")
    blocks = []
    over = summary_over_seeds(table)
    for setting, frame in over_settings(over):
        frame.index.name = "method"
        kinds = {m: "model" if m in model_methods else "baseline" for m in frame.index}
        strength, profile = setting["link_strength"], setting.get("link_profile", "")
        title = f"{setting['data']} {setting['shape']}".strip()
        title += f", link strength {strength:g}" if strength == strength else ""
        real = profile == profile and profile not in ("", "reference")  # the default unsaid
        title += f", {profile} link profile" if real else ""
        blocks.append(
            f"<h3>{html.escape(title)} ({html.escape(setting['preset'])} preset), "
            "mean over seeds</h3>"
        )
        blocks.append(metrics_table(frame, directions=directions, labels=labels, kinds=kinds))
    return "".join(blocks)
