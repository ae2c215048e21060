"""``read_input`` (any supported input -> raw paired MuData) and ``prepare`` (-> prepared MuData).

The prepared layout is specified in docs/architecture.md.
"""

from __future__ import annotations

import dataclasses
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
from genepeak.io.annotation import annotate_genes, intervals_to_coordinates, read_gene_annotation
from genepeak.io.pairing import (
    as_counts,
    check_counts,
    pair_modalities,
    paired_mudata,
    read_h5ad_pair,
    read_h5mu_pair,
)
from genepeak.io.peaks import check_same_naming, peak_coordinates, require_ucsc
from genepeak.io.tenx import read_10x_h5, read_10x_mex, split_modalities
from genepeak.prepare import timed_step
from genepeak.prepare.atac import atac_from_fragments, open_fraction, prepare_atac
from genepeak.prepare.rna import QC_COLUMNS, normalise, prepare_rna
from genepeak.prepare.subsample import subsample_stratified

H5_NAME = "filtered_feature_bc_matrix.h5"
MEX_NAME = "filtered_feature_bc_matrix"
FRAGMENTS_NAME = "atac_fragments.tsv.gz"
PEAKS_BED_NAME = "atac_peaks.bed"
METRICS_NAME = "per_barcode_metrics.csv"


# --------------------------------------------------------------------------- reading


def read_input(path: str | Path) -> md.MuData:
    """Read raw paired counts from any supported input.

    Parameters
    ----------
    path
        A Cell Ranger ARC ``outs`` folder (``filtered_feature_bc_matrix.h5`` or the
        ``filtered_feature_bc_matrix/`` MEX folder, plus ``atac_fragments.tsv.gz``,
        ``atac_peaks.bed`` and ``per_barcode_metrics.csv`` when present), an ARC ``.h5``,
        a MEX folder, a ``.h5mu``, or ``"rna.h5ad,atac.h5ad"``.

    Returns
    -------
    MuData with modalities ``rna`` and ``atac`` holding raw counts (CSR float32) in X, the
    same cells in the same order. RNA var has ``chrom``/``start``/``end`` from the 10x
    interval where known; ATAC var has ``chrom``/``start``/``end`` parsed from peak names.
    A fragments file, when found, is recorded as ``mdata["atac"].uns["files"]["fragments"]``
    (the muon convention).
    """
    text = str(path)
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2 or not all(parts):
            raise InputError(f"expected 'rna.h5ad,atac.h5ad' (two paths), got {text!r}")
        mdata = read_h5ad_pair(parts[0], parts[1])
        folder = None
    else:
        path = Path(path)
        if not path.exists():
            raise InputError(
                f"input {path} does not exist; expected a Cell Ranger ARC outs folder, an ARC "
                ".h5, a .h5mu or 'rna.h5ad,atac.h5ad'"
            )
        mdata, folder = _read_single(path)
    _add_coordinates(mdata)
    if folder is not None:
        _attach_outs_files(mdata, folder)
    return mdata


def _read_single(path: Path) -> tuple[md.MuData, Path | None]:
    if path.is_dir():
        if (path / H5_NAME).is_file():
            return _from_tenx(read_10x_h5(path / H5_NAME), path / H5_NAME), path
        if (path / MEX_NAME).is_dir():
            return _from_tenx(read_10x_mex(path / MEX_NAME), path / MEX_NAME), path
        if any((path / n).is_file() for n in ("matrix.mtx.gz", "matrix.mtx")):
            return _from_tenx(read_10x_mex(path), path), path.parent
        raise InputError(
            f"{path} is a folder without {H5_NAME} or {MEX_NAME}/; give the Cell Ranger ARC "
            "'outs' folder (or the .h5 file itself)"
        )
    suffix = "".join(path.suffixes[-1:]).lower()
    if suffix == ".h5mu":
        return read_h5mu_pair(path), path.parent
    if suffix == ".h5ad":
        raise InputError(
            f"{path}: one .h5ad holds one modality; give the RNA and ATAC files together as "
            "'rna.h5ad,atac.h5ad'"
        )
    if suffix in (".h5", ".hdf5"):
        return _from_tenx(read_10x_h5(path), path), path.parent
    raise InputError(
        f"{path}: unrecognised input type {suffix or '(no suffix)'!r}; expected a Cell Ranger ARC "
        "outs folder, an ARC .h5, a .h5mu or 'rna.h5ad,atac.h5ad'"
    )


def _from_tenx(adata: ad.AnnData, source: Path) -> md.MuData:
    check_counts(adata.X, str(source))
    rna, atac = split_modalities(adata, str(source))
    return paired_mudata(rna, atac)


