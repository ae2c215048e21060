"""Cells as sparse CSR tensors; dense rows only per minibatch, on the training device."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch


class CSRTensor:
    """A CSR matrix as three torch tensors, so row batches are densified where they live."""

    def __init__(self, matrix: sp.spmatrix, device: torch.device | str = "cpu") -> None:
        matrix = sp.csr_matrix(matrix)
        matrix.sort_indices()
        self.shape = matrix.shape
        self.indptr = torch.from_numpy(matrix.indptr.astype(np.int64)).to(device)
        self.indices = torch.from_numpy(matrix.indices.astype(np.int64)).to(device)
        self.data = torch.from_numpy(matrix.data.astype(np.float32)).to(device)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.indptr, self.indices, self.data))

    def row_sums(self) -> torch.Tensor:
        """Sum of each row (e.g. library sizes of a counts matrix)."""
        rows = torch.repeat_interleave(
            torch.arange(self.shape[0], device=self.data.device), self.indptr.diff()
        )
        return torch.zeros(self.shape[0], device=self.data.device).index_add_(0, rows, self.data)

    def dense_rows(self, rows: torch.Tensor, device: torch.device | str) -> torch.Tensor:
        """Dense ``(len(rows), n_cols)`` float32 tensor of the given rows, built on ``device``."""
        rows = rows.to(self.indptr.device)
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        out_rows = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), lengths)
        # position of every stored value of the selected rows inside indices/data
        first = torch.cumsum(lengths, 0) - lengths
        within = torch.arange(total, device=rows.device) - torch.repeat_interleave(first, lengths)
        positions = torch.repeat_interleave(starts, lengths) + within
        cols, values = self.indices[positions], self.data[positions]
        out = torch.zeros(len(rows), self.shape[1], device=device)
        out[out_rows.to(device), cols.to(device)] = values.to(device)
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
