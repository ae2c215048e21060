"""Writing results to files: tables, link tracks and figures (scanpy's ``pl`` beside ``tl``).

The compute layers (``prepare``, ``evaluate``, ``explain``) return data and write nothing;
``pipeline`` and ``cli`` hand their results to the writers here, which call ``report/`` for
figures. Every file is written through :func:`~genepeak._utils.atomic_path`, so a failed run
leaves no half-written file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from genepeak._utils import atomic_path, log

# --------------------------------------------------------------------------- explain

#: documented columns of a per-peak link table, in the order written (extras follow)
LINK_COLUMNS = [
    "peak",
    "gene",
    "score",
    "direction",
    "p_value",
    "fdr",
    "effect_size",
    "zscore",
    "distance_to_tss",
    "nearest_gene",
    "nearest_gene_distance",
    "flip_frequency",
    "f_gain",
    "f_loss",
    "baseline",
    "mean_perturbed",
    "mean_shift",
    "shift",
    "noise_rate",
    "chrom",
    "start",
    "end",
]


def write_tsv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` as TSV without its index, floats to 6 significant digits."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    return Path(path)


def write_link_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the per-peak link table as TSV (documented columns first, extras after)."""
    cols = [c for c in LINK_COLUMNS if c in table] + [c for c in table if c not in LINK_COLUMNS]
    return write_tsv(table[cols], path)


def _one_gene_per_row(table: pd.DataFrame, genes: pd.DataFrame) -> pd.DataFrame:
    """Rows of a multi-gene perturbation ("A,B") split into one link per gene with a known TSS."""
    rows = table.assign(gene=table["gene"].astype(str).str.split(",")).explode("gene")
    rows["gene"] = rows["gene"].str.strip()
    return rows[rows["gene"].isin(genes.index[genes["tss"] >= 0])].reset_index(drop=True)


def _browser_score(score: np.ndarray) -> np.ndarray:
    """Scores scaled to integers 0-1000 (the strongest link 1000)."""
    score = np.clip(np.nan_to_num(np.asarray(score, np.float64)), 0.0, None)
    top = score.max() if score.size else 0.0
    return np.round(1000 * score / top).astype(int) if top > 0 else np.zeros(score.size, int)


def write_bedpe(table: pd.DataFrame, genes: pd.DataFrame, path: str | Path) -> Path:
    """BEDPE (IGV / UCSC interaction track): gene TSS (1 bp) paired with each linked peak.

    ``genes`` holds the genes' ``chrom``, ``strand`` and ``tss`` (index = symbol). Links whose
    gene has no known TSS are left out. ``score`` is the table's score scaled so that the
    strongest link is 1000 (negative scores are 0), as browsers expect 0-1000.
    """
    rows = _one_gene_per_row(table, genes)
    gene = rows["gene"]
    tss = genes.loc[gene, "tss"].to_numpy()
    bedpe = pd.DataFrame(
        {
            "chrom1": genes.loc[gene, "chrom"].to_numpy(),
            "start1": tss,
            "end1": tss + 1,
            "chrom2": rows["chrom"].to_numpy(),
            "start2": rows["start"].to_numpy(),
            "end2": rows["end"].to_numpy(),
            "name": (gene + "|" + rows["peak"].astype(str) + "|" + rows["direction"]).to_numpy(),
            "score": _browser_score(rows["score"].to_numpy()),
            "strand1": genes.loc[gene, "strand"].replace({"": "."}).to_numpy(),
            "strand2": ".",
        }
    )
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write("#chrom1\tstart1\tend1\tchrom2\tstart2\tend2\tname\tscore\tstrand1\tstrand2\n")
            bedpe.to_csv(fh, sep="\t", header=False, index=False)
    return Path(path)


