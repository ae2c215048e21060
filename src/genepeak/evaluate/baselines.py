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
- ``ClusterProfileBaseline``: a test cell gets the training open fraction (peaks) / mean
  ``rna.X`` (genes) of its cluster. RNA -> ATAC uses the cell's label in
  ``mdata.obs[labels_key]`` (RNA clustering or annotations); ATAC -> RNA uses the cluster
  predicted from the cell's ATAC (see ``ClusterLabels``), because an RNA-derived label would
  hand the ATAC -> RNA predictor the answer.
- ``PerTypeRidgeBaseline``: ridge fitted within each cluster on that cluster's training cells
  (the same components as ``RidgeBaseline``), one penalty chosen on validation cells; clusters
  with too few training cells use the global ridge.
- ``ReducedRankRidgeBaseline``: the ridge of ``RidgeBaseline`` with its predictions kept to
  their leading directions across peaks (genes), one rank chosen on validation cells: the
  low-rank share of strength across targets that an autoencoder's bottleneck also has.
- ``KernelRidgeBaseline``: kernel ridge regression with an RBF kernel on the components
  ``RidgeBaseline`` uses (the method that won the NeurIPS 2021 predict-modality task); kernel
  width and penalty chosen on validation cells. Nonlinear, so a model has to beat more than a
  linear map between the two embeddings.
- ``PCABaseline``: latents only: RNA-PCA (``"rna"``) and ATAC-LSI (``"atac"``). The reference
  labels come from RNA clustering, so RNA-PCA is the ceiling a model's latent has to reach.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from genepeak.config import EvaluateConfig
from genepeak.errors import ConfigError
from genepeak.evaluate import _data, metrics
from genepeak.io import prepared

__all__ = [
    "BASELINE_NAMES",
    "ClusterLabels",
    "ClusterProfileBaseline",
    "DepthRidgeBaseline",
    "Embeddings",
    "KNNBaseline",
    "KernelRidgeBaseline",
    "MeanBaseline",
    "PCABaseline",
    "PerTypeRidgeBaseline",
    "ReducedRankRidgeBaseline",
    "RidgeBaseline",
    "baseline_factories",
    "fit_baselines",
]

BASELINE_NAMES = (
    "mean",
    "knn",
    "ridge",
    "reduced_rank_ridge",
    "reduced_rank_ridge_depth",
    "kernel_ridge",
    "cluster_profile",
    "per_type_ridge",
    "pca",
)


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
        self._coordinates: dict[tuple, np.ndarray] = {}  # see _cached
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
        # open cells per peak, in passes (np.bincount of every index at once cast all of them
        # to int64: 0.38 GiB at PBMC-10k size)
        document_freq = prepared.column_sums(open_train)
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
        return _csr(rna.X[_data.cell_positions(rna, cells, "rna")])

    @staticmethod
    def _open(mdata, cells: np.ndarray) -> sp.csr_matrix:
        """Openness (1.0 where the raw count is > 0) of ``cells``, CSR float32: one copy of
        their rows, binarised in place, only the open entries stored."""
        atac = mdata.mod["atac"]
        rows = _data.cell_positions(atac, cells, "atac")
        matrix = sp.csr_matrix(_data.peak_counts_matrix(atac)[rows], dtype=np.float32)
        np.sign(matrix.data, out=matrix.data)
        np.maximum(matrix.data, 0.0, out=matrix.data)
        matrix.eliminate_zeros()
        return matrix

    def _tfidf(self, open_matrix: sp.csr_matrix) -> sp.csr_matrix:
        """log1p(1e4 x TF x IDF) of binarised peaks, float32, computed in place in
        ``open_matrix`` (a fresh one from :meth:`_open`), in passes over its stored values
        (``io.prepared.value_passes``: two float64 temporaries of a pass's length)."""
        tfidf = open_matrix
        depth = np.maximum(np.asarray(tfidf.sum(1), dtype=np.float64).ravel(), 1.0)
        per_row = 1e4 / depth
        for part, rows in prepared.value_passes(tfidf):
            scale = per_row[rows] * self.idf[tfidf.indices[part]]
            tfidf.data[part] *= scale.astype(np.float32)
        np.log1p(tfidf.data, out=tfidf.data)
        return tfidf

    def rna(self, mdata, cells: Sequence[str]) -> np.ndarray:
        """RNA-PCA coordinates of ``cells``."""
        return self._cached("rna", mdata, cells, self._rna_coordinates)

    def atac(self, mdata, cells: Sequence[str]) -> np.ndarray:
        """ATAC-LSI coordinates of ``cells`` (components 2..k)."""
        return self._cached("atac", mdata, cells, self._atac_coordinates)

    def _rna_coordinates(self, mdata, cells: np.ndarray) -> np.ndarray:
        return self.rna_pca.transform(self._rna(mdata, cells)[:, self.pca_genes].toarray())

    def _atac_coordinates(self, mdata, cells: np.ndarray) -> np.ndarray:
        return self.atac_svd.transform(self._tfidf(self._open(mdata, cells)))[:, 1:]

    def _cached(self, side: str, mdata, cells: Sequence[str], compute) -> np.ndarray:
        """Coordinates of ``cells``, computed once per (side, data, cell list): every baseline
        reads the same training, validation and test cells (a copy, so callers may edit it)."""
        cells = np.asarray(cells).astype(str)
        key = (side, id(mdata), len(cells), hash(cells.tobytes()))
        if key not in self._coordinates:
            self._coordinates[key] = compute(mdata, cells)
        return self._coordinates[key].copy()


