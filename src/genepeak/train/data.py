"""Cells as sparse CSR matrices; dense rows only per minibatch, on the training device."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from genepeak.errors import InputError
from genepeak.io.prepared import every_column, positions

#: stored values read at once when checking a file's matrix for NaN / inf
NONFINITE_CHUNK = 2**24
#: what to do when a count likelihood finds no raw counts in a file
COUNTS_HINT = (
    "a count likelihood trains against the raw counts layers['counts']: prepare the data "
    "with genepeak.prepare, or choose an MSE-type loss"
)


@dataclass(frozen=True)
class RowSubset:
    """Rows ``rows`` of a CSR ``matrix``, read in place: a training set's cells without a copy
    of their rows (at PBMC-10k size the training cells' peaks are 0.37 GiB)."""

    matrix: sp.csr_matrix
    rows: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.rows), self.matrix.shape[1])

    @property
    def nnz(self) -> int:  # what moving it to a device costs: the whole matrix
        return self.matrix.nnz


class CSRTensor:
    """A CSR matrix (or a :class:`RowSubset` of one) whose row batches are densified where the
    matrix lives.

    On the CPU a batch is scipy's compiled row gather and densify (``csr[rows].toarray()``),
    sharing memory with the torch views ``indptr`` / ``indices`` / ``data``. On a GPU the three
    arrays live on the device and each batch is built there; its one data-dependent size (how
    many values the batch stores) comes from a host copy of ``indptr``, so building a batch
    never waits for the device (no host round-trip per batch). Pass ``rows`` on the CPU.
    """

    def __init__(self, matrix: sp.spmatrix | RowSubset, device: torch.device | str = "cpu") -> None:
        self.rows = None
        if isinstance(matrix, RowSubset):
            matrix, self.rows = matrix.matrix, np.asarray(matrix.rows, dtype=np.int64)
        matrix = sp.csr_matrix(matrix, dtype=np.float32)  # shares the arrays when it can
        if not matrix.has_sorted_indices:
            matrix = matrix.sorted_indices()  # a copy: the caller's matrix stays as it was
        self.shape = matrix.shape if self.rows is None else (len(self.rows), matrix.shape[1])
        self.indptr_host = matrix.indptr.astype(np.int64)
        sums = np.asarray(matrix.sum(1), dtype=np.float32).ravel()
        self._row_sums = torch.from_numpy(sums if self.rows is None else sums[self.rows])
        device = torch.device(device)
        self.matrix = matrix if device.type == "cpu" else None
        self.indptr = torch.from_numpy(self.indptr_host).to(device)
        # int64 indices for the device ops; on the CPU the torch views share scipy's arrays
        indices = matrix.indices if device.type == "cpu" else matrix.indices.astype(np.int64)
        self.indices = torch.from_numpy(indices).to(device)
        self.data = torch.from_numpy(matrix.data).to(device)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.indptr, self.indices, self.data))

    def row_sums(self) -> torch.Tensor:
        """Sum of each row (e.g. library sizes of a counts matrix), where the matrix lives."""
        return self._row_sums.to(self.data.device)

    def dense_rows(self, rows: torch.Tensor, device: torch.device | str) -> torch.Tensor:
        """Dense ``(len(rows), n_cols)`` float32 tensor of the given rows, on ``device``."""
        rows_host = np.asarray(rows.cpu(), dtype=np.int64)
        if self.rows is not None:
            rows_host = self.rows[rows_host]
        if self.matrix is not None:
            return torch.from_numpy(self.matrix[rows_host].toarray()).to(device)
        return self.gather_on_device(rows_host).to(device)

    def gather_on_device(self, rows_host: np.ndarray) -> torch.Tensor:
        """Dense rows built where ``indptr`` / ``indices`` / ``data`` live, without a sync.

        Sizes come from ``indptr_host``; every device op gets them as Python integers
        (``output_size`` of ``repeat_interleave``), so none reads a device value back.
        """
        lengths_host = self.indptr_host[rows_host + 1] - self.indptr_host[rows_host]
        total = int(lengths_host.sum())
        device = self.data.device
        lengths = torch.from_numpy(lengths_host).to(device, non_blocking=True)
        starts = torch.from_numpy(self.indptr_host[rows_host]).to(device, non_blocking=True)
        out_rows = torch.repeat_interleave(
            torch.arange(len(rows_host), device=device), lengths, output_size=total
        )
        # position of every stored value of the selected rows inside indices / data
        first = torch.cumsum(lengths, 0) - lengths
        within = torch.arange(total, device=device) - torch.repeat_interleave(
            first, lengths, output_size=total
        )
        positions = torch.repeat_interleave(starts, lengths, output_size=total) + within
        out = torch.zeros(len(rows_host), self.shape[1], device=device)
        out[out_rows, self.indices[positions]] = self.data[positions]
        return out


