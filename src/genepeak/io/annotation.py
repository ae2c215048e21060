"""Gene coordinates: 10x ``interval`` strings and gene annotation tables (TSS, strand).

Without an annotation table, genes take chrom/start/end from the 10x ``interval`` (for ARC
that is the span of the gene's annotated TSSs) with ``strand = "."`` and ``tss = -1``: the
interval alone does not say which end is the TSS. With a table (``PrepareConfig.gene_annotation``)
genes are matched by Ensembl id first, then by symbol, and take chrom/start/end/strand/tss from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from genepeak._utils import log
from genepeak.errors import InputError
from genepeak.io import prepared
from genepeak.io.peaks import check_same_naming, chromosome_style, to_ucsc

GENE_COLUMNS = ("chrom", "start", "end", "strand", "tss")
_SYMBOL_COLUMNS = ("symbol", "gene", "gene_name", "gene_symbol", "name")
_ID_COLUMNS = ("ensembl_ids", "ensembl_id", "gene_id", "gene_ids")


def intervals_to_coordinates(intervals: pd.Series | np.ndarray, index=None) -> pd.DataFrame:
    """Parse 10x intervals ``chr1:100-200`` into chrom/start/end (``""`` / -1 where missing)."""
    values = pd.Series(np.asarray(intervals, dtype=object), index=index).fillna("").astype(str)
    parts = values.str.extract(r"^(?P<chrom>.+):(?P<start>\d+)-(?P<end>\d+)$")
    known = parts["chrom"].notna()
    return pd.DataFrame(
        {
            "chrom": parts["chrom"].where(known, "").astype(str),
            "start": pd.to_numeric(parts["start"]).where(known, -1).astype(np.int64),
            "end": pd.to_numeric(parts["end"]).where(known, -1).astype(np.int64),
        },
        index=values.index,
    )


def read_gene_annotation(path: str | Path) -> pd.DataFrame:
    """Read a gene coordinate TSV (gzip allowed) with a header row.

    Required columns: a gene symbol (``symbol``, ``gene``, ``gene_name`` or ``name``),
    ``chrom``, ``start``, ``end`` (0-based half-open). Optional: ``strand`` and ``tss`` (derived
    from strand when absent: start on ``+``, end on ``-``) and Ensembl ids (``ensembl_ids``,
    comma-separated allowed). The format of orgHsEgDb_3.16_hg38_gene_coords.tsv.gz is accepted.

    Returns
    -------
    DataFrame with ``symbol``, ``gene_id`` (one row per Ensembl id, ``""`` when none),
    ``chrom``, ``start``, ``end``, ``strand``, ``tss``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"gene annotation {path} does not exist")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, ValueError, EOFError) as err:
        raise InputError(f"gene annotation {path} could not be read as a TSV: {err}") from err
    symbol = next((c for c in _SYMBOL_COLUMNS if c in table.columns), None)
    missing = [c for c in ("chrom", "start", "end") if c not in table.columns]
    if symbol is None or missing:
        need = missing + ([] if symbol else ["symbol (or gene / gene_name)"])
        raise InputError(
            f"gene annotation {path}: missing column(s) {', '.join(need)}; expected a header "
            f"with symbol, chrom, start, end[, strand, tss, ensembl_ids]; found {list(table.columns)}"
        )
    try:
        start = table["start"].astype(np.int64)
        end = table["end"].astype(np.int64)
    except ValueError as err:
        raise InputError(f"gene annotation {path}: start/end must be integers ({err})") from err
    strand = table["strand"] if "strand" in table.columns else pd.Series(".", index=table.index)
    strand = strand.where(strand.isin(["+", "-"]), ".")
    if "tss" in table.columns:
        tss = pd.to_numeric(table["tss"], errors="coerce").fillna(-1).astype(np.int64)
    else:
        # 0-based half-open coordinates: the last base of a minus-strand gene is end - 1
        tss = pd.Series(np.where(strand == "-", end - 1, np.where(strand == "+", start, -1)))
    id_col = next((c for c in _ID_COLUMNS if c in table.columns), None)
    chrom = table["chrom"]
    if chromosome_style(chrom) == "ensembl":
        log(f"gene annotation {path.name}: Ensembl chromosome names converted to UCSC (chr1)")
        chrom = pd.Series(to_ucsc(chrom), index=table.index)
    out = pd.DataFrame(
        {
            "symbol": table[symbol].to_numpy(),
            "gene_id": table[id_col].to_numpy() if id_col else "",
            "chrom": chrom.to_numpy(),
            "start": start.to_numpy(),
            "end": end.to_numpy(),
            "strand": strand.to_numpy(),
            "tss": tss.to_numpy(),
        }
    )
    out["gene_id"] = out["gene_id"].str.split(",")
    out = out.explode("gene_id", ignore_index=True)
    out["gene_id"] = out["gene_id"].fillna("").str.strip().str.split(".").str[0]
    return out