def _add_coordinates(mdata: md.MuData) -> None:
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    if "interval" in rna.var.columns:
        coords = intervals_to_coordinates(rna.var["interval"], index=rna.var_names)
        for column in ("chrom", "start", "end"):
            rna.var[column] = coords[column].to_numpy()
    coords = peak_coordinates(atac.var, source="ATAC peak names")
    for column in ("chrom", "start", "end"):
        atac.var[column] = coords[column].to_numpy()
    if "chr" in atac.var.columns:
        del atac.var["chr"]


def _attach_outs_files(mdata: md.MuData, folder: Path) -> None:
    atac = mdata.mod["atac"]
    files = dict(atac.uns.get("files", {}))
    for key, name in (("fragments", FRAGMENTS_NAME), ("peaks_bed", PEAKS_BED_NAME)):
        if (folder / name).is_file():
            files[key] = str((folder / name).resolve())
    metrics = folder / METRICS_NAME
    if metrics.is_file():
        files["per_barcode_metrics"] = str(metrics.resolve())
        _add_barcode_metrics(mdata, metrics)
    if files:
        atac.uns["files"] = files


def _add_barcode_metrics(mdata: md.MuData, path: Path) -> None:
    """Copy the numeric ``gex_*`` / ``atac_*`` columns of per_barcode_metrics.csv into obs."""
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise InputError(f"{path} could not be read as CSV: {err}") from err
    if "barcode" not in table.columns:
        raise InputError(f"{path}: expected a 'barcode' column, found {list(table.columns)}")
    table = table.drop_duplicates("barcode").set_index("barcode").reindex(mdata.obs_names)
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]):
            continue
        target = (
            "atac" if column.startswith("atac_") else "rna" if column.startswith("gex_") else None
        )
        if target is not None:
            mdata.mod[target].obs[column] = table[column].to_numpy()


# --------------------------------------------------------------------------- preparing


def _raw_from_mudata(mdata: md.MuData) -> md.MuData:
    """Raw paired counts of an in-memory MuData (layers['counts'] when present)."""
    missing = [m for m in ("rna", "atac") if m not in mdata.mod]
    if missing:
        raise InputError(
            f"MuData holds only one modality: missing {missing} among {list(mdata.mod)}; "
            "genepeak needs 'rna' and 'atac'"
        )
    rna = as_counts(mdata.mod["rna"], "MuData modality 'rna'")
    atac = as_counts(mdata.mod["atac"], "MuData modality 'atac'")
    for column in mdata.obs.columns:
        if ":" not in column and column not in rna.obs:
            rna.obs[column] = mdata.obs[column].reindex(rna.obs_names).to_numpy()
    paired = pair_modalities(rna, atac, "MuData 'rna'", "MuData 'atac'")
    if "files" in mdata.mod["atac"].uns:
        paired.mod["atac"].uns["files"] = dict(mdata.mod["atac"].uns["files"])
    _add_coordinates(paired)
    return paired


def _resolve_labels(rna: ad.AnnData, atac_obs: pd.DataFrame, key: str) -> None:
    """Make ``rna.obs[key]`` the categorical reference labels (from RNA or ATAC obs)."""
    if key == "leiden":
        return
    if key in rna.obs:
        values = rna.obs[key]
    elif key in atac_obs:
        values = atac_obs[key].reindex(rna.obs_names)
    else:
        columns = sorted(set(rna.obs.columns) | set(atac_obs.columns))
        raise InputError(
            f"labels_key {key!r} is not an obs column of the input; available: {columns}"
        )
    rna.obs[key] = pd.Categorical(values.astype("string").to_numpy(dtype=object))


