"""ATAC cell QC metrics: from the fragments file (snapatac2) or from ARC's per-barcode metrics.

From fragments (``snapatac2.pp.import_fragments`` + ``snapatac2.metrics``) every cell gets
``atac_fragments`` (unique fragments), ``atac_tsse`` (TSS enrichment), ``atac_frip``
(fraction of fragments overlapping the peaks), ``atac_nucleosome_signal`` (fragments of
147-294 bp per fragment under 147 bp, Signac's definition, read from snapatac2's stored
fragment lengths), ``atac_frac_dup`` and ``atac_frac_mito``. Without fragments, Cell Ranger
ARC's ``per_barcode_metrics.csv`` gives ``atac_fragments``, ``atac_frip`` and
``atac_tss_fraction`` (fragments overlapping a TSS per fragment).
"""

from __future__ import annotations

import gzip
import importlib.util
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from genepeak._utils import log
from genepeak.config import PrepareConfig
from genepeak.errors import InputError
from genepeak.io.fragments import open_fragments
from genepeak.io.genome import Genome, cached_annotation
from genepeak.io.peaks import chromosome_style, parse_peak_names, peak_names, to_ucsc
from genepeak.prepare.qc import QCRule, mad_rule

FRAGMENT_METRICS = (
    "atac_fragments",
    "atac_tsse",
    "atac_frip",
    "atac_nucleosome_signal",
    "atac_frac_dup",
    "atac_frac_mito",
)
#: nucleosome-free fragments are shorter than this; mono-nucleosome ones up to twice it
NUCLEOSOME_BP = 147
#: below this median of fragments per cell, per-cell ratios are counting noise (snapatac2's
#: default minimum of fragments for a cell)
MIN_FRAGMENTS_FOR_RATIOS = 200


def has_snapatac2() -> bool:
    """Whether the ``atac`` extra (snapatac2, MACS3) is installed."""
    return importlib.util.find_spec("snapatac2") is not None


def import_snapatac2():
    """snapatac2, or an error that names the extra which installs it."""
    try:
        import snapatac2
    except ImportError as err:
        raise InputError(
            "peak calling and fragment-based ATAC QC need snapatac2 (MACS3), which is not "
            'installed: pip install "genepeak[atac]" (or give a peak matrix, or '
            "fragment_qc: false to use per_barcode_metrics.csv)"
        ) from err
    return snapatac2


def to_ensembl(chroms: Sequence[str]) -> list[str]:
    """UCSC chromosome names to Ensembl names (``chr1`` -> ``1``, ``chrM`` -> ``MT``)."""
    return ["MT" if c == "chrM" else c.removeprefix("chr") for c in map(str, chroms)]


def fragment_chrom_sizes(path: str | Path, genome: Genome) -> tuple[dict[str, int], bool]:
    """The genome's chromosome sizes named as the fragments file names them.

    Returns the sizes and whether the file uses Ensembl names (``1`` rather than ``chr1``),
    which :func:`import_fragments` then converts (and logs).
    """
    tabix = open_fragments(path, check_lines=10_000)
    contigs = list(tabix.contigs)
    tabix.close()
    ensembl = chromosome_style(contigs) == "ensembl"
    sizes = genome.nuclear_sizes() | {"chrM": genome.chrom_sizes["chrM"]}
    if ensembl:
        sizes = dict(zip(to_ensembl(sizes), sizes.values()))
    if not set(contigs) & set(sizes):
        raise InputError(
            f"fragments file {path}: none of its chromosomes ({', '.join(contigs[:5])}) is a "
            f"chromosome of {genome.name} ({', '.join(list(sizes)[:3])}, ...); set "
            "PrepareConfig.genome (hg38, hg19, mm10, GRCm39) to the genome the data was "
            "aligned to"
        )
    return sizes, ensembl


def sample_barcodes(path: str | Path, n_lines: int = 200_000) -> set[str]:
    """Barcodes of the first ``n_lines`` fragments (to check naming before a full import)."""
    seen: set[str] = set()
    with gzip.open(path, "rt") as handle:
        for number, line in enumerate(handle):
            if number >= n_lines:
                break
            if not line.startswith("#"):
                fields = line.split("\t", 4)
                if len(fields) >= 4:
                    seen.add(fields[3])
    return seen


