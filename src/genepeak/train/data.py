"""Cells as sparse CSR matrices; dense rows only per minibatch, on the training device."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch


class CSRTensor:
    """A CSR matrix whose row batches are densified where the matrix lives.

    On the CPU a batch is scipy's compiled row gather and densify (``csr[rows].toarray()``),
    sharing memory with the torch views ``indptr`` / ``indices`` / ``data``. On a GPU the three
    arrays live on the device and each batch is built there; its one data-dependent size (how
    many values the batch stores) comes from a host copy of ``indptr``, so building a batch
    never waits for the device (no host round-trip per batch). Pass ``rows`` on the CPU.
    """

    def __init__(self, matrix: sp.spmatrix, device: torch.device | str = "cpu") -> None:
        matrix = sp.csr_matrix(matrix, dtype=np.float32)
        matrix.sort_indices()
        self.shape = matrix.shape
        self.indptr_host = matrix.indptr.astype(np.int64)
        self._row_sums = torch.from_numpy(np.asarray(matrix.sum(1), dtype=np.float32).ravel())
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

    def rows(self, index: torch.Tensor) -> Batch:
        """The sub-batch of the given row positions."""
        return Batch(**{k: None if v is None else v[index] for k, v in vars(self).items()})


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
        nbytes = sum(m.nnz * 12 + m.shape[0] * 8 for m in matrices.values() if m is not None)
        storage = self.device if _fits(nbytes, self.device) else torch.device("cpu")
        self.tensors = {k: CSRTensor(m, storage) for k, m in matrices.items() if m is not None}
        self.library = {
            k: t.row_sums().to(self.device) for k, t in self.tensors.items() if k.endswith("counts")
        }
        self.n_cells = genes.shape[0]

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
