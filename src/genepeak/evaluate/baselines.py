"""Simple baselines scored with the same code and on the same split as the models.

Every baseline is fitted on the training cells only (``split["train"]``) and then answers the
part of the model API that evaluation uses: ``predict_peaks``, ``predict_genes``, ``latent``,
``latent_keys``, ``peak_scale``, ``peak_task``, ``gene_task``, ``split``, ``genes``, ``peaks``.

- ``MeanBaseline``: every cell gets the training open fraction of each peak and the training
  mean of each gene (the prevalence predictor).
- ``KNNBaseline``: a test cell's peaks are the open fraction among its k nearest training cells
  in RNA-PCA space; its genes the mean of its k nearest training cells in ATAC-LSI space.
- ``RidgeBaseline``: ridge regression from RNA-PCA components to peak openness, and from
  ATAC-LSI components to genes.
- ``PCABaseline``: latents only: RNA-PCA (``"rna"``) and ATAC-LSI (``"atac"``). The reference
  labels come from RNA clustering, so RNA-PCA is the ceiling a model's latent has to reach.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from genepeak.config import EvaluateConfig
from genepeak.evaluate import _data

__all__ = [
    "BASELINE_NAMES",
    "Embeddings",
    "KNNBaseline",
    "MeanBaseline",
    "PCABaseline",
    "RidgeBaseline",
    "fit_baselines",
]

BASELINE_NAMES = ("mean", "knn", "ridge", "pca")


def _csr(matrix) -> sp.csr_matrix:
    return sp.csr_matrix(matrix, dtype=np.float64)


class Embeddings:
    """RNA-PCA and ATAC-LSI fitted on training cells only; transform any cells afterwards.

    RNA-PCA: PCA of ``rna.X`` restricted to the ``PCA_GENES`` genes of highest variance in
    the training cells (the usual HVG-then-PCA), centred with the training mean.
    ATAC-LSI: TF-IDF of binarised peak counts with the training cells' IDF, log1p(1e4 x),
    truncated SVD; the first component (which follows sequencing depth) is dropped.
    """

    PCA_GENES = 2000

    def __init__(
        self, mdata, train_cells: Sequence[str], n_components: int = 50, seed: int = 0
    ) -> None:
        from sklearn.decomposition import PCA, TruncatedSVD

        self.train_cells = np.asarray(train_cells).astype(str)
        rna_x = self._rna(mdata, self.train_cells)
        mean = np.asarray(rna_x.mean(0)).ravel()
        variance = np.asarray(rna_x.multiply(rna_x).mean(0)).ravel() - mean**2
        n_genes = min(self.PCA_GENES, rna_x.shape[1])
        self.pca_genes = np.sort(np.argsort(-variance, kind="stable")[:n_genes])
        dense = rna_x[:, self.pca_genes].toarray()
        k_rna = int(max(1, min(n_components, dense.shape[0] - 1, dense.shape[1] - 1)))
        self.rna_pca = PCA(n_components=k_rna, svd_solver="randomized", random_state=seed)
        self.rna_pca.fit(dense)

        open_train = self._open(mdata, self.train_cells)
        document_freq = np.asarray((open_train > 0).sum(0)).ravel()
        self.idf = np.log1p(open_train.shape[0] / (1.0 + document_freq))
        tfidf = self._tfidf(open_train)
        k_atac = int(max(2, min(n_components + 1, tfidf.shape[0] - 1, tfidf.shape[1] - 1)))
        self.atac_svd = TruncatedSVD(
            n_components=k_atac, algorithm="randomized", n_iter=7, random_state=seed
        )
        self.atac_svd.fit(tfidf)

    @staticmethod
    def _rna(mdata, cells: np.ndarray) -> sp.csr_matrix:
        rna = mdata.mod["rna"]
        return _csr(rna.X[_data.indexer(rna.obs_names, cells, "cells")])

    @staticmethod
    def _open(mdata, cells: np.ndarray) -> sp.csr_matrix:
        atac = mdata.mod["atac"]
        counts = _data.peak_counts_matrix(atac)[_data.indexer(atac.obs_names, cells, "cells")]
        return _csr(counts > 0)

    def _tfidf(self, open_matrix: sp.csr_matrix) -> sp.csr_matrix:
        depth = np.asarray(open_matrix.sum(1)).ravel()
        tf = sp.diags(1.0 / np.maximum(depth, 1.0)) @ open_matrix
        tfidf = sp.csr_matrix(tf @ sp.diags(self.idf))
        tfidf.data = np.log1p(tfidf.data * 1e4)
        return tfidf

    def rna(self, mdata, cells: Sequence[str]) -> np.ndarray:
        """RNA-PCA coordinates of ``cells``."""
        rows = self._rna(mdata, np.asarray(cells).astype(str))
        return self.rna_pca.transform(rows[:, self.pca_genes].toarray())

    def atac(self, mdata, cells: Sequence[str]) -> np.ndarray:
        """ATAC-LSI coordinates of ``cells`` (components 2..k)."""
        tfidf = self._tfidf(self._open(mdata, np.asarray(cells).astype(str)))
        return self.atac_svd.transform(tfidf)[:, 1:]


class _Baseline:
    """What the baselines share: the split, the feature names and training-cell targets."""

    name = "baseline"
    peak_scale = "probability"
    peak_task: str | None = "translation"
    gene_task: str | None = "translation"
    latent_keys: tuple[str, ...] = ()

    def __init__(
        self,
        mdata,
        split: Mapping[str, Sequence[str]],
        config: EvaluateConfig | None = None,
        embeddings: Embeddings | None = None,
    ) -> None:
        _data.require_modalities(mdata)
        self.config = config or EvaluateConfig()
        self.split = _data.check_split(split, mdata)
        self.genes = np.asarray(mdata.mod["rna"].var_names).astype(str)
        self.peaks = np.asarray(mdata.mod["atac"].var_names).astype(str)
        self.embeddings = embeddings
        self.mdata = mdata
        self.fit(mdata)

    def _embeddings(self, mdata) -> Embeddings:
        if self.embeddings is None:
            self.embeddings = Embeddings(
                mdata, self.split["train"], self.config.n_pcs, self.config.seed
            )
        return self.embeddings

    def _train_targets(self, mdata) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Training cells' openness (0/1) and ``rna.X``, both sparse."""
        train = self.split["train"]
        open_train = Embeddings._open(mdata, train)
        return open_train, Embeddings._rna(mdata, train)

    def _cells(self, mdata, cells):
        mdata = self.mdata if mdata is None else mdata
        cells = self.split["test"] if cells is None else np.asarray(cells).astype(str)
        return mdata, cells

    def fit(self, mdata) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