def write_signac_links(table: pd.DataFrame, genes: pd.DataFrame, path: str | Path) -> Path:
    """Signac ``Links()``-style TSV: one genomic span from the gene TSS to the peak midpoint.

    Columns as ``LinkPeaks`` returns them (1-based closed ``start``/``end``): seqnames, start,
    end, width, strand, score, gene, peak (``chr-start-end``), zscore, pvalue. In R:
    ``Links(obj) <- makeGRangesFromDataFrame(read.delim(path), keep.extra.columns = TRUE)``.
    """
    rows = _one_gene_per_row(table, genes)
    rows = rows[rows["chrom"].to_numpy() == genes.loc[rows["gene"], "chrom"].to_numpy()]
    tss = genes.loc[rows["gene"], "tss"].to_numpy()
    mid = ((rows["start"].to_numpy() + rows["end"].to_numpy()) // 2).astype(np.int64)
    start = np.minimum(tss, mid) + 1
    end = np.maximum(tss, mid) + 1
    signac = pd.DataFrame(
        {
            "seqnames": rows["chrom"].to_numpy(),
            "start": start,
            "end": end,
            "width": end - start + 1,
            "strand": "*",
            "score": rows["score"].to_numpy(),
            "gene": rows["gene"].to_numpy(),
            "peak": (
                rows["chrom"] + "-" + rows["start"].astype(str) + "-" + rows["end"].astype(str)
            ).to_numpy(),
            "zscore": rows["zscore"].to_numpy() if "zscore" in rows else np.nan,
            "pvalue": rows["p_value"].to_numpy() if "p_value" in rows else np.nan,
        }
    )
    return write_tsv(signac, path)


def write_result(result, out_dir: str | Path, top_k: int = 20) -> dict[str, Path]:
    """Write one experiment's link table, BEDPE, Signac links, dose-response table and plots.

    ``result`` is an :class:`~genepeak.explain.experiment.ExplainResult`; BEDPE and Signac
    links take the ``max(top_k, 100)`` strongest peaks. Returns the paths by kind and keeps
    them in ``result.files`` (the report embeds the top-peaks plot from there).
    """
    from genepeak.explain.experiment import slug
    from genepeak.report import explain_figures

    out_dir = Path(out_dir)
    stem = slug(result.name)
    strongest = result.table.head(max(top_k, 100))
    files = {
        "links": write_link_table(result.table, out_dir / f"{stem}_links.tsv"),
        "bedpe": write_bedpe(strongest, result.gene_coords, out_dir / f"{stem}_links.bedpe"),
        "signac": write_signac_links(
            strongest, result.gene_coords, out_dir / f"{stem}_signac_links.tsv"
        ),
        "top_peaks_plot": explain_figures.plot_top_peaks(
            result, out_dir / f"{stem}_top_peaks.png", top_k
        ),
    }
    if result.dose_response is not None:
        files["dose_response"] = write_tsv(
            result.dose_response, out_dir / f"{stem}_dose_response.tsv"
        )
        files["dose_response_plot"] = explain_figures.plot_dose_response(
            result, out_dir / f"{stem}_dose_response.png"
        )
    result.files = files
    return files


def write_summary(results: Sequence, skipped: Sequence[tuple[str, str]], out_dir: str | Path):
    """``explain_summary.tsv``: one line per experiment, done (its numbers) or skipped (why)."""
    rows = [dict(r.summary(), status="done") for r in results]
    rows += [{"experiment": label, "status": f"skipped: {reason}"} for label, reason in skipped]
    return write_tsv(pd.DataFrame(rows), Path(out_dir) / "explain_summary.tsv")


def write_explain(results, out_dir: str | Path, top_k: int = 20) -> Path:
    """Every experiment's files (:func:`write_result`) and the summary of ``explain(...)``.

    ``results`` as :func:`genepeak.explain.explain` returns them (their ``skipped`` list goes
    into the summary). Returns the summary's path.
    """
    for result in results:
        write_result(result, out_dir, top_k)
    return write_summary(results, getattr(results, "skipped", []), out_dir)


# --------------------------------------------------------------------------- prepare


def write_prepare_figures(mdata, figures_dir: str | Path) -> dict[str, Path]:
    """Draw the QC figures of a prepared MuData as PNG into ``figures_dir``.

    The folder is checked first (:func:`genepeak.prepare.pipeline.check_figures_dir`: an
    existing file or an unwritable place is refused). Returns the paths by figure, as
    :func:`genepeak.report.qc.plot_prepare_qc` names them.
    """
    from genepeak.prepare.pipeline import check_figures_dir
    from genepeak.report.qc import plot_prepare_qc

    return plot_prepare_qc(mdata, check_figures_dir(figures_dir))


def write_links(result, mdata, out: str | Path, *, groupby: str | None = None):
    """Write ``links.tsv`` (every tested pair), ``links_called.bedpe`` and
    ``links_signac.tsv`` (the called links of all cells), ``comparison.tsv`` (with
    ``groupby``), ``params.json`` and ``links.html``. Returns the folder."""
    from genepeak.errors import InputError
    from genepeak.report.links import browser_rows, write_page

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
