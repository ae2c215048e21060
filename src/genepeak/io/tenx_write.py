"""Write a Cell Ranger ARC ``filtered_feature_bc_matrix.h5`` (both modalities in one matrix).

The layout follows the real ARC 2.0 files (and the fixture cut from
``pbmc_granulocyte_sorted_3k``): a group ``matrix`` holding the CSC matrix of
features x barcodes (``data`` int32, ``indices`` / ``indptr`` / ``shape`` uint32), the
barcodes, and ``features/{id,name,feature_type,genome,interval,_all_tag_keys}`` as
fixed-width byte strings, gzip-compressed. A cells x features CSR matrix has exactly the
arrays of that features x cells CSC matrix, so rows can be streamed cell block by cell
block (:class:`TenxH5Writer`) without holding the whole matrix.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

from genepeak._utils import atomic_path
from genepeak.errors import InputError

FEATURE_COLUMNS = ("id", "name", "feature_type", "genome", "interval")
FEATURE_TYPES = ("Gene Expression", "Peaks")
_CHUNK = 1 << 16
_UINT32_MAX = np.iinfo(np.uint32).max


def _bytes(values: list[str] | np.ndarray | pd.Series) -> np.ndarray:
    """Fixed-width byte strings, as Cell Ranger stores every text field."""
    array = np.asarray([str(v) for v in values], dtype=object)
    width = max((len(v.encode()) for v in array), default=1) or 1
    return np.array([v.encode() for v in array], dtype=f"S{width}")


def _check_features(features: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in FEATURE_COLUMNS if c not in features.columns]
    if missing:
        raise InputError(
            f"features table: missing column(s) {missing}; expected columns {list(FEATURE_COLUMNS)}"
        )
    bad = sorted(set(features["feature_type"]) - set(FEATURE_TYPES))
    if bad:
        raise InputError(
            f"features table, field feature_type: unknown value(s) {bad}; "
            f"expected one of {list(FEATURE_TYPES)}"
        )
    return features.reset_index(drop=True)


class TenxH5Writer:
    """Stream cells x features count blocks into an ARC-layout h5 file.

    Use as a context manager; :meth:`append` takes CSR blocks of consecutive cells.
    The file appears at ``path`` only when the block closes without error.

    Parameters
    ----------
    path
        Destination ``.h5`` file.
    barcodes
        All cell barcodes, in the order their rows will be appended.
    features
        One row per feature (columns ``id, name, feature_type, genome, interval``).
    """

    def __init__(self, path: str | os.PathLike, barcodes: list[str], features: pd.DataFrame):
        self.path = Path(path)
        self.barcodes = list(barcodes)
        self.features = _check_features(features)
        self.n_rows = 0
        self.nnz = 0
        self._indptr: list[np.ndarray] = [np.zeros(1, dtype=np.uint64)]
        self._atomic = None
        self._file: h5py.File | None = None

    def __enter__(self) -> TenxH5Writer:
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        self._file = h5py.File(tmp, "w", track_order=False)
        group = self._file.create_group("matrix")
        for name, dtype in (("data", np.int32), ("indices", np.uint32)):
            group.create_dataset(
                name,
                shape=(0,),
                maxshape=(None,),
                dtype=dtype,
                chunks=(_CHUNK,),
                compression="gzip",
                compression_opts=4,
                track_times=False,
            )
        return self

    def append(self, block: sp.spmatrix | sp.sparray) -> None:
        """Append the rows of a cells x features integer count block."""
        block = sp.csr_matrix(block)
        n_features = len(self.features)
        if block.shape[1] != n_features:
            raise InputError(
                f"count block has {block.shape[1]} columns but the features table has "
                f"{n_features} rows"
            )
        if block.nnz and (block.data.min() < 0 or not np.all(np.mod(block.data, 1) == 0)):
            raise InputError("counts must be non-negative integers (10x stores raw UMI/cut counts)")
        block.sum_duplicates()
        block.eliminate_zeros()
        group = self._file["matrix"]
        start, stop = self.nnz, self.nnz + block.nnz
        for name, values in (("data", block.data), ("indices", block.indices)):
            dataset = group[name]
            dataset.resize((stop,))
            if block.nnz:
                dataset[start:stop] = values.astype(dataset.dtype, copy=False)
        self._indptr.append(block.indptr[1:].astype(np.uint64) + np.uint64(self.nnz))
        self.nnz = stop
        self.n_rows += block.shape[0]

    def _finish(self) -> None:
        if self.n_rows != len(self.barcodes):
            raise InputError(
                f"{self.n_rows} rows were written but {len(self.barcodes)} barcodes were given"
            )
        group = self._file["matrix"]
        indptr = np.concatenate(self._indptr)
        index_dtype = np.uint32 if self.nnz <= _UINT32_MAX else np.uint64
        opts = dict(compression="gzip", track_times=False)
        group.create_dataset("indptr", data=indptr.astype(index_dtype), compression_opts=0, **opts)
        group.create_dataset(
            "shape",
            data=np.array([len(self.features), self.n_rows], dtype=np.uint32),
            compression_opts=0,
            **opts,
        )
        group.create_dataset("barcodes", data=_bytes(self.barcodes), compression_opts=0, **opts)
        feats = group.create_group("features")
        for column in FEATURE_COLUMNS:
            feats.create_dataset(
                column, data=_bytes(self.features[column]), compression_opts=6, **opts
            )
        feats.create_dataset(
            "_all_tag_keys",
            data=np.array([b"genome", b"interval"], dtype="S8"),
            compression_opts=6,
            **opts,
        )
        # file-level attributes Cell Ranger ARC writes
        attrs = self._file.attrs
        attrs["filetype"] = "matrix"
        attrs["version"] = np.int64(2)
        attrs["library_ids"] = np.array([b"simulated"])
        attrs["original_gem_groups"] = np.array([1], dtype=np.int64)
        attrs["chemistry_description"] = "Single Cell Multiome ATAC + Gene Expression v1"

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        try:
            if exc_type is None:
                self._finish()
        except BaseException as err:  # close, clean up, re-raise
            self._file.close()
            self._atomic.__exit__(type(err), err, err.__traceback__)
            raise
        self._file.close()
        return bool(self._atomic.__exit__(exc_type, exc, tb))


def write_10x_h5(
    path: str | os.PathLike,
    counts: sp.spmatrix | sp.sparray,
    barcodes: list[str],
    features: pd.DataFrame,
) -> Path:
    """Write a cells x features count matrix as an ARC ``filtered_feature_bc_matrix.h5``.

    Parameters
    ----------
    path
        Destination file (written atomically).
    counts
        Sparse integer counts, cells x features (genes and peaks in the order of ``features``).
    barcodes
        One barcode per row of ``counts``, e.g. ``AAACAGCCAAATATCC-1``.
    features
        Columns ``id, name, feature_type`` (``Gene Expression`` or ``Peaks``), ``genome``,
        ``interval`` (``chr1:100-600``; for peaks ``id == name == interval``).

    Returns
    -------
    The path written.
    """
    counts = sp.csr_matrix(counts)
    if counts.shape[0] != len(barcodes):
        raise InputError(
            f"counts have {counts.shape[0]} rows (cells) but {len(barcodes)} barcodes were given"
        )
    if len(set(barcodes)) != len(barcodes):
        raise InputError("barcodes must be unique")
    with TenxH5Writer(path, barcodes, features) as writer:
        writer.append(counts)
    return Path(path)
