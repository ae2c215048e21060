"""Latent structure: how well a latent space separates the reference labels of held-out cells."""

from __future__ import annotations

import numpy as np

from genepeak.evaluate import metrics

__all__ = ["embed_2d", "leiden_clusters", "score_latent"]


def leiden_clusters(
    latent: np.ndarray, n_neighbors: int = 15, resolution: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Leiden clusters of a symmetric kNN graph of ``latent`` (no labels are looked at)."""
    import igraph as ig
    import leidenalg
    from sklearn.neighbors import NearestNeighbors

    latent = np.asarray(latent, dtype=np.float64)
    n = len(latent)
    k = int(min(n_neighbors, n - 1))
    if k < 1:
        return np.zeros(n, dtype=int)
    neighbours = NearestNeighbors(n_neighbors=k + 1).fit(latent)
    _, index = neighbours.kneighbors(latent)
    edges = {(min(i, j), max(i, j)) for i in range(n) for j in index[i, 1:] if i != j}
    graph = ig.Graph(n=n, edges=sorted(edges))
    partition = leidenalg.find_partition(
        graph,
        leidenalg.RBConfigurationVertexPartition,
        resolution_parameter=resolution,
        seed=seed,
    )
    return np.asarray(partition.membership)


def score_latent(
    train_latent: np.ndarray,
    train_labels: np.ndarray,
    test_latent: np.ndarray,
    test_labels: np.ndarray,
    seed: int = 0,
) -> dict[str, float]:
    """Every latent metric of one latent space, fitted on training cells, scored on test cells.

    Returns logistic-regression precision / recall / F1 (weighted and macro), accuracy, ARI and
    AMI of predicted vs reference labels; ARI / AMI of KMeans (fitted on training latents, k =
    number of reference labels) and of Leiden clusters of the test cells; and the silhouette
    width of test cells grouped by reference label.
    """
    test_labels = np.asarray(test_labels).astype(str)
    train_labels = np.asarray(train_labels).astype(str)
    predicted = metrics.classify_latent(train_latent, train_labels, test_latent, seed=seed)
    out = metrics.accuracy_report(test_labels, predicted)
    n_types = int(np.unique(train_labels).size)
    kmeans = metrics.kmeans_agreement(train_latent, test_latent, test_labels, n_types, seed)
    out["kmeans_ari"], out["kmeans_ami"] = kmeans["ari"], kmeans["ami"]
    leiden = metrics.cluster_agreement(test_labels, leiden_clusters(test_latent, seed=seed))
    out["leiden_ari"], out["leiden_ami"] = leiden["ari"], leiden["ami"]
    out["silhouette"] = metrics.silhouette(test_latent, test_labels)
    return out


#: layout epochs of the figures' UMAP (scanpy's choice; umap-learn's 500 below 10,000 cells
#: took 2.5 s more per latent at PBMC-10k test size, a minute of an evaluation)
UMAP_EPOCHS = 200


def embed_2d(latent: np.ndarray, use_umap: bool = True, seed: int = 0) -> tuple[np.ndarray, str]:
    """Two-dimensional view of a latent: UMAP (umap-learn) or, when off, its first two PCs."""
    latent = np.asarray(latent, dtype=np.float32)
    if use_umap and len(latent) > 4:
        import warnings

        import umap

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reducer = umap.UMAP(
                n_neighbors=int(min(15, len(latent) - 1)),
                n_epochs=UMAP_EPOCHS,
                random_state=seed,
            )
            return np.asarray(reducer.fit_transform(latent)), "UMAP"
    centred = latent - latent.mean(0)
    if centred.shape[1] < 2:
        return np.column_stack([centred[:, 0], np.zeros(len(latent))]), "PC"
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, "PC"