class ClusterLabels:
    """The cluster of each cell, as each translation direction may know it.

    RNA side (``rna``): the label in ``mdata.obs[labels_key]``. ATAC side (``atac``): the label
    predicted from the cell's ATAC-LSI coordinates by a logistic regression fitted on the
    training cells' labels, so an ATAC -> RNA predictor never sees the cell's RNA.
    """

    def __init__(
        self,
        mdata,
        train_cells: Sequence[str],
        labels_key: str,
        embeddings: Embeddings,
        config: EvaluateConfig | None = None,
    ) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        config = config or EvaluateConfig()
        self.labels_key = labels_key
        self.embeddings = embeddings
        train_cells = np.asarray(train_cells).astype(str)
        self.train_labels = _data.labels_of(mdata, train_cells, labels_key)
        self.classes = np.unique(self.train_labels)
        self.atac_classifier = None
        if len(self.classes) > 1:
            self.atac_classifier = make_pipeline(
                StandardScaler(), LogisticRegression(max_iter=1000, random_state=config.seed)
            )
            self.atac_classifier.fit(embeddings.atac(mdata, train_cells), self.train_labels)

    def rna(self, mdata, cells: Sequence[str]) -> np.ndarray:
        """Labels of ``cells`` in ``mdata.obs[labels_key]``."""
        return _data.labels_of(mdata, np.asarray(cells).astype(str), self.labels_key)

    def atac(self, mdata, cells: Sequence[str]) -> np.ndarray:
        """Labels of ``cells`` predicted from their ATAC-LSI coordinates."""
        cells = np.asarray(cells).astype(str)
        if self.atac_classifier is None:
            return np.full(len(cells), self.classes[0] if len(self.classes) else "")
        return self.atac_classifier.predict(self.embeddings.atac(mdata, cells)).astype(str)


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
        clusters: ClusterLabels | None = None,
        labels_key: str = "leiden",
    ) -> None:
        _data.require_modalities(mdata)
        self.config = config or EvaluateConfig()
        self.split = _data.check_split(split, mdata)
        self.genes = np.asarray(mdata.mod["rna"].var_names).astype(str)
        self.peaks = np.asarray(mdata.mod["atac"].var_names).astype(str)
        self.embeddings = embeddings
        self.clusters = clusters
        self.labels_key = labels_key
        self.mdata = mdata
        self.fit(mdata)

    def _clusters(self, mdata) -> ClusterLabels:
        if self.clusters is None:
            self.clusters = ClusterLabels(
                mdata, self.split["train"], self.labels_key, self._embeddings(mdata), self.config
            )
        return self.clusters

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

    def _direction(self, mdata, target: str) -> tuple:
        """One translation's training and validation data, for baselines that choose a setting
        on validation cells: ``(x, y, x_val, y_val, bounds)``. ``target="peaks"``: RNA-PCA ->
        openness in [0, 1]; ``"genes"``: ATAC-LSI -> ``rna.X``, at least 0."""
        emb = self._embeddings(mdata)
        train, val = self.split["train"], self.split["val"]
        if target == "peaks":
            open_train = Embeddings._open(mdata, train)
            y_val = _data.peaks_open(mdata, val).astype(np.float32)
            return emb.rna(mdata, train), open_train, emb.rna(mdata, val), y_val, (0.0, 1.0)
        rna_train = Embeddings._rna(mdata, train)
        y_val = _data.gene_values(mdata, val)
        return emb.atac(mdata, train), rna_train, emb.atac(mdata, val), y_val, (0.0, None)

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


