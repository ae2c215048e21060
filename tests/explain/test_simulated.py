"""Perturbation explainability on the built-in simulator's data, with its planted links."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from explain_fakes import LinearFakeModel

from genepeak import outputs
from genepeak.config import ExplainConfig, PrepareConfig
from genepeak.explain import explain, explain_gene
from genepeak.explain.cells import representative_cell
from genepeak.explain.validate import read_truth


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """The simulator's tiny shape, prepared: (mdata, simulation result)."""
    from genepeak.prepare.pipeline import prepare
    from genepeak.simulate import simulate

    sim = simulate(tmp_path_factory.mktemp("sim") / "tiny", "tiny", seed=0)
    mdata = prepare(sim.out_dir, PrepareConfig(run_scrublet=False, compute_umap=False))
    return mdata, sim


def _oracle(mdata, truth, noise_sd=0.05):
    """A fake model whose gene -> peak map is the simulator's planted links (log1p scale).

    Every peak sits at -0.5 (closed) plus 0.3 x effect x expression of its planted genes.
    """
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    genes, peaks = list(rna.var_names), list(atac.var_names)
    gi, pi = pd.Index(genes), pd.Index(peaks)
    weights = np.zeros((len(genes), len(peaks)), np.float32)
    planted = truth[(truth["effect"] != 0) & truth["gene"].isin(gi) & truth["peak"].isin(pi)]
    weights[gi.get_indexer(planted["gene"]), pi.get_indexer(planted["peak"])] = (
        0.3 * planted["effect"]
    )
    return LinearFakeModel(genes, peaks, weights, np.full(len(peaks), -0.5), noise_sd=noise_sd)


def _opening_driver(truth, mdata):
    """The gene with the most planted links, all of them opening, among the data's genes."""
    planted = truth[(truth["effect"] != 0) & truth["gene"].isin(mdata.mod["rna"].var_names)]
    planted = planted[planted["peak"].isin(mdata.mod["atac"].var_names)]
    by_gene = planted.groupby("gene")["effect"]
    ok = by_gene.min()[by_gene.min() > 0].index
    return by_gene.size().loc[ok].sort_values(kind="stable").index[-1]


def test_representative_cells_have_the_true_type(simulated):
    mdata, sim = simulated
    labels = pd.read_csv(sim.labels_path, sep="\t").set_index("barcode")["cell_type"]
    rna = mdata.mod["rna"]
    expected = {
        "NK": "NK",
        "B": "B",
        "CD8 T": "CD8 T",
        "CD4 T": "CD4 T",
        "CD14 monocyte": "CD14 Mono",
    }
    for cell_type, true_type in expected.items():
        cell = representative_cell(rna, cell_type)
        assert labels[cell.split("_")[0]] == true_type, cell_type


def test_oracle_links_recovered_and_distances_match_truth(simulated):
    mdata, sim = simulated
    truth = read_truth(sim.links_path)
    gene = _opening_driver(truth, mdata)
    rna = mdata.mod["rna"]
    cell = rna.obs_names[int(np.argmax(rna[:, gene].X.toarray().ravel()))]
    result = explain_gene(
        _oracle(mdata, truth),
        mdata,
        gene,
        0.0,
        cell=cell,
        config=ExplainConfig(n_passes=50, n_null_genes=10, threshold=0.5),
        truth=sim.links_path,
    )
    planted = result.validation["planted"]
    # silencing closes every opening link of this gene in every pass
    for method in ("link", "shift", "flips"):
        assert planted[method]["auprc"] == pytest.approx(1.0)
    assert planted["flips"]["prevalence"] < 0.01
    raw = pd.read_csv(sim.links_path, sep="\t")
    raw = raw[(raw["gene"] == gene) & raw["distance_to_tss"].notna()].set_index("peak")
    ours = result.table.set_index("peak").loc[raw.index.intersection(result.table["peak"])]
    assert len(ours) >= 2
    # peak centre minus the strand-aware TSS, as the simulator's truth: 10x intervals carry no
    # strand, so the TSS comes from gene_annotation.tsv, found next to mdata.uns's source
    np.testing.assert_allclose(
        ours["distance_to_tss"], raw.loc[ours.index, "distance_to_tss"], atol=1
    )


def test_design_experiments_run_on_simulated_pbmc(simulated, tmp_path):
    mdata, sim = simulated
    model = _oracle(mdata, read_truth(sim.links_path))
    config = ExplainConfig(n_passes=20, n_null_genes=4, dose_steps=3, threshold=0.3)
    results = explain(model, mdata, config, truth=sim.links_path)
    outputs.write_explain(results, tmp_path, config.top_k)
    assert [r.genes[0] for r in results] == ["NKG7", "CD79A", "FCGR3A", "CD8B", "IL7R"]
    nkg7, cd79a, fcgr3a = results[0], results[1], results[2]
    assert nkg7.values[0] == pytest.approx(np.log1p(np.expm1(nkg7.before_values[0]) / 2), rel=1e-5)
    assert cd79a.values == [0.0]
    assert fcgr3a.values[0] > fcgr3a.before_values[0]
    summary = pd.read_csv(tmp_path / "explain_summary.tsv", sep="\t")
    assert (summary["status"] == "done").all() and len(summary) == 5
    assert {"flips_auprc", "shift_auprc", "correlation_auprc"} <= set(summary.columns)


def test_trained_gpg_ranking_recovers_planted_links(simulated):
    """A small GPG trained on the tiny simulation: silence each driver gene in its top cell.

    About 10 s on 2 CPU cores. Measured (seed 0, 60 epochs), mean AUPRC over the drivers:
    0.061 for the posterior-mean shift ranking (19x the prevalence), 0.050 for the flip
    ranking, 0.23 for |Pearson r|, with a prevalence (random AUPRC) of 0.0032. The shift
    ranking's nulls are the matched null genes (links/nulls.py: the 5 genes nearest in value in
    the cell); the rule before it (5 drawn from the 50 nearest) gave 0.051-0.072 over explain
    seeds 0-5 (16-23x), and matching on the value in the cell *and* over all cells 0.021 (7x,
    which fails here). Floors keep a 1.5-2x margin.
    """
    from genepeak.models.gpg import GPG

    mdata, sim = simulated
    truth = read_truth(sim.links_path)
    model = GPG(
        mdata,
        latent_dim=64,
        hidden=[256],
        epochs=60,
        lr=1e-3,
        batch_size=32,
        beta_max=0.01,
        beta_warmup_epochs=10,
    ).train()
    rna = mdata.mod["rna"]
    drivers = sorted(set(truth.loc[truth["effect"] != 0, "gene"]) & set(model.genes))
    assert len(drivers) >= 10
    config = ExplainConfig(n_passes=50, n_null_genes=5, threshold=0.3)
    rows = []
    for gene in drivers:
        cell = rna.obs_names[int(np.argmax(rna[:, gene].X.toarray().ravel()))]
        result = explain_gene(
            model, mdata, gene, 0.0, cell=cell, config=config, truth=truth, dose_response=False
        )
        planted = result.validation["planted"]
        rows.append(
            {k: planted[k]["auprc"] for k in ("flips", "shift", "correlation")}
            | {"prevalence": planted["shift"]["prevalence"]}
        )
    mean = pd.DataFrame(rows).mean()
    print(mean.to_dict())
    assert mean["shift"] > 0.03 and mean["shift"] > 12 * mean["prevalence"]
    assert mean["flips"] > 0.012 and mean["flips"] > 8 * mean["prevalence"]