def import_fragments(path: str | Path, barcodes: Sequence[str], genome: Genome, tempdir: str):
    """Import the fragments of ``barcodes`` with snapatac2 (in memory).

    Returns
    -------
    ``(data, ensembl)``: the snapatac2 AnnData (cells with at least one fragment, fragments
    in ``obsm['fragment_paired']``) and whether the file uses Ensembl chromosome names.
    """
    snap = import_snapatac2()

    sizes, ensembl = fragment_chrom_sizes(path, genome)
    if ensembl:
        log(f"fragments file {Path(path).name} uses Ensembl chromosome names; read as UCSC")
    data = snap.pp.import_fragments(
        str(path),
        chrom_sizes=sizes,
        file=None,
        min_num_fragments=0,
        sorted_by_barcode=False,
        whitelist=list(map(str, barcodes)),
        tempdir=tempdir,
        n_jobs=1,
    )
    if data.n_obs == 0:
        example = next(iter(sample_barcodes(path, 1000)), "-")
        raise InputError(
            f"fragments file {path}: none of the {len(barcodes)} cell barcodes has a fragment "
            f"(e.g. cell {barcodes[0]!r} vs fragments barcode {example!r}); the fragments must "
            "come from the same cells as the RNA matrix"
        )
    return data, ensembl


def nucleosome_signal(fragments: sp.csr_matrix) -> np.ndarray:
    """Per cell: fragments of 147-294 bp per fragment under 147 bp (at least one in the ratio).

    ``fragments`` is snapatac2's ``obsm['fragment_paired']`` (values are fragment lengths).
    """
    csr = sp.csr_matrix(fragments)
    lengths = csr.data.astype(np.int64)
    row = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
    free = np.bincount(row[lengths < NUCLEOSOME_BP], minlength=csr.shape[0])
    mono = (lengths >= NUCLEOSOME_BP) & (lengths < 2 * NUCLEOSOME_BP)
    mono = np.bincount(row[mono], minlength=csr.shape[0])
    return mono / np.maximum(free, 1)


def write_tss_gtf(tss: pd.DataFrame, path: Path) -> Path:
    """A GTF with one 1-bp transcript per TSS (``chrom``, ``tss`` 0-based, ``strand``, ``gene``).

    The form snapatac2's TSS enrichment reads; unknown strands are written as ``+`` (the
    enrichment score is symmetric around the TSS).
    """
    strand = tss["strand"].where(tss["strand"].isin(["+", "-"]), "+")
    position = tss["tss"].astype(np.int64) + 1  # GTF is 1-based, inclusive
    ids = (
        tss["gene"].astype(str) + "_" + pd.Series(np.arange(len(tss)), index=tss.index).astype(str)
    )
    lines = (
        tss["chrom"].astype(str)
        + "\tgenepeak\ttranscript\t"
        + position.astype(str)
        + "\t"
        + position.astype(str)
        + "\t.\t"
        + strand
        + '\t.\tgene_id "'
        + tss["gene"].astype(str)
        + '"; transcript_id "'
        + ids
        + '"; gene_name "'
        + tss["gene"].astype(str)
        + '";'
    )
    path.write_text("\n".join(lines) + "\n")
    return path


def gene_tss_table(genes: pd.DataFrame) -> pd.DataFrame:
    """TSS positions from gene coordinates (``chrom``, ``start``, ``end``, ``strand``, ``tss``).

    A gene's ``tss`` where known; else both ends of its interval, which for Cell Ranger ARC
    spans the gene's annotated TSSs.
    """
    genes = genes[genes["chrom"].astype(str) != ""]
    known = genes["tss"].astype(np.int64) >= 0
    parts = [
        pd.DataFrame(
            {
                "gene": genes.index[known],
                "chrom": genes["chrom"][known],
                "tss": genes["tss"][known],
                "strand": genes["strand"][known],
            }
        )
    ]
    span = genes[~known & (genes["start"] >= 0)]
    for end in ("start", "end"):
        offset = 0 if end == "start" else -1
        parts.append(
            pd.DataFrame(
                {
                    "gene": span.index,
                    "chrom": span["chrom"],
                    "tss": span[end].astype(np.int64) + offset,
                    "strand": ".",
                }
            )
        )
    table = pd.concat(parts, ignore_index=True)
    return table.drop_duplicates(["chrom", "tss"]).reset_index(drop=True)


def tss_annotation(
    config: PrepareConfig, genome: Genome, genes: pd.DataFrame | None, folder: Path, ensembl: bool
) -> tuple[Path | None, str]:
    """The GTF/GFF3 that TSS enrichment reads, and where it came from (no download ever)."""
    if config.tss_annotation:
        path = Path(config.tss_annotation)
        if not path.is_file():
            raise InputError(f"PrepareConfig.tss_annotation: {path} does not exist")
        return path, f"{path.name}"
    cached = cached_annotation(genome)
    if cached is not None and not ensembl:
        return cached, f"snapatac2's {genome.name} annotation ({cached.name})"
    if genes is None or genes.empty:
        return None, "no gene coordinates"
    table = gene_tss_table(genes)
    if table.empty:
        return None, "no gene has coordinates"
    if ensembl:
        table["chrom"] = to_ensembl(table["chrom"])
    source = "the genes' TSS" if (genes["tss"] >= 0).any() else "the ends of the 10x gene intervals"
    return write_tss_gtf(table, folder / "tss.gtf"), f"{source} ({len(table)} TSSs)"


def call_peaks_on(data, genome: Genome, ensembl: bool, qvalue: float = 0.05) -> pd.DataFrame:
    """MACS3 (through snapatac2) on the pseudobulk of all cells in ``data``, then merged.

    The genome size MACS3 assumes is the sum of ``genome``'s standard chromosomes (the sizes
    ``data`` was imported with). Peaks are 501 bp around the summits, overlaps resolved by
    significance (``snapatac2.tl.merge_peaks``), named in UCSC style.
    """
    snap = import_snapatac2()

    called = snap.tl.macs3(data, groupby=None, qvalue=qvalue, inplace=False, n_jobs=1)
    sizes = dict(
        zip(
            data.uns["reference_sequences"]["reference_seq_name"],
            data.uns["reference_sequences"]["reference_seq_length"],
        )
    )
    if len(called) == 0:
        return pd.DataFrame({"chrom": [], "start": [], "end": []})
    merged = snap.tl.merge_peaks({"all": called}, sizes)
    peaks = parse_peak_names(merged["Peaks"].to_list(), source="called peaks")
    peaks = peaks.reset_index(drop=True)
    if ensembl:
        peaks["chrom"] = to_ucsc(peaks["chrom"])
    order = np.lexsort((peaks["start"].to_numpy(), peaks["chrom"].to_numpy()))
    return peaks.iloc[order].reset_index(drop=True)