def annotate_genes(var: pd.DataFrame, annotation: pd.DataFrame | None) -> pd.DataFrame:
    """Gene coordinates for ``var`` (RNA var with ``gene_ids`` and/or ``interval``).

    Returns a DataFrame indexed like ``var`` with chrom, start, end, strand, tss. Genes the
    annotation does not know keep their 10x interval with strand "." and tss -1.
    """
    if "interval" in var.columns:
        coords = intervals_to_coordinates(var["interval"], index=var.index)
    elif {"chrom", "start", "end"} <= set(var.columns):
        coords = var[["chrom", "start", "end"]].copy()
        # object first: a .h5mu read back stores chrom as a categorical, whose fillna("")
        # raises unless "" is one of its categories
        coords["chrom"] = coords["chrom"].astype(object).fillna("").astype(str)
        coords["start"] = (
            pd.to_numeric(coords["start"], errors="coerce").fillna(-1).astype(np.int64)
        )
        coords["end"] = pd.to_numeric(coords["end"], errors="coerce").fillna(-1).astype(np.int64)
    else:
        coords = pd.DataFrame({"chrom": "", "start": -1, "end": -1}, index=var.index)
    coords["strand"] = var["strand"].astype(str) if "strand" in var.columns else "."
    coords["tss"] = (
        pd.to_numeric(var["tss"], errors="coerce").fillna(-1).astype(np.int64)
        if "tss" in var.columns
        else -1
    )
    if annotation is None or annotation.empty:
        return coords[list(GENE_COLUMNS)]
    known_chroms = coords.loc[coords["chrom"] != "", "chrom"]
    if len(known_chroms):
        check_same_naming(annotation["chrom"], "the gene annotation", known_chroms, "the genes")
    by_id = annotation[annotation["gene_id"] != ""].drop_duplicates("gene_id").set_index("gene_id")
    by_symbol = annotation.drop_duplicates("symbol").set_index("symbol")
    gene_ids = (
        var["gene_ids"].astype(str).str.split(".").str[0]
        if "gene_ids" in var.columns
        else pd.Series("", index=var.index)
    )
    matched = by_id.reindex(gene_ids.to_numpy())[list(GENE_COLUMNS)]
    matched.index = var.index
    from_symbol = by_symbol.reindex(var.index.to_numpy())[list(GENE_COLUMNS)]
    from_symbol.index = var.index
    matched = matched.fillna(from_symbol)
    hit = matched["chrom"].notna().to_numpy()
    for column in GENE_COLUMNS:
        values = coords[column].to_numpy().copy()
        values[hit] = matched[column].to_numpy()[hit]
        coords[column] = values
    coords["start"] = coords["start"].astype(np.int64)
    coords["end"] = coords["end"].astype(np.int64)
    coords["tss"] = coords["tss"].astype(np.int64)
    coords["chrom"] = coords["chrom"].astype(str)
    coords["strand"] = coords["strand"].astype(str)
    return coords[list(GENE_COLUMNS)]


def gene_positions(var: pd.DataFrame, genes=None) -> tuple[np.ndarray, np.ndarray]:
    """Chromosome and TSS of every gene of ``var``, or of ``genes`` in that order
    (``""`` / -1 where unknown): :func:`gene_coordinates` without an annotation."""
    coords = gene_coordinates(var)
    chrom = coords["chrom"].to_numpy().astype(str)
    tss = coords["tss"].to_numpy()
    if genes is not None:
        rows = var.index.get_indexer(pd.Index([str(g) for g in genes]))
        chrom, tss = chrom[rows], tss[rows]
    return chrom, tss.astype(np.int64)


