"""FDR control under a null that looks like the data: sham genes drive nothing.

Every seed draws a new data set and a new noisy model in which GENE0-9 drive two peaks each
and every gene moves every peak a little, with peak-specific spreads (the model's own noise).
Sham genes are other expressed genes. Among all FDR < 0.05 calls of ``link_scores`` -- for
drivers and shams together, over every cell that expresses a gene or over one cell type --
the false-discovery proportion must stay at or below 0.05, with two binomial standard errors
of Monte-Carlo slack. The state-adjusted calls (``state_fdr``) are held to the same bound against
the data's own truth: in these worlds GENE0-39 open two peaks each in proportion to their
expression, on top of cell-type programs that move every gene and peak, and GENE40-79 drive
nothing. One experiment of ``explain_gene`` is its own family: for sham genes,
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


def _with_rna_pcs(mdata, n_pcs: int = 3):
    from sklearn.decomposition import PCA

    rna = mdata.mod["rna"]
    rna.obsm["X_pca"] = PCA(n_pcs, random_state=0).fit_transform(rna.X.toarray())
    return mdata


def _driven_in_data(genes, peaks, model) -> np.ndarray:
    """(gene, peak) pairs linked in the data (tests/synthetic_mdata.py: GENE g < n_genes / 2
    opens peaks 2g and 2g + 1)."""
    index = {p: i for i, p in enumerate(model.peaks)}
    numbers = [int(g.removeprefix("GENE")) for g in genes]
    half = len(model.genes) // 2
    return np.asarray([g < half and index[p] // 2 == g for g, p in zip(numbers, peaks)])


#: genes that drive nothing in the data of ``_world`` (80 genes: GENE40-79)
DATA_SHAMS = [f"GENE{g}" for g in range(40, 60)]


@pytest.mark.parametrize(
    ("cell_type", "min_found"), [(None, 25), ("0", 3)], ids=["all-cells", "one-type"]
)
def test_state_adjusted_calls_control_the_false_discovery_proportion(cell_type, min_found):
    calls = false = sham_calls = found = 0
    sham_p = []
    for seed in SEEDS:
        mdata, model = _world(seed)
        table = link_scores(
            model,
            _with_rna_pcs(mdata),
            DRIVERS + DATA_SHAMS,
            labels_key="leiden",
            cell_type=cell_type,
            config=CONFIG,
        )
        hit = table["state_fdr"].to_numpy() < 0.05
        truth = _driven_in_data(table["gene"], table["peak"], model)
        calls += hit.sum()
        false += (hit & ~truth).sum()
        sham_calls += (hit & table["gene"].isin(DATA_SHAMS).to_numpy()).sum()
        found += (hit & truth).sum()
        p = table.loc[table["gene"].isin(DATA_SHAMS), "state_p_value"].dropna()
        sham_p.append(p.to_numpy())
    # the sham genes' p-values are no smaller than uniform ones
    assert stats.kstest(np.concatenate(sham_p), "uniform", alternative="greater").pvalue > 1e-3
    assert false / max(calls, 1) <= 0.05 + _slack(calls)
    assert sham_calls <= 0.05 * calls + 2
    # and the calls are not empty: of the drivers' 100 links, 300 or ~75 cells find some
    assert found >= min_found


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
