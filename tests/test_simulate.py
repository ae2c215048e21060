"""The built-in simulator: files, layout, determinism, realism and the planted links."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from genepeak.errors import ConfigError, InputError
from genepeak.simulate import CELL_TYPES, REQUIRED_DRIVERS, SHAPES, simulate

PEAK = re.compile(r"^[\w.]+:\d+-\d+$")


def _read(out):
    with h5py.File(out / "filtered_feature_bc_matrix.h5") as f:
        m = f["matrix"]
        n_features, n_cells = m["shape"][:]
        x = sp.csr_matrix(
            (m["data"][:], m["indices"][:], m["indptr"][:]), shape=(int(n_cells), int(n_features))
        )
        kind = m["features/feature_type"][:].astype(str)
        names = m["features/name"][:].astype(str)
        barcodes = m["barcodes"][:].astype(str)
    genes = kind == "Gene Expression"
    return x[:, genes].tocsr(), names[genes], x[:, ~genes].tocsr(), names[~genes], barcodes


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "tiny"
    result = simulate(out, shape="tiny", seed=0, fragments=True)
    return result, *_read(out)


def test_files_and_shape(tiny):
    result, rna, genes, atac, peaks, barcodes = tiny
    spec = SHAPES["tiny"]
    assert (result.n_cells, result.n_genes, result.n_peaks) == (
        spec.n_cells,
        spec.n_genes,
        spec.n_peaks,
    )
    assert rna.shape == (300, 1500) and atac.shape == (300, 2500)
    for name in (
        "filtered_feature_bc_matrix.h5",
        "atac_peaks.bed",
        "per_barcode_metrics.csv",
        "ground_truth_links.tsv",
        "cell_types.tsv",
        "gene_annotation.tsv",
        "atac_fragments.tsv.gz",
        "atac_fragments.tsv.gz.tbi",
    ):
        assert (result.out_dir / name).is_file(), name
    assert len(set(barcodes)) == 300 and all(re.fullmatch(r"[ACGT]{16}-1", b) for b in barcodes)
    bed = pd.read_csv(result.peaks_path, sep="\t", header=None)
    assert list(bed[0] + ":" + bed[1].astype(str) + "-" + bed[2].astype(str)) == list(peaks)
    labels = pd.read_csv(result.labels_path, sep="\t")
    assert list(labels["barcode"]) == list(barcodes)
    assert set(labels["cell_type"]) <= set(CELL_TYPES) and labels["cell_type"].nunique() >= 6
    annotation = pd.read_csv(result.annotation_path, sep="\t")
    assert list(annotation.columns) == ["gene", "chrom", "start", "end", "strand", "tss"]
    assert list(annotation["gene"]) == list(genes)
    plus = annotation["strand"] == "+"
    assert (annotation.loc[plus, "tss"] == annotation.loc[plus, "start"]).all()
    assert (annotation.loc[~plus, "tss"] == annotation.loc[~plus, "end"] - 1).all()
    metrics = pd.read_csv(result.metrics_path)
    cells = metrics[metrics["is_cell"] == 1].set_index("barcode").loc[barcodes]
    assert np.array_equal(cells["gex_umis_count"], np.asarray(rna.sum(1)).ravel())
    assert np.array_equal(cells["atac_peak_region_cutsites"], np.asarray(atac.sum(1)).ravel())
    assert (metrics["is_cell"] == 0).sum() == 150


def test_h5_layout_matches_arc(tiny):
    result = tiny[0]
    with h5py.File(result.h5_path) as f:
        m = f["matrix"]
        assert set(m) == {"barcodes", "data", "indices", "indptr", "shape", "features"}
        assert set(m["features"]) == {
            "id",
            "name",
            "feature_type",
            "genome",
            "interval",
            "_all_tag_keys",
        }
        assert m["data"].dtype == np.int32 and m["indices"].dtype == np.uint32
        assert m["indptr"].dtype == np.uint32 and m["shape"].dtype == np.uint32
        assert list(m["shape"][:]) == [4000, 300]
        assert m["barcodes"].dtype.kind == "S" and m["features/id"].dtype.kind == "S"
        assert list(m["features/_all_tag_keys"][:]) == [b"genome", b"interval"]
        kind = m["features/feature_type"][:].astype(str)
        ids = m["features/id"][:].astype(str)
        names = m["features/name"][:].astype(str)
        interval = m["features/interval"][:].astype(str)
    assert (kind[:1500] == "Gene Expression").all() and (kind[1500:] == "Peaks").all()
    assert (ids[1500:] == names[1500:]).all() and (names[1500:] == interval[1500:]).all()
    assert all(PEAK.match(p) for p in interval)
    assert all(re.fullmatch(r"ENSG9\d{10}", i) for i in ids[:1500])


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = simulate(tmp_path / "a", "tiny", seed=3)
    b = simulate(tmp_path / "b", "tiny", seed=3)
    c = simulate(tmp_path / "c", "tiny", seed=4)
    for name in (
        "filtered_feature_bc_matrix.h5",
        "ground_truth_links.tsv",
        "cell_types.tsv",
        "per_barcode_metrics.csv",
        "atac_peaks.bed",
        "gene_annotation.tsv",
    ):
        assert (a.out_dir / name).read_bytes() == (b.out_dir / name).read_bytes(), name
    assert a.h5_path.read_bytes() != c.h5_path.read_bytes()


def test_statistics_look_like_pbmc_multiome(tiny):
    _, rna, genes, atac, peaks, _ = tiny
    total = np.asarray(rna.sum(1)).ravel()
    mt = (
        np.asarray(rna[:, np.flatnonzero(pd.Series(genes).str.startswith("MT-"))].sum(1)).ravel()
        / total
    )
    ribo = (
        np.asarray(rna[:, np.flatnonzero(pd.Series(genes).str.match(r"^RP[SL]"))].sum(1)).ravel()
        / total
    )
    assert 0.01 < np.median(mt) < 0.08
    assert 0.005 <= np.mean(mt > 0.25) <= 0.08  # a few damaged cells for the QC filter
    assert 0.04 < np.median(ribo) < 0.1 and np.mean(ribo > 0.15) < 0.05
    assert 1000 < np.median(total) < 4000
    assert 0.6 < 1 - rna.nnz / np.prod(rna.shape) < 0.9
    assert np.mean(rna.data == 1) > 0.35  # UMI counts: mostly ones
    # ATAC: cut-site counts, mostly one fragment (2), sparse, per-cell depth varies
    assert np.mean(atac.data % 2 == 0) > 0.8 and np.mean(atac.data == 2) > 0.5
    assert 0.75 < 1 - atac.nnz / np.prod(atac.shape) < 0.95
    depth = np.diff(atac.indptr)
    assert np.quantile(depth, 0.9) > 2 * np.quantile(depth, 0.1)
    chroms = pd.Series(peaks).str.split(":").str[0]
    assert chroms.str.match(r"^chr(\d+|X|Y)$").mean() > 0.99
    assert (~chroms.str.startswith("chr")).sum() >= 3  # unplaced contigs (KI270728.1, ...)
    open_frac = np.asarray((atac > 0).mean(0)).ravel()
    assert 0.3 < np.mean(open_frac >= 0.03) < 0.95  # the 3% peak filter has work, keeps many


def _within_type_correlation(rna, genes, atac, peaks, labels, truth):
    size = np.asarray(rna.sum(1)).ravel()
    size = size / np.median(size)
    gene_col = {g: i for i, g in enumerate(genes)}
    peak_col = {p: i for i, p in enumerate(peaks)}
    g = np.log1p(rna[:, [gene_col[x] for x in truth["gene"]]].toarray() / size[:, None])
    p = np.log1p(atac[:, [peak_col[x] for x in truth["peak"]]].toarray().astype(float))
    for cell_type in np.unique(labels):
        rows = labels == cell_type
        g[rows] -= g[rows].mean(0)
        p[rows] -= p[rows].mean(0)
    return (g * p).sum(0) / np.sqrt((g * g).sum(0) * (p * p).sum(0) + 1e-12)


def test_planted_links_act_within_cell_types(tiny):
    result, rna, genes, atac, peaks, barcodes = tiny
    truth = pd.read_csv(result.links_path, sep="\t")
    labels = pd.read_csv(result.labels_path, sep="\t")["cell_type"].to_numpy()
    r = _within_type_correlation(rna, genes, atac, peaks, labels, truth)
    planted = truth["planted"].to_numpy()
    signed = np.sign(truth["effect"].to_numpy()[planted]) * r[planted]
    assert np.mean(signed > 0) >= 0.75  # the planted sign shows cell by cell within types
    assert np.mean(signed) > 0.04
    assert abs(np.mean(r[~planted])) < 0.015  # null peaks do not respond
    assert np.mean(signed) > 4 * np.std(r[~planted]) / np.sqrt(planted.sum())


def test_ground_truth_table(tiny):
    result, _, genes, _, peaks, _ = tiny
    truth = pd.read_csv(result.links_path, sep="\t")
    assert list(truth.columns) == [
        "gene",
        "peak",
        "effect",
        "planted",
        "kind",
        "chrom",
        "distance_to_tss",
    ]
    assert set(truth["peak"]) <= set(peaks) and set(truth["gene"]) <= set(genes)
    planted = truth[truth["planted"]]
    for gene in REQUIRED_DRIVERS:
        assert (planted["gene"] == gene).sum() >= 1, gene
    assert (truth.loc[~truth["planted"], "effect"] == 0).all()
    assert (planted["effect"].abs() >= 1.5).all() and (planted["effect"] < 0).any()
    assert set(planted["kind"]) <= {"promoter", "cis", "distal"}
    assert set(truth.loc[~truth["planted"], "kind"]) <= {
        "null_cis",
        "null_type_matched",
        "null_distal",
    }
    cis = truth[truth["kind"].isin(["promoter", "cis", "null_cis", "null_type_matched"])]
    assert (cis["distance_to_tss"].abs() <= 100_000).all()
    assert (planted.loc[planted["kind"] == "promoter", "distance_to_tss"].abs() <= 2_500).all()
    # distance = peak centre - TSS, from the annotation file
    annotation = pd.read_csv(result.annotation_path, sep="\t").set_index("gene")
    row = planted.iloc[0]
    chrom, start, end = re.match(r"(.+):(\d+)-(\d+)", row["peak"]).groups()
    if chrom == annotation.at[row["gene"], "chrom"]:
        assert (
            row["distance_to_tss"]
            == (int(start) + int(end)) // 2 - annotation.at[row["gene"], "tss"]
        )
    assert truth.groupby("gene").size().min() >= 20  # nulls to rank against


def test_fragments_reproduce_peak_counts(tiny):
    result, _, _, atac, peaks, barcodes = tiny
    frags = pd.read_csv(
        result.fragments_path,
        sep="\t",
        header=None,
        names=["chrom", "start", "end", "barcode", "count"],
    )
    bed = pd.read_csv(result.peaks_path, sep="\t", header=None, names=["chrom", "start", "end"])
    cell = pd.Series(np.arange(len(barcodes)), index=barcodes)[frags["barcode"]].to_numpy()
    counts = np.zeros(atac.shape, dtype=np.int64)
    for chrom, idx in bed.groupby("chrom").indices.items():
        starts, ends = bed["start"].to_numpy()[idx], bed["end"].to_numpy()[idx]
        on = (frags["chrom"] == chrom).to_numpy()
        for cut in (frags["start"].to_numpy()[on], frags["end"].to_numpy()[on] - 1):
            j = np.searchsorted(starts, cut, side="right") - 1
            inside = (j >= 0) & (cut < ends[np.maximum(j, 0)])
            np.add.at(counts, (cell[on][inside], idx[j[inside]]), 1)
    assert np.array_equal(counts, atac.toarray())
    assert (
        frags.groupby("chrom", sort=False)["start"].apply(lambda s: s.is_monotonic_increasing)
    ).all()


def test_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="unknown shape 'huge'.*tiny, small, pbmc3k, pbmc10k"):
        simulate(tmp_path / "x", shape="huge")
    with pytest.raises(ConfigError, match="fragments=True is supported for the tiny and small"):
        simulate(tmp_path / "x", shape="pbmc3k", fragments=True)
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        simulate(tmp_path / "x", shape="tiny", seed=-1)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not empty and holds no previous simulation"):
        simulate(mine, shape="tiny")
    assert (mine / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / "x").exists()
    # a previous simulation is replaced whole
    again = simulate(tmp_path / "x", shape="tiny", seed=1)
    (again.out_dir / "stale.txt").write_text("old")
    simulate(tmp_path / "x", shape="tiny", seed=1)
    assert not (again.out_dir / "stale.txt").exists() and again.h5_path.is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_prepare_reads_the_simulation(tiny):
    pipeline = pytest.importorskip("genepeak.prepare.pipeline")
    result = tiny[0]
    raw = pipeline.read_input(result.out_dir)
    assert raw.mod["rna"].shape == (300, 1500) and raw.mod["atac"].shape == (300, 2500)
    from genepeak.config import PrepareConfig

    # the embedding steps do not change which cells / features are kept
    config = PrepareConfig(run_scrublet=False, compute_umap=False)
    prepared = pipeline.prepare(result.out_dir, config)
    rna, atac = prepared.mod["rna"], prepared.mod["atac"]
    assert 270 <= rna.n_obs <= 297  # the MT / ribosomal filters remove a few percent
    assert rna.n_vars > 1200 and 1000 < atac.n_vars < 2500
    assert atac.var["chrom"].str.match(r"^chr(\d+|X|Y)$").all()  # unplaced contigs dropped
    assert set(REQUIRED_DRIVERS) <= set(rna.var_names)


@pytest.mark.slow
def test_small_default_dataset_prepares_and_links_are_recoverable(tmp_path):
    from sklearn.metrics import average_precision_score

    from genepeak.config import PrepareConfig
    from genepeak.prepare.pipeline import prepare

    result = simulate(tmp_path / "small", shape="small", seed=0)
    rna, genes, atac, peaks, barcodes = _read(result.out_dir)
    truth = pd.read_csv(result.links_path, sep="\t")
    labels = pd.read_csv(result.labels_path, sep="\t")["cell_type"].to_numpy()
    r = _within_type_correlation(rna, genes, atac, peaks, labels, truth)
    planted = truth["planted"].to_numpy()
    # an oracle that knows the cell types recovers the links well above random
    assert average_precision_score(planted, np.abs(r)) > 0.6 > 4 * planted.mean()
    prepared = prepare(result.out_dir, PrepareConfig(run_scrublet=False, compute_umap=False))
    assert 0.95 * 1800 <= prepared.n_obs < 1800
    assert prepared.mod["rna"].n_vars > 3500 and 3500 < prepared.mod["atac"].n_vars < 6000
    assert prepared.obs["leiden"].nunique() >= 6