class MeanBaseline(_Baseline):
    """Training open fraction of each peak and training mean of each gene, for every cell."""

    name = "mean"

    def fit(self, mdata) -> None:
        open_train, rna_train = self._train_targets(mdata)
        self.peak_fraction = np.asarray(open_train.mean(0)).ravel().astype(np.float32)
        self.gene_mean = np.asarray(rna_train.mean(0)).ravel().astype(np.float32)

    def predict_peaks(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """The training open fraction of every peak, repeated for each cell."""
        _, cells = self._cells(mdata, cells)
        return np.tile(self.peak_fraction, (len(cells), 1))

    def predict_genes(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """The training mean of every gene (log1p scale), repeated for each cell."""
        _, cells = self._cells(mdata, cells)
        return np.tile(self.gene_mean, (len(cells), 1))


class KNNBaseline(_Baseline):
    """Average of the k nearest training cells in the other modality's embedding."""

    name = "knn"

    def fit(self, mdata) -> None:
        from sklearn.neighbors import NearestNeighbors

        emb = self._embeddings(mdata)
        train = self.split["train"]
        self.open_train, self.rna_train = self._train_targets(mdata)
        self.k = int(min(self.config.knn_k, len(train)))
        self.rna_index = NearestNeighbors(n_neighbors=self.k).fit(emb.rna(mdata, train))
        self.atac_index = NearestNeighbors(n_neighbors=self.k).fit(emb.atac(mdata, train))

    def _average(self, index, coordinates: np.ndarray, targets: sp.csr_matrix) -> np.ndarray:
        _, neighbours = index.kneighbors(coordinates)
        n = len(coordinates)
        weights = sp.csr_matrix(
            (
                np.full(n * self.k, 1.0 / self.k),
                neighbours.ravel(),
                np.arange(0, n * self.k + 1, self.k),
            ),
            shape=(n, targets.shape[0]),
        )
        return np.asarray((weights @ targets).toarray(), dtype=np.float32)

    def predict_peaks(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Open fraction among the k nearest training cells in RNA-PCA space."""
        mdata, cells = self._cells(mdata, cells)
        coords = self._embeddings(mdata).rna(mdata, cells)
        return self._average(self.rna_index, coords, self.open_train)

    def predict_genes(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Mean ``rna.X`` of the k nearest training cells in ATAC-LSI space."""
        mdata, cells = self._cells(mdata, cells)
        coords = self._embeddings(mdata).atac(mdata, cells)
        return self._average(self.atac_index, coords, self.rna_train)


def _ridge(features: np.ndarray, targets: sp.csr_matrix, alpha: float):
    """Closed-form ridge with intercept; targets stay sparse (only X^T Y is formed)."""
    x_mean = features.mean(0)
    y_mean = np.asarray(targets.mean(0)).ravel()
    xc = features - x_mean
    gram = xc.T @ xc + alpha * np.eye(xc.shape[1])
    # X_c^T Y_c = X_c^T Y because the columns of X_c sum to zero
    cross = np.asarray((targets.T @ xc).T)
    coef = np.linalg.solve(gram, cross)
    return x_mean, coef, y_mean


class RidgeBaseline(_Baseline):
    """Ridge regression between modalities on training-fitted RNA-PCA / ATAC-LSI components."""

    name = "ridge"

    def fit(self, mdata) -> None:
        emb = self._embeddings(mdata)
        train = self.split["train"]
        open_train, rna_train = self._train_targets(mdata)
        alpha = self.config.ridge_alpha
        self.peak_model = _ridge(emb.rna(mdata, train), open_train, alpha)
        self.gene_model = _ridge(emb.atac(mdata, train), rna_train, alpha)

    @staticmethod
    def _apply(model, features: np.ndarray) -> np.ndarray:
        x_mean, coef, y_mean = model
        return ((features - x_mean) @ coef + y_mean).astype(np.float32)

    def predict_peaks(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Predicted openness from RNA-PCA, clipped to [0, 1]."""
        mdata, cells = self._cells(mdata, cells)
        pred = self._apply(self.peak_model, self._embeddings(mdata).rna(mdata, cells))
        return np.clip(pred, 0.0, 1.0)

    def predict_genes(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Predicted ``rna.X`` from ATAC-LSI, clipped at 0 (log1p values are non-negative)."""
        mdata, cells = self._cells(mdata, cells)
        pred = self._apply(self.gene_model, self._embeddings(mdata).atac(mdata, cells))
        return np.maximum(pred, 0.0)


class PCABaseline(_Baseline):
    """Latents only: RNA-PCA (the ceiling for RNA-derived labels) and ATAC-LSI."""

    name = "pca"
    peak_task = None
    gene_task = None
    latent_keys = ("rna", "atac")

    def fit(self, mdata) -> None:
        self._embeddings(mdata)

    def latent(self, mdata=None, cells=None, key: str = "rna") -> np.ndarray:
        """RNA-PCA (``key="rna"``) or ATAC-LSI (``key="atac"``) coordinates of ``cells``."""
        mdata, cells = self._cells(mdata, cells)
        if key == "rna":
            return self._embeddings(mdata).rna(mdata, cells)
        if key == "atac":
            return self._embeddings(mdata).atac(mdata, cells)
        raise KeyError(f"PCABaseline latent key must be 'rna' or 'atac', got {key!r}")


def fit_baselines(
    mdata, split: Mapping[str, Sequence[str]], config: EvaluateConfig | None = None
) -> dict[str, _Baseline]:
    """Fit every baseline on ``split["train"]``, sharing one RNA-PCA / ATAC-LSI fit."""
    config = config or EvaluateConfig()
    split = _data.check_split(split, mdata)
    embeddings = Embeddings(mdata, split["train"], config.n_pcs, config.seed)
    classes = (MeanBaseline, KNNBaseline, RidgeBaseline, PCABaseline)
    return {cls.name: cls(mdata, split, config, embeddings) for cls in classes}
