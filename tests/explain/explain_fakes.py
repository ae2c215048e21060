"""Fake models with known gene -> peak maps, for testing perturbation statistics exactly.

Both satisfy :class:`genepeak.explain.model.ExplainableModel`, what explain needs of a model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


class LinearFakeModel:
    """peaks = x @ weights + bias (+ Gaussian noise per pass): a known gene -> peak map."""

    peak_scale = "log1p"
    cis_window = 0

    def __init__(self, genes, peaks, weights, bias, noise_sd=0.05, seed=0, split=None):
        self.genes = list(genes)
        self.peaks = list(peaks)
        self.weights = np.asarray(weights, np.float32)
        self.bias = np.asarray(bias, np.float32)
        self.noise_sd = noise_sd
        self.rng = np.random.default_rng(seed)
        self.split = split or {}
        self.calls = []

    def cell_state(self, x):
        return None  # no latent: the link evidence is conditioned on the RNA PCs alone

    def peaks_from_genes(self, x, n_samples=None):
        self.calls.append((np.asarray(x).shape, n_samples))
        mean = np.asarray(x, np.float32) @ self.weights + self.bias
        if n_samples is None:
            return mean
        noise = self.rng.normal(0.0, self.noise_sd, size=(n_samples, *mean.shape))
        return (mean[None] + noise).astype(np.float32)

    def predict_peaks(self, mdata=None, cells=None, n_samples=None):
        rna = mdata.mod["rna"]
        rows = rna.obs_names.get_indexer(pd.Index(cells)) if cells is not None else slice(None)
        cols = rna.var_names.get_indexer(pd.Index(self.genes))
        x = rna.X[rows][:, cols]
        x = x.toarray() if sp.issparse(x) else np.asarray(x)
        return self.peaks_from_genes(x, n_samples)


class ScriptedModel:
    """Returns a fixed deterministic baseline and fixed stochastic passes (for hand counts)."""

    peak_scale = "log1p"
    cis_window = 0
    split: dict = {}

    def __init__(self, baseline, passes):
        self.baseline = np.asarray(baseline, np.float32)
        self.passes = np.asarray(passes, np.float32)  # (N, peaks), same for every row
        self.genes = ["G0", "G1"]
        self.peaks = [f"chr1:{i * 1000}-{i * 1000 + 500}" for i in range(self.baseline.size)]

    def cell_state(self, x):
        return None  # no latent: the link evidence is conditioned on the RNA PCs alone

    def peaks_from_genes(self, x, n_samples=None):
        rows = np.asarray(x).shape[0]
        if n_samples is None:
            return np.repeat(self.baseline[None], rows, axis=0)
        return np.repeat(self.passes[:n_samples, None, :], rows, axis=1)


def linear_model_for(mdata, noise_sd=0.05, seed=0):
    """A LinearFakeModel over ``mdata`` where GENE{g} drives peaks 2g and 2g+1 (g < 10).

    GENE0-4 open their peaks (+0.6 per unit), GENE5-9 close them (-0.6); all other weights 0.
    """
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    genes, peaks = list(rna.var_names), list(atac.var_names)
    weights = np.zeros((len(genes), len(peaks)), np.float32)
    for g in range(10):
        weights[g, 2 * g] = weights[g, 2 * g + 1] = 0.6 if g < 5 else -0.6
    bias = np.full(len(peaks), 0.2, np.float32)
    bias[10:20] = 1.5  # peaks of the closing genes start open
    split = {"val": np.asarray(rna.obs_names[:60])}
    return LinearFakeModel(genes, peaks, weights, bias, noise_sd=noise_sd, seed=seed, split=split)
