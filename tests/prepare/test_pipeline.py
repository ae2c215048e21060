"""prepare(): the prepared-MuData contract of docs/architecture.md, on written ARC data and on
every real subset in ../shared/data."""

from __future__ import annotations

import warnings

import mudata as md
import numpy as np
import pytest
import scipy.sparse as sp
from synthetic_arc import FEW_GENES_CELLS, HIGH_MT_CELLS, N_CELLS, make_arc_counts

from extras import requires_snapatac2
from genepeak.config import PrepareConfig
from genepeak.errors import ConfigError, InputError
from genepeak.outputs import write_prepare_figures
from genepeak.prepare.pipeline import prepare, read_input

# on the small synthetic folder: fewer HVGs than genes so the selection is visible; its
# planted failures are cut by the fixed thresholds (MAD rules: tests/prepare/test_qc.py)
SMALL = dict(n_top_genes=50, qc_mode="fixed")


def reopen(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return md.read_h5mu(path)


def assert_contract(mdata, labels_key="leiden"):
    """Every field docs/architecture.md promises for a prepared MuData."""
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    assert list(rna.obs_names) == list(atac.obs_names) == list(mdata.obs_names)
    for adata in (rna, atac):
        assert sp.isspmatrix_csr(adata.X) and adata.X.dtype == np.float32
        counts = adata.layers["counts"]
        assert sp.isspmatrix_csr(counts) and counts.dtype == np.float32
        assert np.all(counts.data == np.round(counts.data))
    for column in (
        "total_counts",
        "n_genes_by_counts",
        "pct_counts_mt",
        "pct_counts_ribo",
        "pct_counts_hb",
        "size_factor",
        "doublet_score",
        "predicted_doublet",
        "leiden",
    ):
        assert column in rna.obs, column
    for column in (
        "gene_ids",
        "chrom",
        "start",
        "end",
        "strand",
        "tss",
        "highly_variable",
        "n_cells",
    ):
        assert column in rna.var, column
    for column in ("chrom", "start", "end", "frac_cells"):
        assert column in atac.var, column
    assert {"total_counts", "n_peaks_by_counts"} <= set(atac.obs.columns)
    # X is log1p(counts / size_factor) with size factors from the median library
    total = np.asarray(rna.layers["counts"].sum(axis=1)).ravel()
    np.testing.assert_allclose(rna.obs["size_factor"], total / np.median(total), rtol=1e-6)
    assert rna.uns["target_sum"] == pytest.approx(np.median(total))
    row = rna.layers["counts"][0].toarray().ravel() / rna.obs["size_factor"].iloc[0]
    np.testing.assert_allclose(rna.X[0].toarray().ravel(), np.log1p(row), rtol=1e-5)
    np.testing.assert_allclose(atac.X.data, np.log1p(atac.layers["counts"].data), rtol=1e-6)
    assert (
        atac.var_names[0]
        == f"{atac.var['chrom'].iloc[0]}:{atac.var['start'].iloc[0]}-{atac.var['end'].iloc[0]}"
    )
    info = mdata.uns["genepeak"]
    assert {"prepare", "source", "version", "qc_before", "peak_frac_before"} <= set(info)
    assert info["prepare"]["labels_key"] == labels_key
    assert mdata.obs[labels_key].notna().all()
    assert {"X_pca"} <= set(rna.obsm) and {"connectivities", "distances"} <= set(rna.obsp)


def test_prepare_arc_folder_end_to_end(arc_outs, tmp_path):
    folder, _ = arc_outs
    out = tmp_path / "prepared.h5mu"
    figures = tmp_path / "figures"
    mdata = prepare(folder, PrepareConfig(**SMALL), out=out)
    assert not figures.exists()  # prepare returns data and draws nothing
    write_prepare_figures(mdata, figures)
    assert_contract(mdata)
    # the planted QC failures are exactly the cells removed
    raw = read_input(folder)
    dropped = set(raw.obs_names) - set(mdata.obs_names)
    assert dropped == {raw.obs_names[i] for i in HIGH_MT_CELLS + FEW_GENES_CELLS}
    assert mdata.n_obs == N_CELLS - 5
    assert int(mdata.mod["rna"].var["highly_variable"].sum()) == 50
    assert mdata.mod["rna"].obsm["X_pca"].shape == (N_CELLS - 5, 49)  # clipped to HVGs - 1
    assert mdata.mod["rna"].obsm["X_umap"].shape == (N_CELLS - 5, 2)
    # non-standard chromosomes are gone; every kept peak is open in >= 3 % of the cells
    assert not mdata.mod["atac"].var["chrom"].isin(["chrM", "chrUn_KI270742v1"]).any()
    assert (mdata.mod["atac"].var["frac_cells"] >= 0.03).all()
    assert len(mdata.uns["genepeak"]["qc_before"]) == N_CELLS
    # genes take the 10x interval, strand unknown without an annotation table
    var = mdata.mod["rna"].var
    assert (var.loc["GENE10", "chrom"], var.loc["GENE10", "start"], var.loc["GENE10", "end"]) == (
        "chr1",
        50_000,
        52_000,
    )
    assert (var["strand"] == ".").all() and (var["tss"] == -1).all()
    # reopens with mudata, identical counts; nothing half-written left
    again = reopen(out)
    assert_contract(again)
    assert (again.mod["atac"].layers["counts"] != mdata.mod["atac"].layers["counts"]).nnz == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures", "outs", "prepared.h5mu"]
    assert sorted(p.name for p in figures.iterdir()) == [
        "hvg_dispersion.png",
        "peak_activity.png",
        "qc_rules.png",
        "qc_violins.png",
        "rna_umap.png",
    ]
    assert all((figures / n).stat().st_size > 5000 for n in ("qc_violins.png", "rna_umap.png"))


def test_prepare_is_seeded(arc_outs):
    folder, _ = arc_outs
    config = PrepareConfig(**SMALL, compute_umap=False)
    first, second = prepare(folder, config), prepare(folder, config)
    assert first.obs["leiden"].tolist() == second.obs["leiden"].tolist()
    np.testing.assert_array_equal(first.mod["rna"].obsm["X_pca"], second.mod["rna"].obsm["X_pca"])


def test_zero_cells_left_writes_nothing(arc_outs, tmp_path):
    folder, _ = arc_outs
    out = tmp_path / "never.h5mu"
    with pytest.raises(
        InputError,
        match=r"zero cells left after QC \(150 cells in\).*n_genes_by_counts >= 100000: 150 fail",
    ):
        prepare(folder, PrepareConfig(qc_mode="fixed", min_genes_per_cell=100_000), out=out)
    assert not out.exists() and not list(tmp_path.glob(".never*"))


def test_labels_key_and_subsample_from_mudata(arc_outs):
    folder, types = arc_outs
    raw = read_input(folder)
    raw.mod["rna"].obs["cell_type"] = np.array(["T", "B", "Mono"])[types]
    config = PrepareConfig(**SMALL, compute_umap=False, subsample_fraction=0.5)
    mdata = prepare(raw, config, labels_key="cell_type")
    assert_contract(mdata, labels_key="cell_type")
    kept = mdata.obs["cell_type"].value_counts().sort_index()
    # QC removes cells 3, 10, 40 (T) and 77, 90 (B): T 47, B 48, Mono 50 -> half of each, rounded
    assert kept.to_dict() == {"B": 24, "Mono": 25, "T": 24}
    with pytest.raises(
        InputError,
        match=r"labels_key 'celltype' is not an obs column of the input; available: \[.*'cell_type'",
    ):
        prepare(raw, PrepareConfig(**SMALL, compute_umap=False), labels_key="celltype")


def test_output_must_be_h5mu(arc_outs, tmp_path):
    folder, _ = arc_outs
    with pytest.raises(ConfigError, match=r"prepared output must be a .h5mu file, got .*out.h5ad"):
        prepare(folder, out=tmp_path / "out.h5ad")
    assert not (tmp_path / "out.h5ad").exists()


def test_call_peaks_without_fragments(arc_outs):
    folder, _ = arc_outs
    with pytest.raises(
        ConfigError,
        match=r"building the ATAC matrix .*needs a fragments file, but .*outs has none.*give --fragments",
    ):
        prepare(folder, PrepareConfig(call_peaks=True))


def test_ensembl_gene_intervals_and_annotation_match_ucsc_peaks(tmp_path):
    """Genes named '1' next to peaks named 'chr1': converted (no guess needed), not refused."""
    import pandas as pd

    from genepeak.io.tenx_write import write_10x_h5

    counts, barcodes, features, _ = make_arc_counts()
    genes = features["feature_type"] == "Gene Expression"
    features.loc[genes, "interval"] = features.loc[genes, "interval"].str.replace(
        "chr", "", regex=False
    )
    write_10x_h5(
        tmp_path / "filtered_feature_bc_matrix.h5", counts, barcodes, pd.DataFrame(features)
    )
    annotation = tmp_path / "genes.tsv"
    annotation.write_text("symbol\tchrom\tstart\tend\tstrand\nGENE10\t1\t50000\t52000\t-\n")
    config = PrepareConfig(**SMALL, compute_umap=False, run_scrublet=False)
    config.gene_annotation = str(annotation)
    mdata = prepare(tmp_path, config)
    var = mdata.mod["rna"].var
    assert var.loc["GENE10", ["chrom", "strand", "tss"]].tolist() == ["chr1", "-", 51999]
    assert var["chrom"].str.startswith("chr").all()


# --------------------------------------------------------------------------- real subsets
# Every real subset prepares with the default, data-driven QC: no threshold is relaxed per
# dataset. (With the fixed thresholds, pbmc_1k_markers keeps no cell -- 45 marker genes,
# none detects 100 -- and BMMC keeps 102 of 500: ~10 % of its 600 genes are ribosomal.)


def rules_of(mdata):
    table = mdata.uns["genepeak"]["qc_rules"]
    return table.set_index("metric")


@requires_snapatac2
@pytest.mark.realdata
def test_real_pbmc_1k_markers(shared_data, tmp_path):
    path = shared_data("pbmc_multiome_1k_markers", "pbmc_1k_markers.h5mu")
    config = PrepareConfig(n_top_genes=20, compute_umap=False)
    mdata = prepare(path, config, out=tmp_path / "p.h5mu")
    again = reopen(tmp_path / "p.h5mu")
    assert_contract(again)
    assert mdata.n_obs == 922 and mdata.mod["rna"].n_vars == 45
    rules = rules_of(again)
    # no MT gene among the 45 markers: the MT rule is inactive, not "every cell is an outlier"
    assert rules.loc["pct_counts_mt", "n_removed"] == 0
    assert "MAD is 0" in rules.loc["pct_counts_mt", "note"]
    # ATAC QC from the real fragments (snapatac2): ~22 fragments per cell around the markers,
    # enough for the depth rule, too few for per-cell ratios
    assert rules.loc["atac_fragments", "n_removed"] == 35
    for ratio in ("atac_tsse", "atac_nucleosome_signal", "atac_frip"):
        assert rules.loc[ratio, "n_removed"] == 0 and "too few" in rules.loc[ratio, "note"]
    qc = again.uns["genepeak"]["qc_before"]
    assert len(qc) == 1000 and qc["atac_fragments"].median() == 22
    assert 0.5 < qc["atac_frip"].median() < 0.8  # the fragments sit around the marker peaks
    assert {"atac_fragments", "atac_tsse", "atac_frip"} <= set(mdata.mod["atac"].obs.columns)
    assert mdata.mod["rna"].var.loc["CD2", "chrom"] == "chr1"
    assert mdata.mod["atac"].uns["files"]["fragments"].endswith("atac_fragments.tsv.gz")


@pytest.mark.realdata
def test_real_pbmc_1k_markers_without_fragment_qc(shared_data):
    """fragment_qc=False: the fragments are not read; RNA rules alone keep 955 cells."""
    path = shared_data("pbmc_multiome_1k_markers", "pbmc_1k_markers.h5mu")
    config = PrepareConfig(n_top_genes=20, compute_umap=False, run_scrublet=False)
    config.fragment_qc = False
    mdata = prepare(path, config)
    assert mdata.n_obs == 955
    assert set(mdata.uns["genepeak"]["qc_rules"]["modality"]) == {"rna"}
    assert "atac_tsse" not in mdata.uns["genepeak"]["qc_before"]


@pytest.mark.realdata
def test_real_pbmc10k_two_h5ad_with_annotation(shared_data, tmp_path):
    rna = shared_data("pbmc10k_multiome_100cells", "10xpbmc_rna_subset.h5ad")
    atac = shared_data("pbmc10k_multiome_100cells", "10xpbmc_atac_subset.h5ad")
    genes = shared_data("annotations", "orgHsEgDb_3.16_hg38_gene_coords.tsv.gz")
    config = PrepareConfig(gene_annotation=str(genes))
    mdata = prepare(f"{rna},{atac}", config, out=tmp_path / "p.h5mu", labels_key="celltype")
    assert_contract(reopen(tmp_path / "p.h5mu"), labels_key="celltype")
    # the fixed 15 % ribosomal cut removed 22 of these 100 cells; the MAD rules remove 6
    assert mdata.n_obs == 94
    rules = rules_of(mdata)
    assert rules.loc["pct_counts_mt", "n_removed"] == 5
    assert rules.loc["pct_counts_ribo", "n_removed"] == 1
    assert 18 < rules.loc["pct_counts_mt", "upper"] < 19.5  # median 11 % + 3 MADs
    var = mdata.mod["rna"].var
    # these genes carry no 10x interval; the hg38 table gives coordinates, strand and TSS
    assert (var["tss"] >= 0).mean() > 0.9
    assert set(var["strand"]) <= {"+", "-", "."}


@pytest.mark.realdata
def test_real_bmmc_with_cell_types_and_batches(shared_data, tmp_path):
    rna = shared_data("bmmc_neurips2021_500cells", "starter.output_rna.h5ad")
    atac = shared_data("bmmc_neurips2021_500cells", "starter.output_mod2.h5ad")
    config = PrepareConfig(batch_key="batch", compute_umap=False)
    mdata = prepare(f"{rna},{atac}", config, out=tmp_path / "p.h5mu", labels_key="cell_type")
    assert_contract(reopen(tmp_path / "p.h5mu"), labels_key="cell_type")
    assert mdata.n_obs == 436
    rules = rules_of(mdata)
    assert rules.loc["pct_counts_ribo", "n_removed"] == 0  # median 25 %: a fixed 15 % cut fails
    assert rules.loc["atac_fragments", "n_removed"] == 37  # the obs' fragment counts
    assert mdata.obs["cell_type"].nunique() >= 15
    assert "highly_variable_nbatches" in mdata.mod["rna"].var  # batch-aware HVGs


@pytest.mark.realdata
def test_real_tenx_fixtures_are_not_paired(shared_data):
    """The format fixtures are single-modality cuts: prepare says so instead of guessing."""
    with pytest.raises(InputError, match="holds only one modality"):
        prepare(shared_data("tenx_format_fixtures", "pbmc_granulocyte_ff_bc_ex.h5"))
