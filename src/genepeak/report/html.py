"""One self-contained HTML report: inline CSS, figures embedded as base64 PNG, no external asset.

``write_report(path, sections)`` writes any list of ``Section``; ``write_run_report(...)``
builds the sections of ``genepeak run`` (data, training, evaluation, explain, parameters).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genepeak._utils import atomic_path

__all__ = [
    "Section",
    "build_sections",
    "figure_block",
    "key_value_table",
    "metrics_table",
    "note",
    "write_report",
    "write_run_report",
]

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#222;
background:#fafafa;line-height:1.45}
header{background:#1d3557;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:24px}header p{margin:4px 0 0;color:#cfd8e3;font-size:13px}
nav{padding:8px 32px;background:#e9eef4;font-size:13px}nav a{margin-right:14px;color:#1d3557}
main{padding:8px 32px 40px;max-width:1400px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;margin:18px 0;padding:6px 20px 16px}
h2{color:#1d3557;border-bottom:1px solid #e1e4e8;padding-bottom:4px;font-size:19px}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;font-size:12.5px;margin:8px 0}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f1f4f8;text-align:center;vertical-align:bottom;white-space:normal;
max-width:120px}
td:first-child,th:first-child{text-align:left}
tr.baseline td{color:#555;background:#fcfcfc}tr.model td:first-child{font-weight:600}
table td.best{font-weight:700;background:#e6f4ea}td.recon{font-style:italic;color:#777}
.scroll{overflow-x:auto}
.note{font-size:12.5px;color:#444;background:#f6f8fa;border-left:3px solid #8aa4c8;
padding:6px 10px;margin:8px 0}
.warn{border-left-color:#d9822b;background:#fff8f0}
.grid{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
figure{margin:10px 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:12px;color:#555}
pre{background:#f6f8fa;padding:10px;font-size:11.5px;overflow-x:auto;max-height:420px}
.kv td:first-child{font-weight:600;background:#f6f8fa}
.kv td{text-align:left;white-space:normal;max-width:900px}
.arrow{color:#2a7d46;font-size:11px}
"""


LATENT_LABELS = {
    "f1_weighted": "F1 (weighted)",
    "f1_macro": "F1 (macro)",
    "precision_weighted": "precision (weighted)",
    "recall_weighted": "recall (weighted)",
    "accuracy": "accuracy",
    "ari": "ARI",
    "ami": "AMI",
    "kmeans_ari": "KMeans ARI",
    "kmeans_ami": "KMeans AMI",
    "leiden_ari": "Leiden ARI",
    "leiden_ami": "Leiden AMI",
    "silhouette": "silhouette",
}


@dataclass
class Section:
    """A titled part of the report; ``body`` is an HTML fragment built with this module's
    helpers (which escape every piece of text they are given)."""

    title: str
    body: str
    anchor: str | None = None

    def slug(self) -> str:
        base = self.anchor or self.title
        return "".join(ch if ch.isalnum() else "-" for ch in base.lower()).strip("-")


# --------------------------------------------------------------------------- fragments


def note(text: str, warn: bool = False) -> str:
    """A short explanatory paragraph (escaped)."""
    cls = "note warn" if warn else "note"
    return f'<p class="{cls}">{html.escape(text)}</p>'


def _image_bytes(figure) -> bytes:
    from genepeak.report.figures import figure_png

    if isinstance(figure, bytes):
        return figure
    if isinstance(figure, str | Path):
        return Path(figure).read_bytes()
    return figure_png(figure)


def figure_block(figure, caption: str = "") -> str:
    """An embedded PNG (base64 data URI) from a matplotlib Figure, PNG bytes or a PNG path."""
    data = base64.b64encode(_image_bytes(figure)).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    alt = html.escape(caption or "figure", quote=True)
    return f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">{cap}</figure>'


def figure_grid(blocks: Sequence[str]) -> str:
    """Figures side by side, wrapping to the page width."""
    return f'<div class="grid">{"".join(blocks)}</div>' if blocks else ""


def _format(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return "–"
        return f"{value:.3g}" if abs(value) >= 1000 else f"{value:.3f}"
    return html.escape(str(value))


def key_value_table(values: Mapping) -> str:
    """A two-column table of ``key: value``."""
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{_format(v)}</td></tr>" for k, v in values.items()
    )
    return f'<table class="kv">{rows}</table>'


