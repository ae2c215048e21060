"""The prepared-MuData contract (docs/architecture.md): one home for reading it.

Models, evaluation and explanation all read a prepared MuData the same way: which modality,
which rows (cells) and columns (features), the raw counts, the size factors and the
preparation record in ``mdata.uns["genepeak"]``. Every lookup raises the same kind of
:class:`~genepeak.errors.InputError`, naming what is absent and where it was looked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from genepeak.errors import InputError

#: ``mdata.uns`` key of the preparation record
RECORD_KEY = "genepeak"
#: the two modalities of a prepared MuData
MODALITIES = ("rna", "atac")
#: what read_metadata reads of a prepared .h5mu (the matrices stay on disk)
METADATA_ELEMENTS = ("obs", "var", "uns")


def require_modalities(mdata, purpose: str = "this step") -> None:
    """Raise InputError unless ``mdata`` has the ``rna`` and ``atac`` modalities."""
    missing = [m for m in MODALITIES if m not in getattr(mdata, "mod", {})]
    if missing:
        raise InputError(
            f"{purpose} needs a prepared MuData with modalities 'rna' and 'atac'; "
            f"missing: {', '.join(missing)} (run genepeak.prepare first)"
        )


def positions(names, wanted: Sequence[str], what: str, where: str, hint: str = "") -> np.ndarray:
    """Positions of ``wanted`` in ``names``; InputError naming the absent ones and ``where``.

    Parameters
    ----------
    names
        The index looked in (obs or var names).
    wanted
        The names to find, in the order wanted.
    what
        What they are, plural (``"genes"``, ``"cells"``), for the message.
    where
        Where they were looked for, e.g. ``"mdata.mod['rna'].var_names"``.
    hint
        What to do about it, appended to the message.
    """
    wanted = np.asarray(wanted, dtype=str)
    found = pd.Index(np.asarray(names, dtype=str)).get_indexer(wanted)
    if (found < 0).any():
        absent = wanted[found < 0]
        shown = ", ".join(map(repr, absent[:5].tolist())) + (", ..." if len(absent) > 5 else "")
        raise InputError(
            f"{len(absent)} of {len(wanted)} {what} are not in {where} (e.g. {shown})"
            + (f"; {hint}" if hint else "")
        )
    return found


def feature_columns(adata, wanted: Sequence[str], modality: str, hint: str = "") -> np.ndarray:
    """Column positions of features ``wanted`` in the ``modality`` AnnData ``adata``."""
    what = "genes" if modality == "rna" else "peaks" if modality == "atac" else "features"
    where = f"mdata.mod['{modality}'].var_names"
    return positions(adata.var_names, wanted, what, where, hint)


def cell_rows(obs_names, cells=None) -> np.ndarray:
    """Row positions of ``cells``: all (None), a boolean mask, or cell names."""
    names = pd.Index(obs_names)
    if cells is None:
        return np.arange(len(names))
    cells = np.asarray(cells)
    if cells.dtype == bool:
        if len(cells) != len(names):
            raise InputError(f"boolean cells mask has length {len(cells)}, expected {len(names)}")
        return np.flatnonzero(cells)
    return positions(names, cells, "requested cells", "mdata.obs_names")


def dense_block(matrix, rows: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
    """Dense float32 copy of the selected rows (and columns) only; never the whole matrix."""
    sub = matrix[rows]
    if cols is not None:
        sub = sub[:, cols]
    sub = sub.toarray() if sp.issparse(sub) else np.asarray(sub)
    return sub.astype(np.float32, copy=False)


def every_column(cols: np.ndarray, n_columns: int) -> bool:
    """``cols`` are all ``n_columns`` columns, in order (no column selection needed)."""
    return len(cols) == n_columns and np.array_equal(cols, np.arange(n_columns))


#: stored values read per pass by :func:`column_sums` (32 MiB as float64)
VALUES_PER_PASS = 1 << 22


def value_passes(x: sp.spmatrix):
    """Passes over the stored values of a CSR / CSC ``x``, ``VALUES_PER_PASS`` at a time: each
    is ``(part, major)``, ``part`` a slice of ``x.data`` / ``x.indices`` and ``major`` the row
    (CSR) or column (CSC) of each of its values, from the pointers (never all expanded)."""
    for lo in range(0, x.nnz, VALUES_PER_PASS):
        part = slice(lo, min(lo + VALUES_PER_PASS, x.nnz))
        yield part, np.searchsorted(x.indptr, np.arange(part.start, part.stop), side="right") - 1


def column_sums(matrix, power: int = 1, row_weights: np.ndarray | None = None) -> np.ndarray:
    """Each column's sum of ``value ** power`` (times ``row_weights`` of the value's row), in
    float64, of a dense, CSR or CSC matrix: a sparse one is read ``VALUES_PER_PASS`` stored
    values at a time, never cast or copied whole."""
    if not sp.issparse(matrix):
        values = np.asarray(matrix, dtype=np.float64) ** power
        return (values if row_weights is None else values * row_weights[:, None]).sum(axis=0)
    x = matrix if matrix.format in ("csr", "csc") else sp.csr_matrix(matrix)
    if power != 1 and not x.has_canonical_format:  # duplicates summed before squaring
        x = x.copy()
        x.sum_duplicates()
    out = np.zeros(x.shape[1])
    for part, major in value_passes(x):
        rows, columns = (major, x.indices[part]) if x.format == "csr" else (x.indices[part], major)
        values = np.power(x.data[part], power, dtype=np.float64)
        if row_weights is not None:
            values *= row_weights[rows]
        out += np.bincount(columns, values, minlength=x.shape[1])
    return out


def sparse_block(matrix, rows: np.ndarray, cols: np.ndarray | None = None) -> sp.csr_matrix:
    """CSR float32 copy of the selected rows (and columns); the columns only when not all."""
    matrix = sp.csr_matrix(matrix)[rows]
    if cols is not None and not every_column(cols, matrix.shape[1]):
        matrix = matrix[:, cols]
    return sp.csr_matrix(matrix, dtype=np.float32)


def counts(adata, modality: str):
    """The raw counts, ``layers['counts']`` of the ``modality`` AnnData; InputError when absent."""
    if "counts" not in adata.layers:
        raise InputError(
            f"mdata.mod['{modality}'].layers has no 'counts' (raw counts), which a count "
            "likelihood needs; prepare the data with genepeak.prepare, or choose an MSE-type loss"
        )
    return adata.layers["counts"]


def size_factors(rna) -> np.ndarray:
    """Each cell's size factor: ``rna.obs['size_factor']``, else library size over its median."""
    if "size_factor" in rna.obs:
        factors = rna.obs["size_factor"].to_numpy(dtype=float)
    elif "counts" in rna.layers:
        totals = np.asarray(rna.layers["counts"].sum(axis=1), dtype=float).ravel()
        factors = totals / np.median(totals)
    else:
        raise InputError(
            "mdata.mod['rna'].obs has no 'size_factor' and its layers no 'counts': cannot "
            "convert raw counts to the model's input space; give values in log1p space instead"
        )
    return factors