class BackedCSR:
    """Rows of a CSR matrix in an open ``.h5mu`` / ``.h5ad`` file, read batch by batch.

    Only ``rows`` (the file rows of these cells) and the row sums stay in memory, so memory
    does not grow with the number of cells; anndata's backed sparse dataset reads each batch.
    ``cols`` picks (and orders) the columns, as the model's features.
    """

    #: rows read at once when summing rows (bounds memory while streaming)
    CHUNK_ROWS = 4096

    def __init__(self, group, rows: np.ndarray, cols: np.ndarray | None = None) -> None:
        from anndata.io import sparse_dataset

        self.dataset = sparse_dataset(group)
        if self.dataset.format != "csr":
            raise InputError(
                f"{group.file.filename}:{group.name} is stored as {self.dataset.format}; "
                "streaming training reads rows of a CSR matrix (write the file with CSR X)"
            )
        self.rows = np.asarray(rows, dtype=np.int64)
        self.cols = None if cols is None else np.asarray(cols, dtype=np.int64)
        n_cols = self.dataset.shape[1] if self.cols is None else len(self.cols)
        self.shape = (len(self.rows), n_cols)
        self._row_sums: torch.Tensor | None = None

    def _read(self, file_rows: np.ndarray) -> sp.csr_matrix:
        order = np.argsort(file_rows, kind="stable")
        wanted = file_rows[order]  # sorted reads are contiguous on disk
        if len(wanted) and wanted[-1] - wanted[0] == len(wanted) - 1:
            wanted = slice(int(wanted[0]), int(wanted[-1]) + 1)  # a run of rows: one slice
        block = self.dataset[wanted]
        if self.cols is not None:
            block = block[:, self.cols]
        restore = np.empty_like(order)
        restore[order] = np.arange(len(order))
        return sp.csr_matrix(block[restore], dtype=np.float32)

    def row_sums(self) -> torch.Tensor:
        """Sum of each row, streamed in chunks of ``CHUNK_ROWS`` rows."""
        if self._row_sums is None:
            sums = [
                np.asarray(self._read(self.rows[i : i + self.CHUNK_ROWS]).sum(1)).ravel()
                for i in range(0, len(self.rows), self.CHUNK_ROWS)
            ]
            self._row_sums = torch.from_numpy(
                np.concatenate(sums or [np.zeros(0)]).astype(np.float32)
            )
        return self._row_sums

    def dense_rows(self, rows: torch.Tensor, device: torch.device | str) -> torch.Tensor:
        """Dense ``(len(rows), n_cols)`` float32 tensor of the given rows, on ``device``."""
        file_rows = self.rows[np.asarray(rows.cpu(), dtype=np.int64)]
        return torch.from_numpy(self._read(file_rows).toarray()).to(device)


@dataclass
class Batch:
    """One minibatch on the device: log1p inputs, and raw counts when a count loss needs them."""

    genes: torch.Tensor
    peaks: torch.Tensor
    gene_counts: torch.Tensor | None = None
    peak_counts: torch.Tensor | None = None
    gene_library: torch.Tensor | None = None
    peak_library: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.genes.shape[0]

    def to(self, device: torch.device | str) -> Batch:
        """The same batch on ``device``."""
        moved = {k: None if v is None else v.to(device) for k, v in vars(self).items()}
        return Batch(**moved)