def analyse_fragments(
    path: str | Path,
    barcodes: Sequence[str],
    genome: Genome,
    config: PrepareConfig,
    peaks: Sequence[str] | None = None,
    genes: pd.DataFrame | None = None,
    call_peaks: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """ATAC QC metrics of ``barcodes`` from a fragments file, and optionally called peaks.

    Parameters
    ----------
    path
        Tabix-indexed fragments file.
    barcodes
        The cells, in the row order of the result.
    genome
        The reference the fragments were aligned to.
    config
        ``tss_annotation`` (optional GTF / GFF3), ``peak_qvalue``.
    peaks
        Peak names (``chr1:100-200``) for FRiP; ignored when ``call_peaks`` (FRiP is then
        on the called peaks); None skips FRiP.
    genes
        Gene coordinates (RNA var: chrom, start, end, strand, tss) for the TSS annotation.
    call_peaks
        Also call peaks (MACS3) on the pseudobulk of all these cells.

    Returns
    -------
    The metrics (indexed by ``barcodes``, the columns of ``FRAGMENT_METRICS``; a cell
    without fragments has 0 fragments and NaN elsewhere) and the called peaks (``chrom``,
    ``start``, ``end``) or None.
    """
    index = pd.Index(list(map(str, barcodes)))
    frame = pd.DataFrame(np.nan, index=index, columns=list(FRAGMENT_METRICS))
    called = None
    with tempfile.TemporaryDirectory(prefix="genepeak_fragments_") as tmp:
        data, ensembl = import_fragments(path, index, genome, tmp)
        names = pd.Index(data.obs_names)
        frame.loc[names, "atac_fragments"] = data.obs["n_fragment"].to_numpy(np.float64)
        frame.loc[names, "atac_frac_dup"] = data.obs["frac_dup"].to_numpy(np.float64)
        frame.loc[names, "atac_frac_mito"] = data.obs["frac_mito"].to_numpy(np.float64)
        frame.loc[names, "atac_nucleosome_signal"] = nucleosome_signal(data.obsm["fragment_paired"])
        gtf, source = tss_annotation(config, genome, genes, Path(tmp), ensembl)
        frame.loc[names, "atac_tsse"] = _tss_enrichment(data, gtf, source)
        if call_peaks:
            called = call_peaks_on(data, genome, ensembl, config.peak_qvalue)
            log(f"MACS3 called {len(called)} peaks ({genome.name}) from {Path(path).name}")
            peaks = list(peak_names(called))
        if peaks is not None and len(peaks):
            frame.loc[names, "atac_frip"] = _frip(data, peaks, ensembl)
    frame["atac_fragments"] = frame["atac_fragments"].fillna(0.0)
    missing = len(index) - len(names)
    if missing:
        log(f"ATAC QC: {missing} of {len(index)} cells have no fragment in {Path(path).name}")
    return frame, called


def _tss_enrichment(data, gtf: Path | None, source: str) -> np.ndarray | float:
    """snapatac2's TSS enrichment of every cell in ``data`` (NaN without a TSS annotation)."""
    snap = import_snapatac2()

    if gtf is None:
        log(f"ATAC QC: no TSS enrichment ({source}); give PrepareConfig.tss_annotation")
        return np.nan
    result = snap.metrics.tsse(data, gtf, inplace=False)
    log(f"ATAC QC: TSS enrichment from {source}; library TSSe {result['library_tsse']:.2f}")
    return np.asarray(result["tsse"], dtype=np.float64)


def _frip(data, peaks: Sequence[str], ensembl: bool) -> np.ndarray:
    """Fraction of each cell's fragments in ``peaks`` (UCSC names; Ensembl-named fragments)."""
    snap = import_snapatac2()

    regions = [r.removeprefix("chr") for r in peaks] if ensembl else list(map(str, peaks))
    frip = snap.metrics.frip(data, {"frip": regions}, inplace=False)
    return np.asarray(frip["frip"], dtype=np.float64)


def barcode_metrics(obs: pd.DataFrame) -> pd.DataFrame | None:
    """``atac_fragments``, ``atac_frip``, ``atac_tss_fraction`` from ARC per-barcode metrics.

    ``obs`` holds the ``atac_*`` columns of per_barcode_metrics.csv; None when absent.
    """
    if "atac_fragments" not in obs.columns:
        return None
    total = pd.to_numeric(obs["atac_fragments"], errors="coerce").astype(np.float64)
    safe = total.where(total > 0)
    frame = pd.DataFrame({"atac_fragments": total}, index=obs.index)
    if "atac_peak_region_fragments" in obs.columns:
        frame["atac_frip"] = obs["atac_peak_region_fragments"].astype(np.float64) / safe
    if "atac_TSS_fragments" in obs.columns:
        frame["atac_tss_fraction"] = obs["atac_TSS_fragments"].astype(np.float64) / safe
    return frame


def atac_rules(qc: pd.DataFrame, config: PrepareConfig) -> list[QCRule]:
    """MAD rules on the ATAC metrics present in ``qc`` (qc_mode "fixed" has no ATAC rules).

    The per-cell ratios (TSS enrichment, nucleosome signal, FRiP, TSS fraction) are left
    inactive when the median cell has fewer than ``MIN_FRAGMENTS_FOR_RATIOS`` fragments:
    their counting noise would then decide which cells go.
    """
    if config.qc_mode == "fixed":
        return []
    specs = (
        ("atac_fragments", config.mad_atac_fragments, "both", True),
        ("atac_tsse", config.mad_tsse, "lower", False),
        ("atac_nucleosome_signal", config.mad_nucleosome_signal, "upper", False),
        ("atac_frip", config.mad_frip, "lower", False),
        ("atac_tss_fraction", config.mad_frip, "lower", False),
    )
    median_fragments = (
        float(np.nanmedian(qc["atac_fragments"])) if "atac_fragments" in qc else np.nan
    )
    rules = []
    for metric, n, side, log1p in specs:
        if n is None or metric not in qc.columns or not qc[metric].notna().any():
            continue
        rule = mad_rule(qc, metric, n, side, "atac", log1p=log1p)
        if metric != "atac_fragments" and median_fragments < MIN_FRAGMENTS_FOR_RATIOS:
            note = (
                f"median cell has {median_fragments:g} fragments (< {MIN_FRAGMENTS_FOR_RATIOS}): "
                "too few for a per-cell ratio; rule inactive"
            )
            rule = QCRule("atac", metric, rule.description, note=note)
        rules.append(rule)
    return rules
