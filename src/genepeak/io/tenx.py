"""Readers for 10x Cell Ranger (ARC) feature-barcode matrices: the ``.h5`` file and the MEX folder.

Both return an AnnData of cells x features with raw counts (CSR float32) and ``var`` columns
``gene_ids``, ``feature_types``, ``genome`` and ``interval`` (10x's genomic interval of each
feature, ``""`` where none).
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

from genepeak._utils import log
from genepeak.errors import InputError

GENE_EXPRESSION = "Gene Expression"
PEAKS = "Peaks"
_REQUIRED = ("barcodes", "data", "indices", "indptr", "shape")


def _strings(dataset: h5py.Dataset) -> np.ndarray:
    return np.array(
        [v.decode() if isinstance(v, bytes) else str(v) for v in dataset[:]], dtype=object
    )


def read_10x_h5(path: str | Path) -> ad.AnnData:
    """Read a 10x feature-barcode matrix ``.h5`` (Cell Ranger >= 3 / ARC layout).

    Parameters
    ----------
    path
        ``filtered_feature_bc_matrix.h5`` (or any 10x h5 with a ``matrix`` group).

    Returns
    -------
    AnnData, cells x features, raw counts as CSR float32.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"10x h5 file {path} does not exist")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise InputError(
            f"{path} is not a readable HDF5 file (truncated or not HDF5: {err}); "
            "expected a 10x filtered_feature_bc_matrix.h5 — download it again"
        ) from err
    with handle:
        group = _matrix_group(handle, path)
        try:
            n_features, n_cells = (int(v) for v in group["shape"][:])
            # convert while reading: no second full-size copy of data / indices
            data = group["data"].astype(np.float32)[:]
            index_dtype = np.int64 if group["data"].shape[0] > np.iinfo(np.int32).max else np.int32
            indices = group["indices"].astype(index_dtype)[:]
            indptr = group["indptr"].astype(index_dtype)[:]
            barcodes = _strings(group["barcodes"])
            var = _features(group["features"])
        except (OSError, KeyError, ValueError) as err:
            raise InputError(
                f"{path}: 10x matrix could not be read (truncated file?): {err}"
            ) from err
    if len(barcodes) != n_cells or len(var) != n_features or len(indptr) != n_cells + 1:
        raise InputError(
            f"{path}: inconsistent 10x matrix: shape says {n_features} features x {n_cells} "
            f"barcodes but found {len(var)} features, {len(barcodes)} barcodes, "
            f"{len(indptr) - 1} columns"
        )
    if len(data) != len(indices) or (len(indptr) and indptr[-1] != len(data)):
        raise InputError(f"{path}: 10x matrix data/indices/indptr lengths disagree (truncated?)")
    # features x barcodes stored as CSC is barcodes x features as CSR: no copy, no transpose
    counts = sp.csr_matrix((data, indices, indptr), shape=(n_cells, n_features), copy=False)
    return _as_anndata(counts, barcodes, var)


def _matrix_group(handle: h5py.File, path: Path) -> h5py.Group:
    """The 10x ``matrix`` group, with every dataset the reader needs; InputError otherwise."""
    if "matrix" not in handle:
        raise InputError(
            f"{path} is HDF5 but not a 10x feature-barcode matrix: it has no 'matrix' group "
            f"(top-level keys: {sorted(handle.keys())}). Cell Ranger 2 files and AnnData "
            ".h5ad files are not 10x ARC h5; give the filtered_feature_bc_matrix.h5 of Cell "
            "Ranger ARC, or convert to .h5mu / two .h5ad files"
        )
    group = handle["matrix"]
    missing = [k for k in (*_REQUIRED, "features") if k not in group]
    if missing:
        raise InputError(
            f"{path}: 10x 'matrix' group lacks {', '.join(missing)}; expected barcodes, data, "
            "indices, indptr, shape and features/{id,name,feature_type}"
        )
    return group


def _features(feat: h5py.Group) -> pd.DataFrame:
    """The ``features`` group as a var table indexed by feature name."""
    var = pd.DataFrame(
        {
            "gene_ids": _strings(feat["id"]),
            "feature_types": _strings(feat["feature_type"]),
            "genome": _strings(feat["genome"]) if "genome" in feat else "",
            "interval": _strings(feat["interval"]) if "interval" in feat else "",
        }
    )
    var.index = pd.Index(_strings(feat["name"]))
    return var


