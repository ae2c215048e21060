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
