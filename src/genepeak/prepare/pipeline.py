"""``prepare``: any supported input -> the prepared MuData of docs/architecture.md.

Steps: read (``genepeak.prepare.inputs``), cell QC on RNA and ATAC metrics together
(``genepeak.prepare.qc``; ATAC metrics from fragments or ARC's per-barcode metrics), peak
calling when there is no peak matrix (MACS3 through snapatac2), RNA preparation, ATAC peak
filters, labels, writing.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import anndata as ad
import mudata as md
import numpy as np
import pandas as pd

import genepeak
from genepeak._utils import atomic_path, log
from genepeak.config import PrepareConfig, to_dict
from genepeak.errors import ConfigError, InputError
from genepeak.io import prepared
from genepeak.io.annotation import annotate_genes, read_gene_annotation
from genepeak.io.genome import Genome, genome_from_labels, get_genome
from genepeak.io.pairing import paired_mudata, strip_modality_tag
from genepeak.io.peaks import (
    check_same_naming,
    chromosome_style,
    peak_names,
    read_bed,
    require_ucsc,
    to_ucsc,
)
from genepeak.prepare import timed_step
from genepeak.prepare.atac import atac_from_fragments, open_fraction, prepare_atac
from genepeak.prepare.atac_qc import (
    analyse_fragments,
    atac_rules,
    barcode_metrics,
    has_snapatac2,
    sample_barcodes,
)
from genepeak.prepare.inputs import (  # noqa: F401 - read_input is part of this module's API
    FRAGMENTS_NAME,
    join_labels_file,
    raw_from_mudata,
    read_input,
)
from genepeak.prepare.qc import evaluate_rules, report_removals, rna_rules, zero_cells_error
from genepeak.prepare.rna import (
    QC_COLUMNS,
    make_gene_names_unique,
    normalise,
    prepare_rna,
    qc_metrics,
)
from genepeak.prepare.subsample import subsample_stratified

# --------------------------------------------------------------------------- checks


def check_output_path(out: str | Path, what: str = "output") -> Path:
    """Refuse, before any work, an output path that cannot be written (naming the path)."""
    out = Path(out)
    if out.suffix.lower() != ".h5mu":
        raise ConfigError(f"prepared output must be a .h5mu file, got {out}")
    if out.is_dir():
        raise ConfigError(
            f"{what} {out} is an existing folder; give a file path ending in .h5mu "
            f"(e.g. {out / 'prepared.h5mu'})"
        )
    _check_writable_folder(out.parent, f"{what} {out}")
    return out


def _check_writable_folder(folder: Path, what: str) -> None:
    """The nearest existing ancestor of ``folder`` must be a writable folder."""
    existing = folder if str(folder) else Path(".")
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{what}: {existing} is a file, so no folder can be made there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: the folder {existing} is not writable")


def check_figures_dir(path: str | Path) -> Path:
    """Refuse a figures folder that is a file or cannot be created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"figures folder {path} is an existing file; give a folder")
    _check_writable_folder(path, f"figures folder {path}")
    return path


def resolve_genome(config: PrepareConfig, rna_var: pd.DataFrame) -> Genome:
    """The genome of ``config`` or, when None, the one the 10x features name (else hg38)."""
    labels = rna_var["genome"] if "genome" in rna_var.columns else []
    named = genome_from_labels(labels)
    if config.genome is not None:
        genome = get_genome(config.genome)
        if named is not None and named != genome.name:
            raise InputError(
                f"PrepareConfig.genome is {config.genome!r} but the input's 10x 'genome' field "
                f"says {named} ({sorted(set(map(str, labels)))[0]!r}); set genome to the "
                "reference the data was aligned to"
            )
        return genome
    genome = get_genome(named or "hg38")
    log(f"genome: {genome.name} ({'from the 10x features' if named else 'default'})")
    return genome


def _check_labels_key(key: str, rna_obs: pd.DataFrame, atac_obs: pd.DataFrame) -> None:
    if key != "leiden" and key not in rna_obs and key not in atac_obs:
        columns = sorted(set(rna_obs.columns) | set(atac_obs.columns))
        raise InputError(
            f"labels_key {key!r} is not an obs column of the input; available: {columns}"
        )


def _resolve_labels(rna: ad.AnnData, atac_obs: pd.DataFrame, key: str) -> None:
    """Make ``rna.obs[key]`` the categorical reference labels (from RNA or ATAC obs)."""
    if key == "leiden":
        return
    values = rna.obs[key] if key in rna.obs else atac_obs[key].reindex(rna.obs_names)
    rna.obs[key] = pd.Categorical(values.astype("string").to_numpy(dtype=object))