def prepare(
    source: str | Path | md.MuData,
    config: PrepareConfig | None = None,
    out: str | Path | None = None,
    figures_dir: str | Path | None = None,
    labels_key: str | None = None,
    *,
    timings: dict[str, float] | None = None,
) -> md.MuData:
    """Prepare paired RNA + ATAC into the layout of docs/architecture.md.

    Parameters
    ----------
    source
        Any input :func:`read_input` accepts, or a MuData with raw counts
        (``layers['counts']`` or X) in modalities ``rna`` and ``atac``.
    config
        Thresholds and options (defaults: the reference design).
    out
        Write the result here (``.h5mu``, atomically).
    figures_dir
        Write the QC figures here (PNG).
    labels_key
        An existing obs column (e.g. ``cell_type``) to use as reference labels instead of
        Leiden; overrides ``config.labels_key``.
    timings
        When given, receives the seconds spent per step (for benchmarks).

    Returns
    -------
    The prepared MuData.
    """
    config = config or PrepareConfig()
    key = labels_key or config.labels_key or "leiden"
    config = dataclasses.replace(config, labels_key=key)
    if out is not None and Path(out).suffix.lower() != ".h5mu":
        raise ConfigError(f"prepared output must be a .h5mu file, got {out}")
    with timed_step("read input", timings):
        if isinstance(source, md.MuData):
            raw, source_name = _raw_from_mudata(source), "<MuData in memory>"
        else:
            raw, source_name = read_input(source), str(source)
    rna_raw, atac_raw = raw.mod["rna"], raw.mod["atac"]
    files = dict(atac_raw.uns.get("files", {}))
    if config.call_peaks:
        fragments = files.get("fragments")
        if not fragments or not Path(fragments).is_file():
            raise ConfigError(
                f"PrepareConfig.call_peaks=True needs a fragments file, but {source_name} has "
                f"none (looked for {FRAGMENTS_NAME} next to the input); set call_peaks=False"
            )
        with timed_step("ATAC peak calling and cut-site counting", timings):
            called = atac_from_fragments(fragments, atac_raw.obs_names)
        called.obs = atac_raw.obs.copy()
        atac_raw = called

    # cheap checks first, so a naming problem is reported before minutes of work
    if key != "leiden" and key not in rna_raw.obs and key not in atac_raw.obs:
        columns = sorted(set(rna_raw.obs.columns) | set(atac_raw.obs.columns))
        raise InputError(
            f"labels_key {key!r} is not an obs column of the input; available: {columns}"
        )
    with timed_step("gene coordinates", timings):
        annotation = (
            read_gene_annotation(config.gene_annotation) if config.gene_annotation else None
        )
        genes = annotate_genes(rna_raw.var, annotation)
    for column in genes.columns:
        rna_raw.var[column] = genes[column].to_numpy()
    peak_chroms = atac_raw.var["chrom"].astype(str)
    if config.standard_chromosomes_only:
        require_ucsc(peak_chroms, "ATAC peaks")
    known = genes.loc[genes["chrom"] != "", "chrom"]
    if len(known):
        check_same_naming(known, "the gene coordinates", peak_chroms, "the peaks")

    rna, qc_before = prepare_rna(rna_raw, config, timings)
    del rna_raw
    with timed_step("ATAC filters and log1p", timings):
        atac, frac_before = prepare_atac(atac_raw, config, cells=rna.obs_names)
    del raw, atac_raw
    _resolve_labels(rna, atac.obs, key)
    if files:
        atac.uns["files"] = files

    mdata = paired_mudata(rna, atac)
    mdata.obs["leiden"] = rna.obs["leiden"].values
    mdata.obs[key] = rna.obs[key].values
    mdata.uns["genepeak"] = {
        "prepare": to_dict(config),
        "source": source_name,
        "version": genepeak.__version__,
        "qc_before": qc_before[QC_COLUMNS].copy(),
        "peak_frac_before": np.asarray(frac_before, dtype=np.float64),
    }
    if config.subsample_fraction is not None and config.subsample_fraction < 1:
        mdata = subsample_stratified(
            mdata, config.subsample_fraction, config.subsample_key or key, config.seed
        )
        _refresh_after_subsample(mdata)
        log(f"subsampled to {mdata.n_obs} cells ({config.subsample_fraction:.0%} per {key})")
    if out is not None:
        with timed_step("write .h5mu", timings):
            write_prepared(mdata, out)
    if figures_dir is not None:
        # plotting lives in report/; imported here only when figures are asked for
        from genepeak.report.qc import plot_prepare_qc

        with timed_step("QC figures", timings):
            plot_prepare_qc(mdata, figures_dir)
    return mdata


def _refresh_after_subsample(mdata: md.MuData) -> None:
    """Recompute what depends on the cell set (size factors, X, open fractions) after subsampling.

    HVGs, PCA, neighbours, UMAP and labels stay those of the full data set.
    """
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    normalise(rna)
    rna.var["n_cells"] = np.diff(rna.layers["counts"].tocsc().indptr).astype(np.int64)
    atac.var["frac_cells"] = open_fraction(atac.layers["counts"])


def write_prepared(mdata: md.MuData, out: str | Path) -> Path:
    """Write a prepared MuData to ``out`` (.h5mu) atomically."""
    out = Path(out)
    if out.suffix.lower() != ".h5mu":
        raise ConfigError(f"prepared output must be a .h5mu file, got {out}")
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mdata.write_h5mu(tmp)
    log(f"wrote {out} ({mdata.n_obs} cells)")
    return out
