"""FDR control under a null that looks like the data: sham genes drive nothing.

Every seed draws a new data set and a new noisy model in which GENE0-9 drive two peaks each
and every gene moves every peak a little, with peak-specific spreads (the model's own noise).
Sham genes are other expressed genes. Among all FDR < 0.05 calls of ``link_scores`` -- for
drivers and shams together, over every cell that expresses a gene or over one cell type --
the false-discovery proportion must stay at or below 0.05, with two binomial standard errors
of Monte-Carlo slack. One experiment of ``explain_gene`` is its own family: for sham genes,
in one cell and in a population, p-values are no smaller than uniform ones and at most 5% of
experiments call any peak.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from tests.explain.explain_fakes import linear_model_for
from tests.synthetic_mdata import make_prepared_mdata

from genepeak.config import ExplainConfig
from genepeak.explain import explain_gene, link_scores

SEEDS = (11, 12, 13, 14, 15)
DRIVERS = [f"GENE{g}" for g in range(10)]
SHAMS = [f"GENE{g}" for g in range(30, 50)]
CONFIG = ExplainConfig(n_null_genes=20, link_flip_cells=0, n_passes=5)


def _world(seed: int):
    mdata = make_prepared_mdata(n_cells=300, n_genes=80, n_peaks=120, seed=seed)
    model = linear_model_for(mdata)
    rng = np.random.default_rng(seed)
    spread = rng.lognormal(0, 0.5, (1, len(model.peaks)))
    model.weights = (model.weights + rng.normal(0, 0.03, model.weights.shape) * spread).astype(
        np.float32
    )
    return mdata, model


def _expressed_in(mdata, genes, cell_type: str) -> list[str]:
    rna = mdata.mod["rna"]
    members = (mdata.obs["leiden"].astype(str) == cell_type).to_numpy()
    x = rna[members, genes].X.toarray()
    return [g for g, n in zip(genes, (x > 0).sum(axis=0)) if n >= 10]


def _is_true(genes, peaks, model) -> np.ndarray:
    """(gene, peak) pairs that the fake model truly links (GENE g -> peaks 2g, 2g+1)."""
    index = {p: i for i, p in enumerate(model.peaks)}
    return np.asarray(
        [
            int(g.removeprefix("GENE")) < 10 and index[p] // 2 == int(g.removeprefix("GENE"))
            for g, p in zip(genes, peaks)
        ]
    )


def _slack(n: int, rate: float = 0.05) -> float:
    """Two binomial standard errors of a proportion ``rate`` among ``n``."""
    return 2 * np.sqrt(rate * (1 - rate) / max(n, 1))


@pytest.mark.parametrize("cell_type", [None, "0"], ids=["expressing-cells", "one-type"])
def test_link_scores_control_the_false_discovery_proportion(cell_type):
    calls = false = true_found = 0
    for seed in SEEDS:
        mdata, model = _world(seed)
        table = link_scores(
            model, mdata, DRIVERS + SHAMS, labels_key="leiden", cell_type=cell_type, config=CONFIG
        )
        hit = table["fdr"].to_numpy() < 0.05
        truth = _is_true(table["gene"], table["peak"], model)
        calls += hit.sum()
        false += (hit & ~truth).sum()
        true_found += (hit & truth).sum()
    assert false / max(calls, 1) <= 0.05 + _slack(calls)
    assert true_found >= 0.8 * 20 * len(SEEDS)  # and the drivers' 20 links per seed are found


@pytest.mark.parametrize("population", [False, True], ids=["one-cell", "population"])
def test_explain_gene_sham_experiments_are_calibrated(population):
    p_values, experiments, with_calls = [], 0, 0
    for seed in SEEDS[:3]:
        mdata, model = _world(seed)
        rna = mdata.mod["rna"]
        for gene in _expressed_in(mdata, SHAMS, "0")[:12]:
            options = {"population": True, "cell_type": "0", "labels_key": "leiden"}
            if not population:
                column = rna[:, gene].X.toarray().ravel()
                options = {"cell": str(rna.obs_names[int(np.argmax(column))])}
            result = explain_gene(
                model,
                mdata,
                gene,
                0.0,
                config=CONFIG,
                threshold=0.5,
                dose_response=False,
                **options,
            )
            p_values.append(result.table["p_value"].to_numpy())
            experiments += 1
            with_calls += bool((result.table["fdr"] < 0.05).any())
    p_values = np.concatenate(p_values)
    # never more small p-values than a uniform law gives (a conservative test may give fewer)
    assert stats.kstest(p_values, "uniform", alternative="greater").pvalue > 1e-3
    # the peaks of one experiment share its null genes, so their p-values are not independent
    # draws: allow 25% relative excess at the 5% level rather than a binomial error
    assert (p_values < 0.05).mean() <= 0.0625
    assert with_calls / experiments <= 0.05 + _slack(experiments)
