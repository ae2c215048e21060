"""A tiny object that answers the model API (docs/architecture.md) with fixed linear maps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genepeak.train.split import stratified_split


class FakeModel:
    """Peaks of a cell = its own expression of gene ``j // 2`` (the planted link of the fixture).

    Every output depends on the cell's own values only, so nothing is fitted on any cell.
    """

    peak_task = "translation"
    gene_task = "reconstruction"
    peak_scale = "log1p"
    latent_keys = ("z1", "z2")

    def __init__(self, mdata, seed: int = 0) -> None:
        self.mdata = mdata
        labels = mdata.obs["leiden"].astype(str).to_numpy()
        self.split = stratified_split(mdata.obs_names, labels, 0.1, 0.2, seed)
        self.genes = np.asarray(mdata.mod["rna"].var_names)
        self.peaks = np.asarray(mdata.mod["atac"].var_names)
        rng = np.random.default_rng(seed)
        self.project_rna = rng.normal(size=(len(self.genes), 8))
        self.project_atac = rng.normal(size=(len(self.peaks), 8))
        self.history = pd.DataFrame(
            {
                "epoch": np.arange(1, 6),
                "beta": np.linspace(0, 0.1, 5),
                "loss": [5.0, 4.0, 3.5, 3.2, 3.1],
                "rec_peaks": [3.0, 2.5, 2.2, 2.0, 1.9],
                "rec_genes": [2.0, 1.5, 1.3, 1.2, 1.2],
                "kl": [0.1, 0.2, 0.3, 0.3, 0.3],
                "val_loss": [5.2, 4.3, 3.9, 3.7, 3.6],
                "val_rec_peaks": [3.1, 2.7, 2.4, 2.2, 2.1],
                "val_rec_genes": [2.1, 1.6, 1.5, 1.4, 1.4],
                "val_kl": [0.1, 0.2, 0.3, 0.3, 0.3],
                "seconds": [0.1] * 5,
            }
        )

    def _rows(self, mdata, cells, mod):
        mdata = self.mdata if mdata is None else mdata
        adata = mdata.mod[mod]
        cells = self.split["test"] if cells is None else cells
        return adata.X[adata.obs_names.get_indexer(cells)].toarray()

    def predict_peaks(self, mdata=None, cells=None, n_samples=None):
        genes = self._rows(mdata, cells, "rna")
        return genes[:, np.arange(len(self.peaks)) // 2 % len(self.genes)]

    def predict_genes(self, mdata=None, cells=None, n_samples=None):
        return 0.9 * self._rows(mdata, cells, "rna")

    def latent(self, mdata=None, cells=None, key="z1"):
        if key == "z1":
            return self._rows(mdata, cells, "rna") @ self.project_rna
        return self._rows(mdata, cells, "atac") @ self.project_atac


def make_typed_mdata(
    type_sizes: tuple[int, ...] = (150, 150, 150, 12),
    n_genes: int = 40,
    n_peaks: int = 30,
    seed: int = 0,
):
    """Cell types plus a within-type state ``u`` that opens peaks with type-specific slopes.

    Genes: a type-specific mean profile, and genes 0-9 follow ``u``. Peaks 0-7: type markers
    (open in their own type). Peaks 8-: open with probability ``sigmoid(slope[type] * u)``,
    the slope's sign flipping between types, so only a model that learns within-type
    variation ranks the cells of one type. ``mdata.obs['leiden']`` is the true type.
    """
    rng = np.random.default_rng(seed)
    n_types = len(type_sizes)
    types = np.repeat(np.arange(n_types), type_sizes)
    n = len(types)
    u = rng.normal(size=n)
    type_means = rng.gamma(1.0, 1.0, size=(n_types, n_genes))
    log_rate = np.log(type_means[types] + 0.2)
    log_rate[:, :10] += 0.8 * u[:, None]
    counts_rna = rng.poisson(3.0 * np.exp(log_rate)).astype(np.float32)
    logits = np.full((n, n_peaks), -3.0)
    for t in range(n_types):
        logits[types == t, 2 * t : 2 * t + 2] = 2.5
    slopes = rng.choice([-3.0, 3.0], size=(n_types, n_peaks - 8))
    logits[:, 8:] = slopes[types] * u[:, None]
    counts_atac = (rng.random((n, n_peaks)) < 1 / (1 + np.exp(-logits))).astype(np.float32)
    mdata = paired_counts_mdata(counts_rna, counts_atac, [f"t{t}" for t in types])
    mdata.obs["u"] = u
    return mdata


def paired_counts_mdata(counts_rna: np.ndarray, counts_atac: np.ndarray, labels):
    """A MuData of raw counts (``layers['counts']``) and their log1p (``X``) for RNA and ATAC,
    cells ``cell0..``, genes ``G0..``, peaks on chr1; ``obs['leiden']`` = ``labels``."""
    import anndata as ad
    import mudata as md
    import scipy.sparse as sp

    names = [f"cell{i}" for i in range(len(counts_rna))]
    labels = pd.Categorical(labels)
    rna = ad.AnnData(
        X=sp.csr_matrix(np.log1p(counts_rna)),
        obs=pd.DataFrame({"leiden": labels}, index=names),
        var=pd.DataFrame(index=[f"G{i}" for i in range(counts_rna.shape[1])]),
    )
    rna.layers["counts"] = sp.csr_matrix(counts_rna)
    peaks = [f"chr1:{i * 1000}-{i * 1000 + 500}" for i in range(counts_atac.shape[1])]
    atac = ad.AnnData(
        X=sp.csr_matrix(np.log1p(counts_atac)),
        obs=pd.DataFrame(index=names),
        var=pd.DataFrame(index=peaks),
    )
    atac.layers["counts"] = sp.csr_matrix(counts_atac)
    mdata = md.MuData({"rna": rna, "atac": atac})
    mdata.obs["leiden"] = labels
    return mdata


def typed_split(mdata, seed: int = 0) -> dict[str, np.ndarray]:
    """The stratified 70/10/20 split of ``make_typed_mdata`` by its true types."""
    labels = mdata.obs["leiden"].astype(str).to_numpy()
    return stratified_split(mdata.obs_names, labels, 0.1, 0.2, seed)