def _as_anndata(counts: sp.csr_matrix, barcodes: np.ndarray, var: pd.DataFrame) -> ad.AnnData:
    var = var.copy()
    var["interval"] = var["interval"].replace({"NA": ""}).fillna("").astype(str)
    var.index.name = None
    duplicated = var.index[var.index.duplicated(keep=False)].unique()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate gene symbols: made unique right below
        adata = ad.AnnData(X=counts, obs=pd.DataFrame(index=pd.Index(barcodes, dtype=str)), var=var)
        adata.var_names_make_unique()
    if len(duplicated):
        log(
            f"{len(duplicated)} feature names occur more than once (e.g. "
            f"{', '.join(map(str, duplicated[:3]))}); made unique by appending -1, -2, ... "
            "(gene_ids keep the Ensembl ids)"
        )
    return adata


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)  # noqa: SIM115


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def read_10x_mex(folder: str | Path) -> ad.AnnData:
    """Read a 10x MEX folder (``matrix.mtx[.gz]``, ``features.tsv[.gz]``, ``barcodes.tsv[.gz]``).

    Returns
    -------
    AnnData, cells x features, raw counts as CSR float32. For ARC, ``features.tsv`` carries
    chrom, start, end columns; they become the ``interval`` column.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"10x MEX folder {folder} does not exist")
    matrix = _find(folder, "matrix.mtx")
    features = _find(folder, "features.tsv") or _find(folder, "genes.tsv")
    barcodes_file = _find(folder, "barcodes.tsv")
    missing = [
        name
        for name, found in (
            ("matrix.mtx.gz", matrix),
            ("features.tsv.gz", features),
            ("barcodes.tsv.gz", barcodes_file),
        )
        if found is None
    ]
    if missing:
        raise InputError(
            f"{folder} is not a 10x MEX folder: {', '.join(missing)} missing "
            "(expected matrix.mtx.gz, features.tsv.gz and barcodes.tsv.gz)"
        )
    try:
        with _open_text(matrix) as handle:
            counts = scipy.io.mmread(handle)
        feat = pd.read_csv(features, sep="\t", header=None, dtype=str, keep_default_na=False)
        barcodes = pd.read_csv(barcodes_file, sep="\t", header=None, dtype=str)[0].to_numpy()
    except (OSError, ValueError, EOFError) as err:
        raise InputError(f"{folder}: 10x MEX files could not be read (truncated?): {err}") from err
    counts = sp.csr_matrix(counts.T, dtype=np.float32)
    if counts.shape != (len(barcodes), len(feat)):
        raise InputError(
            f"{matrix}: matrix is {counts.shape[1]} features x {counts.shape[0]} barcodes but "
            f"{features.name} lists {len(feat)} features and {barcodes_file.name} {len(barcodes)}"
        )
    interval = (
        feat[3] + ":" + feat[4] + "-" + feat[5]
        if feat.shape[1] >= 6
        else pd.Series([""] * len(feat))
    )
    interval = interval.where(feat[3] != "", "") if feat.shape[1] >= 6 else interval
    var = pd.DataFrame(
        {
            "gene_ids": feat[0].to_numpy(),
            "feature_types": feat[2].to_numpy() if feat.shape[1] >= 3 else GENE_EXPRESSION,
            "genome": "",
            "interval": interval.to_numpy(),
        },
        index=pd.Index(feat[1] if feat.shape[1] >= 2 else feat[0]),
    )
    return _as_anndata(counts, barcodes, var)


def split_modalities(adata: ad.AnnData, source: str) -> tuple[ad.AnnData, ad.AnnData]:
    """Split a combined ARC matrix into (RNA, ATAC) by ``feature_types``.

    Raises InputError when either modality is absent.
    """
    types = adata.var["feature_types"].astype(str).to_numpy()
    is_rna = types == GENE_EXPRESSION
    is_atac = types == PEAKS
    found = ", ".join(f"{t!r} x {n}" for t, n in zip(*np.unique(types, return_counts=True)))
    if not is_rna.any() or not is_atac.any():
        absent = "Gene Expression" if not is_rna.any() else "Peaks"
        raise InputError(
            f"{source} holds only one modality: no {absent!r} features (feature types found: "
            f"{found or 'none'}). genepeak needs paired RNA + ATAC: give the Cell Ranger ARC "
            "filtered_feature_bc_matrix.h5, a .h5mu with 'rna' and 'atac', or 'rna.h5ad,atac.h5ad'"
        )
    rna = adata[:, is_rna].copy()
    atac = adata[:, is_atac].copy()
    return rna, atac