#: query cells averaged per sparse product by the kNN baseline (256 at once took 0.47 GiB of
#: scipy's product buffers at PBMC-10k size, the evaluation's peak)
AVERAGE_ROWS = 64


class KNNBaseline(_Baseline):
    """Average of the k nearest training cells in the other modality's embedding."""

    name = "knn"

    def fit(self, mdata) -> None:
        from sklearn.neighbors import NearestNeighbors

        emb = self._embeddings(mdata)
        train = self.split["train"]
        self.k = int(min(self.config.knn_k, len(train)))
        self.rna_index = NearestNeighbors(n_neighbors=self.k).fit(emb.rna(mdata, train))
        self.atac_index = NearestNeighbors(n_neighbors=self.k).fit(emb.atac(mdata, train))

    def _average(self, index, coordinates: np.ndarray, targets: sp.csr_matrix) -> np.ndarray:
        _, neighbours = index.kneighbors(coordinates)
        n = len(coordinates)
        # ones in the targets' own dtype: float64 weights made scipy cast the float32 peak
        # targets to float64 for every product (0.38 GiB at PBMC-10k size); the sum is divided
        # by k after (gene targets are float64 from _csr: sums there differ by rounding only)
        neighbours_of = sp.csr_matrix(
            (
                np.ones(n * self.k, dtype=targets.dtype),
                neighbours.ravel(),
                np.arange(0, n * self.k + 1, self.k),
            ),
            shape=(n, targets.shape[0]),
        )
        out = np.empty((n, targets.shape[1]), dtype=np.float32)
        # a few dozen rows at a time: the product of every row at once is nearly dense
        # (1.3 GiB for 1,400 cells x 45,000 peaks), and only its float32 copy is kept
        for lo in range(0, n, AVERAGE_ROWS):
            rows = slice(lo, lo + AVERAGE_ROWS)
            out[rows] = (neighbours_of[rows] @ targets).toarray()
        out /= self.k
        return out

    def predict_peaks(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Open fraction among the k nearest training cells in RNA-PCA space."""
        mdata, cells = self._cells(mdata, cells)
        coords = self._embeddings(mdata).rna(mdata, cells)
        # the training cells' targets are read when needed, not held: at PBMC-10k size the
        # openness of 6,400 cells is 0.37 GiB
        return self._average(
            self.rna_index, coords, Embeddings._open(self.mdata, self.split["train"])
        )

    def predict_genes(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Mean ``rna.X`` of the k nearest training cells in ATAC-LSI space."""
        mdata, cells = self._cells(mdata, cells)
        coords = self._embeddings(mdata).atac(mdata, cells)
        return self._average(
            self.atac_index, coords, Embeddings._rna(self.mdata, self.split["train"])
        )


#: prediction entries (cells x targets) formed at a time by the ridge baselines
#: (all at once: 1.2 GiB for the 1,830 test cells of PBMC-10k shape, with the float64 product)
PREDICTION_ENTRIES = 2**22


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
        """Predictions as float32, a block of cells at a time (``PREDICTION_ENTRIES``): the
        float64 product of all test cells at once was 0.66 GiB at PBMC-10k size."""
        x_mean, coef, y_mean = model
        out = np.empty((len(features), coef.shape[1]), dtype=np.float32)
        for part in metrics.blocks(len(features), coef.shape[1], PREDICTION_ENTRIES):
            out[part] = (features[part] - x_mean) @ coef + y_mean
        return out

    def predict_peaks(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Predicted openness from RNA-PCA, clipped to [0, 1]."""
        mdata, cells = self._cells(mdata, cells)
        pred = self._apply(self.peak_model, self._embeddings(mdata).rna(mdata, cells))
        return np.clip(pred, 0.0, 1.0, out=pred)

    def predict_genes(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Predicted ``rna.X`` from ATAC-LSI, clipped at 0 (log1p values are non-negative)."""
        mdata, cells = self._cells(mdata, cells)
        pred = self._apply(self.gene_model, self._embeddings(mdata).atac(mdata, cells))
        return np.maximum(pred, 0.0, out=pred)


def _squared_error(predict, features: np.ndarray, observed: np.ndarray) -> float:
    """Summed squared error of ``predict(features)`` against ``observed``, a block of cells at
    a time (``PREDICTION_ENTRIES``)."""
    total = 0.0
    for part in metrics.blocks(len(features), observed.shape[1], PREDICTION_ENTRIES):
        total += float(((predict(features[part]) - observed[part]) ** 2).sum())
    return total


def _fitted_directions(fit, features: np.ndarray) -> np.ndarray:
    """Right singular vectors (rows, leading first) of a ridge's fitted values on ``features``;
    ``fit`` is its ``(x_mean, coef, y_mean)``."""
    x_mean, coef, _ = fit
    # fitted = X_c B; its right singular vectors are those of R B, with X_c = Q R (k x k)
    r = np.linalg.qr(features - x_mean, mode="r")
    return np.linalg.svd(r @ coef, full_matrices=False)[2]


def _reduced_rank(fit, directions: np.ndarray, rank: int):
    """``fit`` with its coefficients projected onto its ``rank`` leading ``directions``."""
    x_mean, coef, y_mean = fit
    top = directions[:rank]
    return x_mean, (coef @ top.T) @ top, y_mean


class ReducedRankRidgeBaseline(RidgeBaseline):
    """Ridge (as ``RidgeBaseline``) kept to a rank chosen on validation cells.

    The fitted values of training cells are reduced to their leading ``r`` directions across
    targets (reduced-rank regression); ``r`` from ``config.reduced_ranks`` has the least
    squared error on the validation cells. A rank at or above the number of components is the
    plain ridge. Predicts as ``RidgeBaseline`` does, from the reduced coefficients.
    """

    name = "reduced_rank_ridge"

    def fit(self, mdata) -> None:
        self.peak_model, self.peak_rank = self._fit_direction(*self._direction(mdata, "peaks"))
        self.gene_model, self.gene_rank = self._fit_direction(*self._direction(mdata, "genes"))

    def _fit_direction(self, x, y, x_val, y_val, bounds):
        """``((x_mean, coef, y_mean), chosen rank)``."""
        ranks = [int(r) for r in self.config.reduced_ranks]
        if not ranks or min(ranks) < 1:
            raise ConfigError(
                f"EvaluateConfig.reduced_ranks: expected a non-empty list of ranks >= 1, "
                f"got {self.config.reduced_ranks!r}"
            )
        full = _ridge(x, y, self.config.ridge_alpha)
        directions = _fitted_directions(full, x)
        best = None
        for rank in sorted(set(ranks)):
            fit = _reduced_rank(full, directions, rank)
            error = _squared_error(
                lambda part, fit=fit: np.clip(RidgeBaseline._apply(fit, part), *bounds),
                x_val,
                y_val,
            )
            if best is None or error < best[0]:
                best = (error, fit, rank)
        return best[1], best[2]


class DepthRidgeBaseline(ReducedRankRidgeBaseline):
    """RNA -> ATAC only: the reduced-rank ridge with each cell's depth beside its RNA-PCA.

    A peak is seen open more often in a deeper cell, so per-peak AUROC / AUPRC reward knowing
    a cell's sequencing depth, which normalised expression (and so its PCA, a cell-type lookup
    or a model reading normalised genes) has lost. The depth is the log number of genes
    detected in ``rna.X``, standardised on the training cells and scaled to the spread of the
    first component. Not fitted for ATAC -> RNA: the same feature there lowered validation
    gene Pearson on the tuning data.
    """

    name = "reduced_rank_ridge_depth"
    gene_task = None

    def fit(self, mdata) -> None:
        x, y, x_val, y_val, bounds = self._direction(mdata, "peaks")
        depth = _log_detected(mdata, self.split["train"])
        self.depth_loc, self.depth_scale = depth.mean(), depth.std() or 1.0
        self.depth_weight = float(x[:, 0].std()) if x.size else 1.0
        x = self._with_depth(mdata, self.split["train"], x)
        x_val = self._with_depth(mdata, self.split["val"], x_val)
        self.peak_model, self.peak_rank = self._fit_direction(x, y, x_val, y_val, bounds)

    def _with_depth(self, mdata, cells, components: np.ndarray) -> np.ndarray:
        depth = (_log_detected(mdata, cells) - self.depth_loc) / self.depth_scale
        return np.column_stack([components, self.depth_weight * depth])

    def predict_peaks(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Predicted openness from RNA-PCA and depth, clipped to [0, 1]."""
        mdata, cells = self._cells(mdata, cells)
        features = self._with_depth(mdata, cells, self._embeddings(mdata).rna(mdata, cells))
        pred = self._apply(self.peak_model, features)
        return np.clip(pred, 0.0, 1.0, out=pred)


def _log_detected(mdata, cells) -> np.ndarray:
    """log1p of the genes with a nonzero ``rna.X`` value in each of ``cells``."""
    rows = Embeddings._rna(mdata, np.asarray(cells).astype(str))
    return np.log1p(np.asarray((rows != 0).sum(1), dtype=np.float64).ravel())


def _median_squared_distance(features: np.ndarray, seed: int, n_max: int = 1000) -> float:
    """Median squared Euclidean distance between pairs of (at most ``n_max``, seeded) rows."""
    from scipy.spatial.distance import pdist

    rows = features
    if len(rows) > n_max:
        rows = rows[np.sort(np.random.default_rng(seed).choice(len(rows), n_max, replace=False))]
    distances = pdist(rows, "sqeuclidean") if len(rows) > 1 else np.zeros(0)
    median = float(np.median(distances)) if distances.size else 0.0
    return median if median > 0 else 1.0


def _target_basis(targets: sp.csr_matrix, mean: np.ndarray, rank: int, seed: int):
    """``(basis, reduced)``: the leading ``rank`` right singular vectors of the centred
    ``targets`` (targets x rank, orthonormal) and the centred targets projected on them (cells
    x rank). A randomized range finder with one power iteration: four float32 products with
    the sparse targets, which are never centred or made dense."""
    targets = sp.csr_matrix(targets, dtype=np.float32)
    mean = mean.astype(np.float32)
    n, p = targets.shape
    width = min(rank + 10, n, p)
    rng = np.random.default_rng(seed)

    def left(v):  # Y_c v
        v = v.astype(np.float32)
        return np.asarray(targets @ v, dtype=np.float64) - (mean @ v)[None, :]

    def right(q):  # Y_c^T q
        q = q.astype(np.float32)
        return np.asarray(targets.T @ q, dtype=np.float64) - np.outer(mean, q.sum(0))

    basis = np.linalg.qr(right(rng.standard_normal((n, width))))[0]
    basis = np.linalg.qr(right(np.linalg.qr(left(basis))[0]))[0]
    projected = left(basis)
    _, _, vt = np.linalg.svd(projected, full_matrices=False)
    top = vt[:rank].T
    return basis @ top, projected @ top


class _RBFFeatures:
    """Nystroem features of the RBF kernel ``exp(-gamma |x - x'|^2)``: ``f(x) . f(x')`` is the
    kernel approximated through ``n_landmarks`` training cells (a seeded sample), and is the
    kernel itself on the training cells when all of them are landmarks.

    As ``sklearn.kernel_approximation.Nystroem``, with an eigendecomposition of the landmarks'
    kernel (several times faster than its SVD at 2,000 landmarks) whose numerically null
    directions are dropped rather than clamped.
    """

    def __init__(self, x: np.ndarray, gamma: float, n_landmarks: int, seed: int) -> None:
        if n_landmarks < len(x):
            rng = np.random.default_rng(seed)
            x = x[np.sort(rng.choice(len(x), n_landmarks, replace=False))]
        self.landmarks, self.gamma = x, gamma
        values, vectors = np.linalg.eigh(self._kernel(x))
        keep = values > max(values[-1], 0.0) * 1e-10
        self.normalization = vectors[:, keep] / np.sqrt(values[keep])

    def _kernel(self, x: np.ndarray) -> np.ndarray:
        from sklearn.metrics.pairwise import rbf_kernel

        return rbf_kernel(x, self.landmarks, gamma=self.gamma)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._kernel(x) @ self.normalization


class KernelRidgeBaseline(_Baseline):
    """Kernel ridge regression, RBF kernel, on the components ``RidgeBaseline`` uses.

    The method that won the NeurIPS 2021 predict-modality task. RNA -> ATAC regresses
    openness on RNA-PCA, ATAC -> RNA ``rna.X`` on ATAC-LSI, training cells only, targets
    centred on their training mean. The kernel is ``exp(-gamma |x - x'|^2)`` with ``gamma`` a
    factor from ``GAMMA_FACTORS`` over the median squared distance between training cells;
    that factor and the penalty (from ``ALPHAS``) have the least squared error of the clipped
    predictions on the validation cells (the score ``ReducedRankRidgeBaseline`` picks its rank
    by).

    Cost: up to ``NYSTROEM_COMPONENTS`` training cells the kernel is exact (every training cell
    is a Nystroem landmark, which is kernel ridge itself); beyond, a seeded Nystroem
    approximation with that many landmarks, so the work grows linearly with the cells. With
    more than ``TARGET_RANK`` peaks (genes), the centred targets are first reduced to their
    leading ``TARGET_RANK`` directions (a seeded randomized SVD) and the predictions mapped
    back: the (n_train x peaks) dual coefficients are never formed.
    """

    name = "kernel_ridge"
    GAMMA_FACTORS = (0.5, 1.0, 2.0)
    ALPHAS = (0.01, 0.1, 1.0, 10.0)
    NYSTROEM_COMPONENTS = 2000
    TARGET_RANK = 64

    def fit(self, mdata) -> None:
        self.peak_model, self.peak_gamma, self.peak_alpha = self._fit_direction(
            *self._direction(mdata, "peaks")
        )
        self.gene_model, self.gene_gamma, self.gene_alpha = self._fit_direction(
            *self._direction(mdata, "genes")
        )

    def _fit_direction(self, x, y, x_val, y_val, bounds):
        """``((features, coef, basis, mean), gamma, alpha)``, the pair with the least validation
        error; ``basis`` is None when the targets were not reduced."""
        from scipy.linalg import cho_factor, cho_solve

        seed = self.config.seed
        mean = np.asarray(y.mean(0), dtype=np.float64).ravel()
        if y.shape[1] > self.TARGET_RANK and len(x) > self.TARGET_RANK:
            basis, reduced = _target_basis(y, mean, self.TARGET_RANK, seed)
            basis = basis.astype(np.float32)
        else:
            basis, reduced = None, y.toarray() - mean
        scale = _median_squared_distance(x, seed)
        n_landmarks = min(self.NYSTROEM_COMPONENTS, len(x))
        mean32 = mean.astype(np.float32)
        best = None
        for factor in self.GAMMA_FACTORS:
            gamma = float(factor) / scale
            features = _RBFFeatures(x, gamma, n_landmarks, seed)
            phi = features(x)
            gram, cross, phi_val = phi.T @ phi, phi.T @ reduced, features(x_val)
            for alpha in self.ALPHAS:
                # ridge on the features: (F^T F + alpha I)^-1 F^T Y, which is kernel ridge's
                # K_x. (K + alpha I)^-1 Y when every training cell is a landmark
                coef = cho_solve(cho_factor(gram + float(alpha) * np.eye(len(gram))), cross)
                error = _squared_error(
                    lambda part: self._expand(part, basis, mean32, bounds), phi_val @ coef, y_val
                )
                if best is None or error < best[0]:
                    best = (error, (features, coef, basis, mean32), gamma, float(alpha))
        return best[1], best[2], best[3]

    @staticmethod
    def _expand(reduced, basis, mean, bounds) -> np.ndarray:
        reduced = reduced.astype(np.float32)
        pred = reduced if basis is None else reduced @ basis.T
        pred += mean  # in place: at PBMC-10k test size each copy is 0.33 GiB
        return np.clip(pred, *bounds, out=pred)

    def _apply(self, model, features: np.ndarray, bounds) -> np.ndarray:
        kernel_features, coef, basis, mean = model
        return self._expand(kernel_features(features) @ coef, basis, mean, bounds)

    def predict_peaks(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Predicted openness from RNA-PCA, clipped to [0, 1]."""
        mdata, cells = self._cells(mdata, cells)
        features = self._embeddings(mdata).rna(mdata, cells)
        return self._apply(self.peak_model, features, (0.0, 1.0))

    def predict_genes(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Predicted ``rna.X`` from ATAC-LSI, clipped at 0."""
        mdata, cells = self._cells(mdata, cells)
        features = self._embeddings(mdata).atac(mdata, cells)
        return self._apply(self.gene_model, features, (0.0, None))


def _group_means(targets: sp.csr_matrix, labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Mean row of ``targets`` per class (``classes x columns``), as float32."""
    position = {c: i for i, c in enumerate(classes)}
    rows = np.array([position[label] for label in labels])
    counts = np.bincount(rows, minlength=len(classes)).astype(np.float64)
    indicator = sp.csr_matrix(
        (1.0 / counts[rows], (rows, np.arange(len(rows)))), shape=(len(classes), len(rows))
    )
    return np.asarray((indicator @ targets).toarray(), dtype=np.float32)


def _lookup(profiles: np.ndarray, classes: np.ndarray, labels, fallback: np.ndarray):
    """Row of ``profiles`` for each label; ``fallback`` for labels absent from ``classes``."""
    position = {c: i for i, c in enumerate(classes)}
    out = np.empty((len(labels), profiles.shape[1]), dtype=np.float32)
    for i, label in enumerate(labels):
        j = position.get(label)
        out[i] = fallback if j is None else profiles[j]
    return out


class ClusterProfileBaseline(_Baseline):
    """Training open fraction / mean expression of the test cell's cluster (a lookup table).

    A model that only recognises the cell type can do no better than this; beating it means
    the model learned variation within types.
    """

    name = "cluster_profile"

    def fit(self, mdata) -> None:
        open_train, rna_train = self._train_targets(mdata)
        clusters = self._clusters(mdata)
        self.classes = clusters.classes
        self.peak_profiles = _group_means(open_train, clusters.train_labels, self.classes)
        self.gene_profiles = _group_means(rna_train, clusters.train_labels, self.classes)
        self.peak_fraction = np.asarray(open_train.mean(0), dtype=np.float32).ravel()
        self.gene_mean = np.asarray(rna_train.mean(0), dtype=np.float32).ravel()

    def predict_peaks(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Training open fraction of each peak in the cell's (RNA) cluster."""
        mdata, cells = self._cells(mdata, cells)
        labels = self._clusters(mdata).rna(mdata, cells)
        return _lookup(self.peak_profiles, self.classes, labels, self.peak_fraction)

    def predict_genes(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Training mean ``rna.X`` of the cluster predicted from the cell's ATAC."""
        mdata, cells = self._cells(mdata, cells)
        labels = self._clusters(mdata).atac(mdata, cells)
        return _lookup(self.gene_profiles, self.classes, labels, self.gene_mean)


class _RidgePath:
    """Ridge fits of one training set for many penalties, from one eigendecomposition."""

    def __init__(self, features: np.ndarray, targets: sp.csr_matrix) -> None:
        self.x_mean = features.mean(0)
        self.y_mean = np.asarray(targets.mean(0)).ravel()
        xc = features - self.x_mean
        self.eigenvalues, self.eigenvectors = np.linalg.eigh(xc.T @ xc)
        self.eigenvalues = np.maximum(self.eigenvalues, 0.0)
        # V^T X_c^T Y (X_c^T Y_c = X_c^T Y because the columns of X_c sum to zero)
        self.projected = self.eigenvectors.T @ np.asarray((targets.T @ xc).T)

    def coef(self, alpha: float) -> np.ndarray:
        return self.eigenvectors @ (self.projected / (self.eigenvalues + alpha)[:, None])

    def predict(self, features: np.ndarray, alpha: float) -> np.ndarray:
        rotated = (features - self.x_mean) @ self.eigenvectors
        return rotated @ (self.projected / (self.eigenvalues + alpha)[:, None]) + self.y_mean


class PerTypeRidgeBaseline(_Baseline):
    """Ridge regression within each cluster, on the components ``RidgeBaseline`` uses.

    Each cluster with at least ``config.per_type_min_cells`` training cells gets its own ridge
    (fitted on its training cells only); one penalty from ``config.per_type_alphas`` is chosen
    for all clusters by the squared error on the validation cells. Other clusters, and labels
    unseen in training, fall back to the global ridge (``config.ridge_alpha``). A large penalty
    turns a cluster's ridge into its cluster profile, so this baseline contains that one.
    """

    name = "per_type_ridge"

    def fit(self, mdata) -> None:
        clusters, val = self._clusters(mdata), self.split["val"]
        self.peak_models, self.peak_alpha = self._fit_direction(
            *self._direction(mdata, "peaks"), clusters.train_labels, clusters.rna(mdata, val)
        )
        self.gene_models, self.gene_alpha = self._fit_direction(
            *self._direction(mdata, "genes"), clusters.train_labels, clusters.atac(mdata, val)
        )

    def _fit_direction(self, x, y, x_val, y_val, bounds, labels, val_labels):
        """``({cluster or None: (x_mean, coef, y_mean)}, chosen alpha)``; ``None``: global."""
        config = self.config
        models = {None: _ridge(x, y, config.ridge_alpha)}
        paths = {}
        for cls in np.unique(labels):
            rows = np.flatnonzero(labels == cls)
            if len(rows) >= config.per_type_min_cells:
                paths[cls] = _RidgePath(x[rows], y[rows])
        alphas = list(config.per_type_alphas)
        if not alphas or min(alphas) < 0:
            raise ConfigError(
                f"EvaluateConfig.per_type_alphas: expected a non-empty list of penalties >= 0, "
                f"got {alphas!r}"
            )
        errors = np.zeros(len(alphas))
        for cls, path in paths.items():
            rows = np.flatnonzero(val_labels == cls)
            for i, alpha in enumerate(alphas):
                pred = np.clip(path.predict(x_val[rows], alpha), *bounds)
                errors[i] += float(((pred - y_val[rows]) ** 2).sum())
        alpha = float(alphas[int(np.argmin(errors))])
        for cls, path in paths.items():
            models[cls] = (path.x_mean, path.coef(alpha).astype(np.float32), path.y_mean)
        return models, alpha

    @staticmethod
    def _apply(models, features: np.ndarray, labels: np.ndarray, bounds) -> np.ndarray:
        out = np.empty((len(features), len(models[None][2])), dtype=np.float32)
        for cls in np.unique(labels):
            rows = np.flatnonzero(labels == cls)
            key = cls if cls in models else None
            out[rows] = RidgeBaseline._apply(models[key], features[rows])
        return np.clip(out, *bounds, out=out)

    def predict_peaks(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Openness from RNA-PCA by the ridge of the cell's (RNA) cluster, clipped to [0, 1]."""
        mdata, cells = self._cells(mdata, cells)
        features = self._embeddings(mdata).rna(mdata, cells)
        labels = self._clusters(mdata).rna(mdata, cells)
        return self._apply(self.peak_models, features, labels, (0.0, 1.0))

    def predict_genes(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """``rna.X`` from ATAC-LSI by the ridge of the cluster predicted from ATAC, at least 0."""
        mdata, cells = self._cells(mdata, cells)
        features = self._embeddings(mdata).atac(mdata, cells)
        labels = self._clusters(mdata).atac(mdata, cells)
        return self._apply(self.gene_models, features, labels, (0.0, None))


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


def baseline_factories(
    mdata,
    split: Mapping[str, Sequence[str]],
    config: EvaluateConfig | None = None,
    labels_key: str = "leiden",
) -> dict[str, Callable[[], _Baseline]]:
    """``{name: fit}``: each call fits one baseline on ``split["train"]``, all sharing one
    RNA-PCA / ATAC-LSI fit, so a caller can fit, score and drop them one at a time.

    ``labels_key`` (a column of ``mdata.obs``) gives the clusters of the cluster-profile and
    per-type ridge baselines.
    """
    config = config or EvaluateConfig()
    split = _data.check_split(split, mdata)
    embeddings = Embeddings(mdata, split["train"], config.n_pcs, config.seed)
    clusters = ClusterLabels(mdata, split["train"], labels_key, embeddings, config)
    classes = (
        MeanBaseline,
        KNNBaseline,
        RidgeBaseline,
        ReducedRankRidgeBaseline,
        DepthRidgeBaseline,
        KernelRidgeBaseline,
        ClusterProfileBaseline,
        PerTypeRidgeBaseline,
        PCABaseline,
    )
    return {
        cls.name: functools.partial(cls, mdata, split, config, embeddings, clusters, labels_key)
        for cls in classes
    }


def fit_baselines(
    mdata,
    split: Mapping[str, Sequence[str]],
    config: EvaluateConfig | None = None,
    labels_key: str = "leiden",
) -> dict[str, _Baseline]:
    """Every baseline fitted on ``split["train"]`` (:func:`baseline_factories`), held at once."""
    return {
        name: fit() for name, fit in baseline_factories(mdata, split, config, labels_key).items()
    }