# --------------------------------------------------------------------------- cell QC


def _match_fragment_barcodes(raw: md.MuData, fragments: str) -> md.MuData:
    """Strip modality tags (``-1_rna``) from the cells when only then they match the fragments."""
    sample = sample_barcodes(fragments)
    names = pd.Index(raw.obs_names)
    if names.isin(list(sample)).any():
        return raw
    stripped = pd.Index(strip_modality_tag(names))
    if not stripped.isin(list(sample)).any() or stripped.has_duplicates:
        return raw
    log(f"barcodes {names[0]!r} match the fragments as {stripped[0]!r}: modality tag stripped")
    rna, atac = raw.mod["rna"].copy(), raw.mod["atac"].copy()
    rna.obs_names, atac.obs_names = stripped, stripped
    files = dict(atac.uns.get("files", {}))
    paired = paired_mudata(rna, atac)
    paired.mod["atac"].uns["files"] = files
    return paired


def _atac_metrics(
    atac_raw: ad.AnnData,
    fragments: str | None,
    config: PrepareConfig,
    genome: Genome,
    genes: pd.DataFrame,
    call: bool,
    peaks: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """ATAC QC metrics of every cell (fragments, else ARC metrics) and called peaks (or None).

    FRiP is taken over ``peaks`` when given, else over the matrix's peaks (or the called ones).
    """
    if fragments and config.fragment_qc and not (call or peaks is not None) and not has_snapatac2():
        log(
            'ATAC QC: snapatac2 is not installed (pip install "genepeak[atac]"), so the '
            "fragments are not read; metrics from per_barcode_metrics.csv instead"
        )
        fragments = None
    if fragments and (call or peaks is not None or config.fragment_qc):
        names = list(atac_raw.var_names) if peaks is None else list(peak_names(peaks))
        return analyse_fragments(
            fragments,
            atac_raw.obs_names,
            genome,
            config,
            peaks=None if call else names,
            genes=genes,
            call_peaks=call,
        )
    metrics = barcode_metrics(atac_raw.obs)
    if metrics is not None:
        log("ATAC QC: fragments, FRiP and TSS fraction from per_barcode_metrics.csv")
    return metrics, None


def cell_qc(
    rna_raw: ad.AnnData, atac_metrics: pd.DataFrame | None, config: PrepareConfig
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Evaluate the RNA and ATAC QC rules on every input cell.

    Returns
    -------
    The kept-cell mask, the per-cell metrics (RNA ``QC_COLUMNS`` then ATAC ``atac_*``) and
    the per-rule table (see :func:`genepeak.prepare.qc.evaluate_rules`).
    """
    qc = qc_metrics(rna_raw.X, rna_raw.var_names, rna_raw.obs_names)[QC_COLUMNS]
    rules = rna_rules(qc, config)
    if atac_metrics is not None:
        qc = qc.join(atac_metrics.reindex(qc.index))
        rules += atac_rules(qc, config)
    keep, table = evaluate_rules(qc, rules)
    if not keep.any():
        raise zero_cells_error(len(qc), table)
    report_removals(keep, table)
    return keep, qc, table


def _doublet_row(n_before: int, n_after: int) -> pd.DataFrame:
    row = {
        "modality": "rna",
        "metric": "predicted_doublet",
        "rule": "Scrublet singlets (filter_doublets)",
        "lower": np.nan,
        "upper": np.nan,
        "n_removed": n_before - n_after,
        "n_removed_only": n_before - n_after,
        "note": "",
    }
    return pd.DataFrame([row], index=["doublets"])


# --------------------------------------------------------------------------- preparing


def _gene_coordinates(rna_raw: ad.AnnData, config: PrepareConfig, timings) -> pd.DataFrame:
    with timed_step("gene coordinates", timings):
        annotation = (
            read_gene_annotation(config.gene_annotation) if config.gene_annotation else None
        )
        genes = annotate_genes(rna_raw.var, annotation)
    for column in genes.columns:
        rna_raw.var[column] = genes[column].to_numpy()
    return genes


def _read(source, fragments) -> tuple[md.MuData, str]:
    if isinstance(source, md.MuData):
        if fragments is not None:
            raise ConfigError("fragments= is for file inputs; record it in atac.uns['files']")
        return raw_from_mudata(source), "<MuData in memory>"
    return read_input(source, fragments=fragments), str(source)


def _peaks_to_count(atac: ad.AnnData, files: dict, config: PrepareConfig) -> pd.DataFrame | None:
    """ARC's ``atac_peaks.bed`` when the input has no peak matrix (counted, not called)."""
    bed = files.get("peaks_bed")
    if atac.n_vars or config.call_peaks or not bed or not Path(bed).is_file():
        return None
    peaks = read_bed(bed, source=f"peaks file {bed}")
    if chromosome_style(peaks["chrom"]) == "ensembl":
        peaks["chrom"] = to_ucsc(peaks["chrom"])
    log(f"no peak matrix: counting the {len(peaks)} peaks of {Path(bed).name} from the fragments")
    return peaks


def _fragments_file(files: dict, needs_calling: bool, source_name: str) -> str | None:
    fragments = files.get("fragments")
    if fragments and not Path(fragments).is_file():
        log(f"fragments file {fragments} recorded in the input is missing; not used")
        fragments = None
    if needs_calling and not fragments:
        raise ConfigError(
            f"building the ATAC matrix (no peak matrix in the input, or call_peaks=True) needs "
            f"a fragments file, but {source_name} has none (looked for {FRAGMENTS_NAME} next "
            "to the input); give --fragments, or an input with a peak matrix and call_peaks=False"
        )
    return fragments


@dataclasses.dataclass
class _Raw:
    """The raw inputs of one preparation, after reading and the fixes that need no guess."""

    rna: ad.AnnData
    atac: ad.AnnData
    files: dict
    source_name: str
    fragments: str | None
    peaks_to_count: pd.DataFrame | None  # ARC's atac_peaks.bed when there is no matrix
    call: bool  # peaks are called from the fragments
    genome: Genome
    genes: pd.DataFrame


def _read_checked(source, fragments, config: PrepareConfig, key: str, timings) -> _Raw:
    """Read the input, fix what needs no guess and run the cheap checks (before heavy work)."""
    with timed_step("read input", timings):
        raw, source_name = _read(source, fragments)
    files = dict(raw.mod["atac"].uns.get("files", {}))
    arc_peaks = _peaks_to_count(raw.mod["atac"], files, config)
    call = config.call_peaks or (raw.mod["atac"].n_vars == 0 and arc_peaks is None)
    fragments = _fragments_file(files, call or arc_peaks is not None, source_name)
    if fragments:
        raw = _match_fragment_barcodes(raw, fragments)
    rna, atac = raw.mod["rna"], raw.mod["atac"]
    make_gene_names_unique(rna)
    if config.labels_file:
        join_labels_file(rna, config.labels_file)
    genome = resolve_genome(config, rna.var)
    _check_labels_key(key, rna.obs, atac.obs)
    genes = _gene_coordinates(rna, config, timings)
    if atac.n_vars:
        peak_chroms = atac.var["chrom"].astype(str)
        if config.standard_chromosomes_only:
            require_ucsc(peak_chroms, "ATAC peaks")
        known = genes.loc[genes["chrom"] != "", "chrom"]
        if len(known):
            check_same_naming(known, "the gene coordinates", peak_chroms, "the peaks")
    return _Raw(rna, atac, files, source_name, fragments, arc_peaks, call, genome, genes)


def _atac_counts(raw: _Raw, cells: pd.Index, called, metrics, timings) -> ad.AnnData:
    """Raw ATAC counts of ``cells``: the input matrix, or cut sites counted in called / ARC peaks,
    with the ATAC QC metrics in obs."""
    atac = raw.atac
    peaks = called if called is not None else raw.peaks_to_count
    if peaks is not None:
        with timed_step("ATAC cut-site counting from fragments", timings):
            counted = atac_from_fragments(raw.fragments, cells, peaks=peaks)
            counted.obs = atac.obs.reindex(cells)
            atac = counted
    if metrics is not None:
        for column in metrics.columns:
            atac.obs[column] = metrics[column].reindex(atac.obs_names).to_numpy()
    return atac


def prepare(
    source: str | Path | md.MuData,
    config: PrepareConfig | None = None,
    out: str | Path | None = None,
    labels_key: str | None = None,
    *,
    timings: dict[str, float] | None = None,
    fragments: str | Path | None = None,
) -> md.MuData:
    """Prepare paired RNA + ATAC into the layout of docs/architecture.md.

    Returns data and draws nothing: the QC figures are drawn from the result by
    :func:`genepeak.outputs.write_prepare_figures` (``genepeak prepare --figures``).

    Parameters
    ----------
    source
        Any input :func:`read_input` accepts, or a MuData with raw counts
        (``layers['counts']`` or X) in modalities ``rna`` and ``atac``.
    config
        QC rules, thresholds and options (defaults: data-driven QC, reference design).
    out
        Write the result here (``.h5mu``, atomically).
    labels_key
        An existing obs column (e.g. ``cell_type``) to use as reference labels instead of
        Leiden; overrides ``config.labels_key``.
    timings
        When given, receives the seconds spent per step (for benchmarks).
    fragments
        A fragments file (``atac_fragments.tsv.gz`` + ``.tbi``): ATAC QC metrics, and the
        peak matrix when ``source`` has none (RNA-only ``.h5`` / MEX / ``.h5ad``): the
        peaks of ARC's ``atac_peaks.bed`` when it lies next to the input, else peaks called
        with MACS3.

    Returns
    -------
    The prepared MuData.
    """
    config = config or PrepareConfig()
    key = labels_key or config.labels_key or "leiden"
    config = dataclasses.replace(config, labels_key=key)
    if out is not None:
        check_output_path(out)
    raw = _read_checked(source, fragments, config, key, timings)
    config = dataclasses.replace(config, genome=raw.genome.name)
    rna, atac, found = _prepare_modalities(raw, config, key, timings)
    record = {"prepare": to_dict(config), "source": raw.source_name}
    files = raw.files
    del raw  # the raw matrices go before the paired copy is made
    mdata = _paired(rna, atac, key, files)
    mdata.uns[prepared.RECORD_KEY] = {**record, "version": genepeak.__version__, **found}
    if config.subsample_fraction is not None and config.subsample_fraction < 1:
        mdata = subsample_stratified(
            mdata, config.subsample_fraction, config.subsample_key or key, config.seed
        )
        _refresh_after_subsample(mdata)
        log(f"subsampled to {mdata.n_obs} cells ({config.subsample_fraction:.0%} per {key})")
    if out is not None:
        with timed_step("write .h5mu", timings):
            write_prepared(mdata, out)
    return mdata


def _prepare_modalities(
    raw: _Raw, config: PrepareConfig, key: str, timings
) -> tuple[ad.AnnData, ad.AnnData, dict]:
    """Cell QC, then the RNA and ATAC preparations of the cells kept.

    Returns the prepared RNA and ATAC and what the preparation record keeps of the QC:
    ``qc_before``, ``qc_rules``, ``peak_frac_before``, ``peaks_called``.
    """
    with timed_step("cell QC (RNA and ATAC metrics)", timings):
        metrics, called = _atac_metrics(
            raw.atac, raw.fragments, config, raw.genome, raw.genes, raw.call, raw.peaks_to_count
        )
        keep, qc_before, qc_rules = cell_qc(raw.rna, metrics, config)
    rna, _ = prepare_rna(raw.rna, config, timings, keep=keep)
    if config.filter_doublets and rna.n_obs < int(keep.sum()):
        qc_rules = pd.concat([qc_rules, _doublet_row(int(keep.sum()), rna.n_obs)])
    atac_raw = _atac_counts(raw, rna.obs_names, called, metrics, timings)
    with timed_step("ATAC filters and log1p", timings):
        atac, frac_before = prepare_atac(atac_raw, config, cells=rna.obs_names)
    _resolve_labels(rna, atac.obs, key)
    found = {
        "qc_before": qc_before,
        "qc_rules": qc_rules,
        "peak_frac_before": np.asarray(frac_before, dtype=np.float64),
        "peaks_called": called is not None,
    }
    return rna, atac, found


def _paired(rna: ad.AnnData, atac: ad.AnnData, key: str, files: dict) -> md.MuData:
    """The paired MuData, with the input's file record and the labels in ``mdata.obs``."""
    if files:
        atac.uns["files"] = files
    mdata = paired_mudata(rna, atac)
    mdata.obs["leiden"] = rna.obs["leiden"].values
    mdata.obs[key] = rna.obs[key].values
    return mdata


def _refresh_after_subsample(mdata: md.MuData) -> None:
    """Recompute what depends on the cell set (size factors, X, open fractions) after subsampling.

    HVGs, PCA, neighbours, UMAP and labels stay those of the full data set.
    """
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    normalise(rna)
    rna.var["n_cells"] = np.diff(prepared.counts(rna, "rna").tocsc().indptr).astype(np.int64)
    atac.var["frac_cells"] = open_fraction(prepared.counts(atac, "atac"))


def write_prepared(mdata: md.MuData, out: str | Path) -> Path:
    """Write a prepared MuData to ``out`` (.h5mu) atomically."""
    out = check_output_path(out)
    try:
        with atomic_path(out) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mdata.write_h5mu(tmp)
    except OSError as err:
        raise InputError(f"could not write {out}: {err.strerror or err}") from err
    log(f"wrote {out} ({mdata.n_obs} cells)")
    return out