def metrics_table(
    table: pd.DataFrame,
    directions: Mapping[str, str | None] | None = None,
    labels: Mapping[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
    excluded: Mapping[str, set[str]] | None = None,
) -> str:
    """A table with the best value of each column in bold (per ``directions``).

    Parameters
    ----------
    directions
        Column -> ``"higher"`` / ``"lower"`` (which way is better) or ``None`` (no best).
    labels
        Column -> header text.
    kinds
        Row -> ``"model"`` / ``"baseline"`` (styles the row).
    excluded
        Column -> rows whose value is shown in italics and not ranked (e.g. reconstruction).
    """
    directions = directions or {}
    labels = labels or {}
    kinds = kinds or {}
    excluded = excluded or {}
    best: dict[str, set] = {}
    for column, direction in directions.items():
        if column not in table or direction is None:
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        values = values.drop(index=[r for r in excluded.get(column, ()) if r in values.index])
        values = values[np.isfinite(values)]
        if values.empty:
            continue
        target = values.max() if direction == "higher" else values.min()
        best[column] = set(values.index[np.isclose(values, target, rtol=1e-9, atol=1e-12)])
    head = f"<th>{html.escape(str(table.index.name or ''))}</th>"
    for column in table.columns:
        arrow = {"higher": " ↑", "lower": " ↓"}.get(directions.get(column) or "", "")
        head += (
            f'<th>{html.escape(labels.get(column, column))}<span class="arrow">{arrow}</span></th>'
        )
    body = ""
    for row in table.index:
        cells = f"<td>{html.escape(str(row))}</td>"
        for column in table.columns:
            classes = []
            if row in best.get(column, ()):
                classes.append("best")
            text = _format(table.at[row, column])
            if row in excluded.get(column, ()) and text != "–":
                classes.append("recon")
                text += "†"
            cls = f' class="{" ".join(classes)}"' if classes else ""
            cells += f"<td{cls}>{text}</td>"
        body += f'<tr class="{html.escape(kinds.get(row, ""))}">{cells}</tr>'
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead>{body}</table></div>'


def _pre_json(data) -> str:
    from genepeak.evaluate.result import to_jsonable

    text = json.dumps(to_jsonable(data), indent=2, default=str)
    return f"<pre>{html.escape(text)}</pre>"


# --------------------------------------------------------------------------- page


def write_report(
    path: str | Path,
    sections: Sequence[Section],
    title: str = "genepeak report",
    subtitle: str = "",
) -> Path:
    """Write ``sections`` as one self-contained HTML file (atomically); return its path."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sub = html.escape(subtitle + (" · " if subtitle else "") + f"written {stamp}")
    nav = "".join(f'<a href="#{s.slug()}">{html.escape(s.title)}</a>' for s in sections)
    parts = "".join(
        f'<section id="{s.slug()}"><h2>{html.escape(s.title)}</h2>{s.body}</section>'
        for s in sections
    )
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{sub}</p></header><nav>{nav}</nav>"
        f"<main>{parts}</main></body></html>\n"
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- genepeak run


def _evaluation_sections(evaluation) -> list[Section]:
    """The held-out results, then the latent, peak and gene sections that have data."""
    kinds = evaluation.table["kind"].to_dict() if "kind" in evaluation.table else {}
    sections = [
        Section(
            "Models and baselines on held-out cells", _results_body(evaluation, kinds), "results"
        ),
        _latent_section(evaluation, kinds),
        _peak_section(evaluation),
        _gene_section(evaluation),
    ]
    return [section for section in sections if section is not None]


def _split_note(run: Mapping) -> str:
    n = run.get("n_cells", {})
    return note(
        f"Held-out evaluation on {n.get('test', '?')} test cells; models and every "
        f"baseline were fitted on the same {n.get('train', '?')} training cells and "
        f"peak thresholds chosen on {n.get('val', '?')} validation cells. Reference "
        f"labels: {run.get('labels_key', '?')} ({run.get('n_labels', '?')} groups)."
    )


def _headline_tables(table: pd.DataFrame, kinds: Mapping[str, str]) -> str:
    """One table per headline group (peaks, genes, latent), of the rows with a number."""
    from genepeak.evaluate.result import HEADLINE

    headline = [h for h in HEADLINE if h.column in table.columns]
    labels = {h.column: h.label for h in headline}
    labels.update(peak_task="task", gene_task="task", latent="latent")
    groups = (
        ("Peaks (RNA → ATAC; † = reconstruction)", "peaks", "peak_task"),
        ("Genes (ATAC → RNA; † = reconstruction)", "genes", "gene_task"),
        ("Latent structure (first latent of each model)", "latent", "latent"),
    )
    body = ""
    for heading, section, task in groups:
        columns = [h.column for h in headline if h.section == section]
        numbers = table[columns].apply(pd.to_numeric, errors="coerce")
        rows = numbers.index[np.isfinite(numbers.to_numpy(dtype=float)).any(axis=1)]
        if not len(rows) or not columns:
            continue
        shown = table.loc[rows, [task, *columns]]
        excluded = {}
        if task != "latent":
            recon = set(shown.index[shown[task] == "reconstruction"])
            ranked = {h.column for h in headline if h.direction is not None}
            excluded = {c: recon for c in columns if c in ranked}
        body += f"<h3>{html.escape(heading)}</h3>"
        body += metrics_table(
            shown, {h.column: h.direction for h in headline}, labels, kinds, excluded
        )
    return body


def _results_body(evaluation, kinds: Mapping[str, str]) -> str:
    from genepeak.evaluate.evaluation import CEILING_NOTE

    body = _split_note(evaluation.metrics.get("_run", {}))
    body += _headline_tables(evaluation.table, kinds)
    body += note(
        "Bold: best value of each column (↑ higher is better, ↓ lower is better; columns "
        "without an arrow are reference values). † and italics: reconstruction (the model "
        "saw the target modality), not ranked against translation. The AUPRC floor is the "
        "open fraction of test peaks: a random ranking's AUPRC. Pooled AUROC is dominated by "
        "how often each peak is open: the 'mean' baseline (training open fraction, no RNA) "
        "scores well on it; per-peak AUROC (0.5 = nothing cell-specific) and per-gene Pearson "
        "show whether a model learned cell-specific signal. Latent columns use the first "
        "latent of each model (all latents below)."
    )
    body += note(CEILING_NOTE)
    for sentence, lost in _against_baselines(
        evaluation.metrics.get("_run", {}).get("against_baselines", [])
    ):
        body += note(sentence, warn=lost)
    for name, message in evaluation.skipped.items():
        body += note(f"{name}: {message}", warn=True)
    return body


def _against_baselines(rows: Sequence[Mapping]) -> list[tuple[str, bool]]:
    """One plain sentence per translation score: does the best model beat every baseline?

    ``rows``: ``metrics['_run']['against_baselines']`` (``evaluate.result.against_baselines``,
    best model first per score).
    """
    sentences, seen = [], set()
    for row in rows:
        if row["score"] in seen:
            continue
        seen.add(row["score"])
        model = f"{row['model']} ({row['model_value']:.4f})"
        baseline = f"{row['baseline']} ({row['baseline_value']:.4f})"
        if row["margin"] > 0:
            text = f"{row['label']}: the best model, {model}, beats every baseline; the strongest"
            text += f" is {baseline}, {row['margin']:.4f} behind."
        else:
            text = f"{row['label']}: no model beats the baselines. The strongest baseline, "
            text += f"{baseline}, is {-row['margin']:.4f} ahead of the best model, {model}."
        sentences.append((text, row["margin"] <= 0))
    return sentences + [(_learned_little(row), True) for row in rows if row.get("learned_little")]


def _learned_little(row: Mapping) -> str:
    """The warning for a model stuck near the floor of a predictor that knows nothing."""
    return (
        f"{row['model']} learned almost nothing cell-specific for {row['label']}: "
        f"{row['model_value']:.4f}, against {row['mean_value']:.4f} for the training mean "
        f"and {row['baseline_value']:.4f} for {row['baseline']}, "
        f"{max(row['share_of_gain'], 0.0):.0%} of that baseline's gain over the mean. Its "
        "translation may be stuck at the mean profile: look at its training curve, and train "
        "it longer or with a higher learning rate."
    )


def _latent_section(evaluation, kinds: Mapping[str, str]) -> Section | None:
    from genepeak.evaluate.evaluation import CEILING_NOTE
    from genepeak.report import figures

    if not len(evaluation.latent_table):
        return None
    directions = {c: "higher" for c in evaluation.latent_table.columns}
    latent_kinds = {r: kinds.get(r.split(":")[0], "") for r in evaluation.latent_table.index}
    body = metrics_table(evaluation.latent_table, directions, LATENT_LABELS, kinds=latent_kinds)
    body += note(
        "Logistic regression fitted on training-cell latents, scored on test cells "
        "(precision / recall / F1, ARI / AMI of predicted vs reference labels); KMeans "
        "fitted on training latents (k = number of labels); Leiden on the test cells' kNN "
        "graph; silhouette of test cells by reference label. " + CEILING_NOTE
    )
    body += figure_block(
        figures.plot_latent_grid(
            evaluation.latents_2d, evaluation.test_labels, evaluation.embedding_method
        ),
        "Every latent of every model (test cells), coloured by reference label.",
    )
    return Section("Latent spaces", body, "latents")


def _peak_section(evaluation) -> Section | None:
    from genepeak.report import figures

    if not evaluation.threshold_curves:
        return None
    blocks = [
        figure_block(
            figures.plot_threshold_curves(
                _tagged(evaluation.threshold_curves, evaluation.table, "peak_task")
            ),
            "Precision, recall and F1 on test cells per threshold; dotted line: the "
            "threshold chosen on validation cells (its validation F1 dashed). log1p-scale "
            "models sweep the design's 0 to 3 grid, probability outputs 0.05 to 0.95.",
        )
    ]
    if any("reliability" in c for c in evaluation.threshold_curves.values()):
        blocks.append(
            figure_block(
                figures.plot_reliability(evaluation.threshold_curves),
                "Reliability of probability-scale predictions (ECE in the table).",
            )
        )
    return Section("Peak prediction", figure_grid(blocks), "peaks")


def _gene_section(evaluation) -> Section | None:
    from genepeak.report import figures

    if not evaluation.pearson:
        return None
    figure = figures.plot_pearson_distributions(
        _tagged(evaluation.pearson, evaluation.table, "gene_task")
    )
    caption = (
        "Per-cell Pearson (across genes: inflated by mean expression) and per-gene "
        "Pearson (across cells: is cell-to-cell variation predicted?) on test cells; "
        "a constant prediction (the mean baseline) scores 0 per gene."
    )
    return Section("Gene prediction", figure_block(figure, caption), "genes")


def _tagged(by_name: Mapping[str, object], table: pd.DataFrame, task: str) -> dict:
    """Rename predictors whose ``task`` is reconstruction to ``"name (recon.)"`` for figures."""
    out = {}
    for name, value in by_name.items():
        recon = name in table.index and table.at[name, task] == "reconstruction"
        out[f"{name} (recon.)" if recon else name] = value
    return out


def _explain_section(explain: Sequence) -> Section:
    rows, blocks = [], []
    for result in explain:
        rows.append(result.summary() if hasattr(result, "summary") else dict(result))
        files = getattr(result, "files", {}) or {}
        plot = files.get("top_peaks_plot")
        if plot is None and hasattr(result, "table"):
            from genepeak.report import explain_figures

            with tempfile.TemporaryDirectory() as tmp:
                plot = explain_figures.plot_top_peaks(result, Path(tmp) / "top.png")
                blocks.append(
                    figure_block(Path(plot).read_bytes(), f"{result.name}: most sensitive peaks")
                )
            continue
        if plot is not None and Path(plot).is_file():
            blocks.append(
                figure_block(Path(plot), f"{getattr(result, 'name', '')}: most sensitive peaks")
            )
    summary = pd.DataFrame(rows)
    body = note(
        "In-silico perturbation: a gene is changed in a cell, the cell is passed "
        "through the stochastic model many times, and peaks whose predicted state "
        "flips beyond a margin are ranked; p-values come from expression-matched "
        "null genes."
    )
    if len(summary):
        summary = summary.set_index(summary.columns[0])
        body += metrics_table(summary)
    return Section("Perturbation (explain)", body + figure_grid(blocks), "explain")


def build_sections(
    *,
    data_summary: Mapping,
    qc_figures: Mapping[str, str | Path] | None,
    evaluation,
    qc_rules: pd.DataFrame | None = None,
    models: Mapping[str, object] | None = None,
    explain: Sequence | None = None,
    params: Mapping | None = None,
    versions: Mapping | None = None,
    timings: Mapping | None = None,
    links: str | None = None,
) -> list[Section]:
    """The sections of the ``genepeak run`` report, in reading order."""
    from genepeak.report import figures

    data_body = key_value_table(data_summary)
    data_body += _qc_rules_block(qc_rules)
    data_body += figure_grid(
        [
            figure_block(Path(path), name.replace("_", " "))
            for name, path in (qc_figures or {}).items()
            if Path(path).is_file()
        ]
    )
    sections = [Section("Data", data_body, "data")]

    histories = {n: getattr(m, "history", None) for n, m in (models or {}).items()}
    histories = {n: h for n, h in histories.items() if isinstance(h, pd.DataFrame) and len(h)}
    if histories:
        body = figure_block(
            figures.plot_training_curves(histories),
            "Loss per epoch: training solid, validation dashed.",
        )
        final = {
            n: {
                "epochs": int(len(h)),
                "final train loss": _last(h, ("loss", "train_loss")),
                "final validation loss": _last(h, ("val_loss",)),
            }
            for n, h in histories.items()
        }
        body += metrics_table(pd.DataFrame.from_dict(final, orient="index"))
        sections.append(Section("Training", body, "training"))

    sections += _evaluation_sections(evaluation)
    if explain:
        sections.append(_explain_section(explain))
    if links:
        sections.append(_links_section(links))
    run_body = ""
    if timings:
        run_body += "<h3>Timings (s)</h3>" + key_value_table(timings)
    if versions:
        run_body += "<h3>Versions</h3>" + key_value_table(versions)
    if params:
        run_body += "<h3>Parameters</h3>" + _pre_json(params)
    sections.append(Section("Parameters and versions", run_body, "params"))
    return sections


def _links_section(body_html: str) -> Section:
    """Gene -> peak links of every HVG (genepeak links), and on simulated data the benchmark."""
    body = note(
        "genepeak links, as the run computes it for every highly variable gene: each peak "
        "within 1 Mb of the gene's TSS is scored by the partial correlation of gene and peak "
        "given each cell's state (the first 15 RNA PCs and the log ATAC depth), over all cells "
        "and within each cell group; its t is put on the gene's own empirical null (a sample of "
        "peaks beyond its window) and calls are BH FDR < 0.05 over each population's pairs. "
        "link_score is the log posterior odds of a link from a two-group model of those z. "
        "No model is trained for it. On simulated data the table below scores it and every "
        "baseline against the planted links: partial_correlation_state is the same statistic "
        "without the empirical null, linkpeaks is Signac's LinkPeaks, distance ranks peaks by "
        "their distance to the TSS, random is the share of planted pairs. Sham-gene calls are "
        "links called for genes that drive nothing. Held-out seeds are in docs/links.md."
    )
    return Section("Gene -> peak links", body + body_html, "links")


def _qc_rules_block(rules: pd.DataFrame | None) -> str:
    """The cell-QC rules of preparation and how many cells each removed."""
    if rules is None or not len(rules):
        return ""
    table = rules[["modality", "rule", "lower", "upper", "n_removed", "n_removed_only", "note"]]
    table = table.set_index(table["modality"].str.upper() + ": " + table["rule"])
    table = table.drop(columns=["modality", "rule"])
    labels = {"n_removed": "cells failing", "n_removed_only": "failing only this rule"}
    return (
        "<h3>Cell quality control</h3>"
        + note(
            "Each rule keeps the cells inside its bounds (median absolute deviations from the "
            "median unless a fixed threshold is shown); a cell is kept when it passes every rule."
        )
        + metrics_table(table, labels=labels)
    )


def _last(history: pd.DataFrame, columns: Sequence[str]) -> float:
    for column in columns:
        if column in history:
            return float(history[column].iloc[-1])
    return float("nan")


def write_run_report(
    path: str | Path,
    *,
    data_summary: Mapping,
    qc_figures: Mapping[str, str | Path] | None,
    evaluation,
    models: Mapping[str, object] | None = None,
    explain: Sequence | None = None,
    params: Mapping | None = None,
    versions: Mapping | None = None,
    timings: Mapping | None = None,
    title: str = "genepeak report",
    qc_rules: pd.DataFrame | None = None,
    links: str | None = None,
) -> Path:
    """Write the ``genepeak run`` report (one self-contained HTML file) and return its path."""
    sections = build_sections(
        data_summary=data_summary,
        qc_figures=qc_figures,
        evaluation=evaluation,
        qc_rules=qc_rules,
        models=models,
        explain=explain,
        params=params,
        versions=versions,
        timings=timings,
        links=links,
    )
    subtitle = str(data_summary.get("source", "")) if data_summary else ""
    return write_report(path, sections, title=title, subtitle=subtitle)