def _annotation_by_symbol(path: str | Path) -> pd.DataFrame:
    """:func:`read_gene_annotation`, one row per symbol, TSS filled as :func:`_fill_tss` does."""
    table = read_gene_annotation(path).drop_duplicates("symbol").set_index("symbol")
    table.index = table.index.astype(str)
    return _fill_tss(table[list(GENE_COLUMNS)].copy())


def _fill_tss(table: pd.DataFrame) -> pd.DataFrame:
    """Fill unknown TSS (-1 / NaN) from the interval: start on + or unknown strand, end-1 on -."""
    tss = pd.to_numeric(table["tss"], errors="coerce").fillna(-1).astype(np.int64)
    start = pd.to_numeric(table["start"], errors="coerce").fillna(-1).astype(np.int64)
    end = pd.to_numeric(table["end"], errors="coerce").fillna(-1).astype(np.int64)
    from_interval = np.where(table["strand"].astype(str) == "-", end - 1, start)
    tss = np.where((tss < 0) & (start >= 0), from_interval, tss)
    table["tss"] = tss
    table["chrom"] = table["chrom"].fillna("").astype(str)
    return table


def gene_coordinates(rna_var: pd.DataFrame, annotation: str | Path | None = None) -> pd.DataFrame:
    """TSS and interval of every gene of ``rna_var``; ``tss == -1`` where unknown everywhere.

    Order of preference: ``rna_var['tss']``; the annotation (it knows the strand); the interval
    (its start, or end - 1 on the minus strand; the start when the strand is unknown).
    """
    table = pd.DataFrame(index=pd.Index(rna_var.index.astype(str)))
    if {"chrom", "start", "end"} <= set(rna_var.columns):
        # object first: a categorical chrom (an .h5mu read back) cannot take "" as a fill
        table["chrom"] = rna_var["chrom"].astype(object).fillna("").astype(str).to_numpy()
        table["start"] = rna_var["start"].to_numpy()
        table["end"] = rna_var["end"].to_numpy()
    elif "interval" in rna_var:
        parsed = intervals_to_coordinates(rna_var["interval"])
        for column in ("chrom", "start", "end"):
            table[column] = parsed[column].to_numpy()
    else:
        table["chrom"], table["start"], table["end"] = "", -1, -1
    table["strand"] = rna_var["strand"].astype(str).to_numpy() if "strand" in rna_var else "."
    table["tss"] = rna_var["tss"].to_numpy() if "tss" in rna_var else -1
    tss_given = pd.to_numeric(table["tss"], errors="coerce").fillna(-1).to_numpy() >= 0
    table = _fill_tss(table)
    # an annotation knows the strand, which a 10x interval does not: prefer it to the interval
    unknown = ~tss_given | (table["chrom"].isin(["", "nan", "NA"])).to_numpy()
    if unknown.any() and annotation is not None:
        ann = _annotation_by_symbol(annotation)
        hit = unknown & table.index.isin(ann.index)
        names = table.index[hit]
        for column in ("chrom", "start", "end", "strand", "tss"):
            values = table[column].to_numpy().copy()
            if column in ("chrom", "strand"):
                values = values.astype(object)
            else:
                values = values.astype(np.int64)
            values[hit] = ann.loc[names, column].to_numpy()
            table[column] = values
    table["tss"] = table["tss"].astype(np.int64)
    return table


def recorded_annotation(mdata) -> str | None:
    """The gene annotation recorded at preparation, or the simulator's next to the source."""
    record = prepared.record(mdata)
    prep = record.get("prepare", {})
    path = prep.get("gene_annotation") if isinstance(prep, dict) else None
    if path and Path(str(path)).is_file():
        return str(path)
    source = record.get("source")
    if isinstance(source, str) and source:
        for folder in (Path(source), Path(source).parent):
            candidate = folder / "gene_annotation.tsv"
            if candidate.is_file():
                return str(candidate)
    return None