def record(mdata) -> dict:
    """The preparation record ``mdata.uns['genepeak']`` ({} when the data was not prepared)."""
    found = mdata.uns.get(RECORD_KEY, {}) if hasattr(mdata, "uns") else {}
    return found if isinstance(found, dict) else {}


def read(path: str | Path, option: str = "--data"):
    """A prepared ``.h5mu`` (MuData), mudata's notice about pulling columns on update silenced;
    InputError naming ``option`` when the file is absent or not a readable ``.h5mu``."""
    import warnings

    import mudata as md

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option}: {path} is a folder, not a prepared .h5mu file")
    if not path.is_file():
        raise InputError(f"{option}: {path} does not exist (a prepared .h5mu, genepeak prepare)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            mdata = md.read_h5mu(path)
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as err:
        raise InputError(f"{option}: {path} is not a readable .h5mu file ({err})") from err
    require_modalities(mdata, f"{option} {path}")
    return mdata


def stored_values(path: str | Path) -> int:
    """Stored entries of every sparse matrix (``X`` and layers) of a prepared ``.h5mu``'s
    modalities, read from the file's dataset shapes without loading them."""
    import h5py

    total = 0
    with h5py.File(path, "r") as handle:
        for modality in handle.get("mod", {}).values():
            groups = [modality.get("X")] + list(modality.get("layers", {}).values())
            for group in groups:
                if isinstance(group, h5py.Group) and "data" in group:
                    total += group["data"].shape[0]
    return int(total)


def share_index_arrays(mdata) -> None:
    """Let each modality's ``X`` use the index arrays of its ``layers['counts']`` where the two
    store the same entries (a prepared file's ``X`` holds log1p values of the counts' entries):
    one copy of ``indices`` / ``indptr`` instead of two, 0.34 GiB at PBMC-10k size.

    Only canonical matrices (sorted, no duplicates) without stored zeros are shared: scipy
    sorts unsorted indices in place on many reads, and ``eliminate_zeros`` compacts them,
    either of which would reorder the other matrix's entries. For a MuData that is then only
    read, as ``genepeak run``'s after training."""
    for adata in mdata.mod.values():
        x, counts = adata.X, adata.layers.get("counts")
        if not (sp.issparse(x) and sp.issparse(counts)) or x.format != counts.format:
            continue
        if x.format not in ("csr", "csc") or x.shape != counts.shape:
            continue
        if not (x.has_canonical_format and counts.has_canonical_format):
            continue
        if not (np.all(x.data != 0) and np.all(counts.data != 0)):
            continue
        if np.array_equal(x.indptr, counts.indptr) and np.array_equal(x.indices, counts.indices):
            x.indices, x.indptr = counts.indices, counts.indptr


def read_metadata(path: str | Path):
    """A prepared ``.h5mu`` without its matrices: cells, features, labels and the record.

    Reads ``obs``, ``var`` and ``uns`` of the file and of its ``rna`` / ``atac`` modalities
    with anndata's element reader (``anndata.io.read_elem``), and none of ``X``, ``layers``,
    ``obsm`` or ``obsp``, so memory does not grow with the matrices. The modalities of the
    returned MuData have ``X=None``; read their rows from the file (``train.data.CellData``).
    """
    import anndata as ad
    import h5py
    import mudata as md
    from anndata.io import read_elem

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file (expected a prepared .h5mu, genepeak prepare)")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"{path} is not an HDF5 (.h5mu) file: {error}") from error
    with handle:
        missing = [m for m in MODALITIES if f"mod/{m}" not in handle]
        if missing:
            found = ", ".join(handle["mod"]) if "mod" in handle else "none"
            raise InputError(
                f"{path} has no modality {', '.join(map(repr, missing))} (found: {found}); "
                "a prepared .h5mu has 'rna' and 'atac' (run genepeak prepare first)"
            )

        def elements(group) -> dict:
            return {k: read_elem(group[k]) for k in METADATA_ELEMENTS if k in group}

        mods = {m: ad.AnnData(**elements(handle[f"mod/{m}"])) for m in MODALITIES}
        top = elements(handle)
        maps = {k: read_elem(handle[k]) for k in ("obsmap", "varmap") if k in handle}
    return md.MuData(mods, **top, **maps)