class CellData:
    """Genes and peaks (log1p, optionally raw counts) of a set of cells, kept sparse.

    The CSR tensors live on ``device`` when they fit in a quarter of its free memory (the
    whole dataset on the GPU), otherwise on the CPU, and each batch is moved on its own.
    """

    def __init__(
        self,
        genes: sp.spmatrix,
        peaks: sp.spmatrix,
        gene_counts: sp.spmatrix | None = None,
        peak_counts: sp.spmatrix | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.device = torch.device(device)
        matrices = {
            "genes": genes,
            "peaks": peaks,
            "gene_counts": gene_counts,
            "peak_counts": peak_counts,
        }
        matrices = {k: m for k, m in matrices.items() if m is not None}
        in_memory = [m for m in matrices.values() if not isinstance(m, BackedCSR)]
        nbytes = sum(m.nnz * 12 + m.shape[0] * 8 for m in in_memory)
        storage = self.device if _fits(nbytes, self.device) else torch.device("cpu")
        self.tensors = {
            k: m if isinstance(m, BackedCSR) else CSRTensor(m, storage) for k, m in matrices.items()
        }
        self.library = {
            k: t.row_sums().to(self.device) for k, t in self.tensors.items() if k.endswith("counts")
        }
        self.n_cells = genes.shape[0]

    @classmethod
    def from_h5mu(
        cls,
        path,
        cells,
        genes,
        peaks,
        counts: tuple[bool, bool] = (False, False),
        device: torch.device | str = "cpu",
    ) -> CellData:
        """Cells of a prepared ``.h5mu`` streamed from disk: each batch is read when drawn.

        ``genes`` / ``peaks`` name the features in the model's order; ``counts`` says whether
        the RNA / ATAC ``layers['counts']`` are needed (count likelihoods). The file stays open
        for as long as the returned object lives.
        """
        import h5py

        handle = h5py.File(path, "r")
        rna = _backed_modality(handle, "rna", cells, genes, counts[0])
        atac = _backed_modality(handle, "atac", cells, peaks, counts[1])
        data = cls(rna[0], atac[0], rna[1], atac[1], device=device)
        data.handle = handle
        return data

    def __len__(self) -> int:
        return self.n_cells

    def batch(self, rows: torch.Tensor) -> Batch:
        """Dense minibatch of the given row positions, on the training device."""
        dense = {k: t.dense_rows(rows, self.device) for k, t in self.tensors.items()}
        rows_here = rows.to(self.device)
        return Batch(
            genes=dense["genes"],
            peaks=dense["peaks"],
            gene_counts=dense.get("gene_counts"),
            peak_counts=dense.get("peak_counts"),
            gene_library=self.library["gene_counts"][rows_here] if "gene_counts" in dense else None,
            peak_library=self.library["peak_counts"][rows_here] if "peak_counts" in dense else None,
        )


def _backed_modality(
    handle, modality: str, cells, features, with_counts: bool, n_cells: int | None = None
):
    """``(X, counts or None)`` of one modality of an open ``.h5mu`` as ``BackedCSR``.

    ``cells=None`` with ``n_cells``: every row, in file order (no name lookup).
    """
    base = f"mod/{modality}"
    where = f"{handle.filename}:{base}"
    if base not in handle:
        raise InputError(f"{handle.filename} has no modality {modality!r} (expected {base})")
    if cells is None:
        rows = np.arange(n_cells)
    else:
        rows = positions(_names(handle[f"{base}/obs"]), cells, "cells", f"{where}/obs")
    var_names = _names(handle[f"{base}/var"])
    cols = positions(var_names, features, "features", f"{where}/var")
    if every_column(cols, len(var_names)):
        cols = None  # every feature, in file order: no column selection per batch
    values = BackedCSR(handle[f"{base}/X"], rows, cols)
    if not with_counts:
        return values, None
    if f"{base}/layers/counts" not in handle:
        raise InputError(f"{where} has no layers/counts; {COUNTS_HINT}")
    return values, BackedCSR(handle[f"{base}/layers/counts"], rows, cols)


def library_sizes(path, modality: str, features) -> np.ndarray:
    """Each cell's total of ``layers['counts']`` over ``features``, streamed in row chunks."""
    import h5py

    with h5py.File(path, "r") as handle:
        n_cells = len(_names(handle[f"mod/{modality}/obs"]))
        _, counts = _backed_modality(handle, modality, None, features, True, n_cells)
        return counts.row_sums().numpy()


def count_nonfinite(path, modality: str, layer: str) -> int:
    """How many stored values of ``X`` (``layer="X"``) or ``layers[layer]`` are NaN or inf.

    Reads the stored values (``data`` of a sparse matrix, rows of a dense one) in chunks of
    ``NONFINITE_CHUNK`` values, never the whole matrix.
    """
    import h5py

    key = f"mod/{modality}/X" if layer == "X" else f"mod/{modality}/layers/{layer}"
    with h5py.File(path, "r") as handle:
        if key not in handle:
            hint = "" if layer == "X" else f"; {COUNTS_HINT}"
            raise InputError(f"{path} has no {key}{hint}")
        element = handle[key]
        values = element["data"] if isinstance(element, h5py.Group) else element
        n = values.shape[0]
        step = max(1, NONFINITE_CHUNK // max(1, int(np.prod(values.shape[1:]))))
        return sum(int((~np.isfinite(values[i : i + step])).sum()) for i in range(0, n, step))


def _names(group) -> np.ndarray:
    """The index (obs or var names) of an anndata dataframe group."""
    index_key = group.attrs.get("_index", "_index")
    return np.asarray(group[index_key].asstr()[:])


def _fits(nbytes: int, device: torch.device) -> bool:
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes < free / 4


def batch_rows(
    n_cells: int, batch_size: int | None, shuffle: bool, generator: torch.Generator | None = None
) -> list[torch.Tensor]:
    """Row positions of each minibatch (``batch_size=None``: one full batch)."""
    order = torch.randperm(n_cells, generator=generator) if shuffle else torch.arange(n_cells)
    size = batch_size or max(n_cells, 1)
    batches = list(torch.split(order, size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        # a lone last cell would break batch norm; fold it into the previous batch
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches
