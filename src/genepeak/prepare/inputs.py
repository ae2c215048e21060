"""``read_input``: any supported input -> raw paired MuData, with the fixes that need no guess.

Fixed and logged: Ensembl chromosome names (``1:100-200``) become UCSC names (``chr1``),
modality tags on barcodes (``_rna`` / ``_atac``) are stripped for pairing, duplicate gene
symbols are made unique. Refused, with the file and field named: anything else.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import mudata as md
import numpy as np
import pandas as pd
import scipy.sparse as sp

from genepeak._utils import log
from genepeak.errors import InputError
from genepeak.io.annotation import intervals_to_coordinates
from genepeak.io.pairing import (
    as_counts,
    check_counts,
    pair_modalities,
    paired_mudata,
    read_h5ad,
    read_h5ad_pair,
    read_h5mu_pair,
)
from genepeak.io.peaks import chromosome_style, peak_coordinates, peak_names, to_ucsc
from genepeak.io.tenx import PEAKS, read_10x_h5, read_10x_mex, split_modalities

H5_NAME = "filtered_feature_bc_matrix.h5"
MEX_NAME = "filtered_feature_bc_matrix"
FRAGMENTS_NAME = "atac_fragments.tsv.gz"
PEAKS_BED_NAME = "atac_peaks.bed"
METRICS_NAME = "per_barcode_metrics.csv"


def read_input(path: str | Path, fragments: str | Path | None = None) -> md.MuData:
    """Read raw paired counts from any supported input.

    Parameters
    ----------
    path
        A Cell Ranger ARC ``outs`` folder (``filtered_feature_bc_matrix.h5`` or the
        ``filtered_feature_bc_matrix/`` MEX folder, plus ``atac_fragments.tsv.gz``,
        ``atac_peaks.bed`` and ``per_barcode_metrics.csv`` when present), an ARC ``.h5``,
        a MEX folder, a ``.h5mu``, or ``"rna.h5ad,atac.h5ad"``. With ``fragments`` (or a
        fragments file in the outs folder) an RNA-only matrix (``.h5``, MEX, ``.h5ad``) is
        accepted: the ATAC matrix is then built from the fragments by ``prepare``.
    fragments
        A tabix-indexed ``atac_fragments.tsv.gz`` to use instead of the one found next to
        the input.

    Returns
    -------
    MuData with modalities ``rna`` and ``atac`` holding raw counts (CSR float32) in X, the
    same cells in the same order (``atac`` has no peak yet for an RNA-only input). RNA var
    has ``chrom``/``start``/``end`` from the 10x interval where known; ATAC var has
    ``chrom``/``start``/``end`` parsed from peak names. The fragments file is recorded as
    ``mdata["atac"].uns["files"]["fragments"]`` (the muon convention).
    """
    if fragments is not None and not Path(fragments).is_file():
        raise InputError(f"--fragments: {fragments} does not exist")
    text = str(path)
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2 or not all(parts):
            raise InputError(f"expected 'rna.h5ad,atac.h5ad' (two paths), got {text!r}")
        mdata, folder = read_h5ad_pair(parts[0], parts[1]), None
    else:
        path = Path(path)
        if not path.exists():
            raise InputError(
                f"input {path} does not exist; expected a Cell Ranger ARC outs folder, an ARC "
                ".h5, a .h5mu or 'rna.h5ad,atac.h5ad'"
            )
        has_fragments = fragments is not None or _folder_of(path).joinpath(FRAGMENTS_NAME).is_file()
        mdata, folder = _read_single(path, rna_only=has_fragments)
    _add_coordinates(mdata)
    if folder is not None:
        _attach_outs_files(mdata, folder)
    if fragments is not None:
        files = dict(mdata.mod["atac"].uns.get("files", {}))
        files["fragments"] = str(Path(fragments).resolve())
        mdata.mod["atac"].uns["files"] = files
    return mdata


def _folder_of(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def _read_single(path: Path, rna_only: bool) -> tuple[md.MuData, Path | None]:
    if path.is_dir():
        if (path / H5_NAME).is_file():
            return _from_tenx(read_10x_h5(path / H5_NAME), path / H5_NAME, rna_only), path
        if (path / MEX_NAME).is_dir():
            return _from_tenx(read_10x_mex(path / MEX_NAME), path / MEX_NAME, rna_only), path
        if any((path / n).is_file() for n in ("matrix.mtx.gz", "matrix.mtx")):
            return _from_tenx(read_10x_mex(path), path, rna_only), path.parent
        raise InputError(
            f"{path} is a folder without {H5_NAME} or {MEX_NAME}/; give the Cell Ranger ARC "
            "'outs' folder (or the .h5 file itself)"
        )
    suffix = "".join(path.suffixes[-1:]).lower()
    if suffix == ".h5mu":
        return read_h5mu_pair(path), path.parent
    if suffix == ".h5ad":
        if not rna_only:
            raise InputError(
                f"{path}: one .h5ad holds one modality; give the RNA and ATAC files together as "
                "'rna.h5ad,atac.h5ad', or the RNA file with --fragments atac_fragments.tsv.gz"
            )
        rna = as_counts(read_h5ad(path), str(path))
        return paired_mudata(rna, _no_peaks(rna.obs_names)), path.parent
    if suffix in (".h5", ".hdf5"):
        return _from_tenx(read_10x_h5(path), path, rna_only), path.parent
    raise InputError(
        f"{path}: unrecognised input type {suffix or '(no suffix)'!r}; expected a Cell Ranger ARC "
        "outs folder, an ARC .h5, a .h5mu or 'rna.h5ad,atac.h5ad'"
    )


def _no_peaks(barcodes: pd.Index) -> ad.AnnData:
    """An ATAC modality without peaks (to be built from fragments)."""
    return ad.AnnData(
        X=sp.csr_matrix((len(barcodes), 0), dtype=np.float32),
        obs=pd.DataFrame(index=pd.Index(barcodes, dtype=str)),
        var=pd.DataFrame({"chrom": [], "start": [], "end": []}),
    )


def _from_tenx(adata: ad.AnnData, source: Path, rna_only: bool = False) -> md.MuData:
    check_counts(adata.X, str(source))
    has_peaks = (adata.var["feature_types"].astype(str) == PEAKS).any()
    if rna_only and not has_peaks:
        log(f"{source} has no peak matrix; the ATAC matrix is built from the fragments")
        rna = adata[:, adata.var["feature_types"].astype(str) != PEAKS].copy()
        if rna.n_vars == 0:
            raise InputError(f"{source} holds no 'Gene Expression' feature")
        return paired_mudata(rna, _no_peaks(rna.obs_names))
    rna, atac = split_modalities(adata, str(source))
    return paired_mudata(rna, atac)


def _add_coordinates(mdata: md.MuData) -> None:
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    if "interval" in rna.var.columns:
        coords = intervals_to_coordinates(rna.var["interval"], index=rna.var_names)
        chroms = coords["chrom"]
        if chromosome_style(chroms[chroms != ""]) == "ensembl":
            log("RNA: gene intervals use Ensembl chromosome names (1, X, MT); converted to UCSC")
            coords["chrom"] = np.where(chroms != "", to_ucsc(chroms), "")
            known = coords["chrom"] != ""
            interval = coords["chrom"] + ":" + coords["start"].astype(str) + "-"
            rna.var["interval"] = np.where(known, interval + coords["end"].astype(str), "")
        for column in ("chrom", "start", "end"):
            rna.var[column] = coords[column].to_numpy()
    if atac.n_vars == 0:
        return
    coords = peak_coordinates(atac.var, source="ATAC peak names")
    if chromosome_style(coords["chrom"]) == "ensembl":
        coords["chrom"] = to_ucsc(coords["chrom"])
        example = atac.var_names[0]
        atac.var_names = peak_names(coords)
        log(
            f"ATAC: peaks use Ensembl chromosome names (e.g. {example!r}); converted to UCSC "
            f"names with genepeak.io.peaks.to_ucsc (e.g. {atac.var_names[0]!r})"
        )
    for column in ("chrom", "start", "end"):
        atac.var[column] = coords[column].to_numpy()
    if "chr" in atac.var.columns:
        del atac.var["chr"]


def _attach_outs_files(mdata: md.MuData, folder: Path) -> None:
    atac = mdata.mod["atac"]
    files = dict(atac.uns.get("files", {}))
    for key, name in (("fragments", FRAGMENTS_NAME), ("peaks_bed", PEAKS_BED_NAME)):
        if (folder / name).is_file() and key not in files:
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


def raw_from_mudata(mdata: md.MuData) -> md.MuData:
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


def join_labels_file(rna: ad.AnnData, path: str | Path) -> list[str]:
    """Join the label columns of a TSV (``barcode`` column, or barcodes first) onto ``rna.obs``.

    Barcodes that differ only by a modality tag (``-1_rna``) are matched. Returns the
    columns added; raises when no barcode matches.
    """
    from genepeak.io.pairing import strip_modality_tag

    path = Path(path)
    if not path.is_file():
        raise InputError(f"PrepareConfig.labels_file: {path} does not exist")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:
        raise InputError(f"labels file {path} could not be read as a TSV: {err}") from err
    key = "barcode" if "barcode" in table.columns else table.columns[0]
    table = table.drop_duplicates(key).set_index(key)
    if table.shape[1] == 0:
        raise InputError(f"labels file {path}: no label column besides {key!r}")
    codes = pd.Index(rna.obs_names)
    if not codes.isin(table.index).any():  # a modality tag on either side (-1_rna)
        codes = pd.Index(strip_modality_tag(codes))
        table.index = pd.Index(strip_modality_tag(table.index))
        table = table[~table.index.duplicated()]
    found = codes.isin(table.index)
    if not found.any():
        raise InputError(
            f"labels file {path}: none of its {len(table)} barcodes (e.g. {table.index[0]!r}) "
            f"is a cell of the input (e.g. {rna.obs_names[0]!r})"
        )
    for column in table.columns:
        rna.obs[column] = table[column].reindex(codes).to_numpy()
    log(
        f"labels from {path.name}: {list(table.columns)} for {int(found.sum())} of {len(codes)} cells"
    )
    return list(table.columns)
