"""ATAC cell-QC metrics from fragments (snapatac2) and from ARC per-barcode metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pysam
import pytest
import scipy.sparse as sp

from extras import requires_snapatac2
from genepeak.config import PrepareConfig
from genepeak.errors import InputError
from genepeak.io.genome import get_genome
from genepeak.prepare.atac_qc import (
    analyse_fragments,
    barcode_metrics,
    gene_tss_table,
    nucleosome_signal,
)

TSS = 1_000_000  # one gene on chr1, + strand
PEAK = (TSS - 250, TSS + 250)


def write_fragments(tmp_path, rows, name="fragments.tsv.gz", ensembl=False):
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    plain = tmp_path / name.removesuffix(".gz")
    chrom = (lambda c: c.removeprefix("chr")) if ensembl else (lambda c: c)
    plain.write_text("".join(f"{chrom(c)}\t{s}\t{e}\t{b}\t1\n" for c, s, e, b in rows))
    path = tmp_path / name
    pysam.tabix_compress(str(plain), str(path), force=True)
    pysam.tabix_index(str(path), preset="bed", force=True)
    return path


def cell_fragments(barcode, rng, n_at_tss, n_far, lengths):
    """Fragments centred on the TSS (inside the peak) and far away, with given lengths."""
    rows = []
    for i in range(n_at_tss + n_far):
        length = int(lengths[i % len(lengths)])
        centre = TSS + int(rng.integers(-60, 60)) if i < n_at_tss else 5_000_000 + 3_000 * i
        rows.append(("chr1", centre - length // 2, centre - length // 2 + length, barcode))
    return rows


@pytest.fixture
def fragments(tmp_path):
    rng = np.random.default_rng(0)
    rows = cell_fragments("GOOD-1", rng, 60, 20, [100, 120, 200])  # 54 free, 26 mono
    rows += cell_fragments("FLAT-1", rng, 2, 78, [100, 200, 250, 260])  # 20 free, 60 mono
    rows += cell_fragments("OTHER-1", rng, 10, 10, [80])  # not asked for
    return rows


@requires_snapatac2
def test_metrics_from_fragments(tmp_path, fragments):
    path = write_fragments(tmp_path, fragments)
    genes = pd.DataFrame(
        {"chrom": ["chr1"], "start": [TSS], "end": [TSS + 5000], "strand": ["+"], "tss": [TSS]},
        index=["GENE1"],
    )
    metrics, called = analyse_fragments(
        path,
        ["GOOD-1", "FLAT-1", "NONE-1"],
        get_genome("hg38"),
        PrepareConfig(),
        peaks=[f"chr1:{PEAK[0]}-{PEAK[1]}"],
        genes=genes,
    )
    assert called is None
    assert metrics.index.tolist() == ["GOOD-1", "FLAT-1", "NONE-1"]
    assert metrics["atac_fragments"].tolist() == [80, 80, 0]  # a cell without fragments: 0
    # mono-nucleosome (147-294 bp) per nucleosome-free (< 147 bp) fragment
    assert metrics.loc["GOOD-1", "atac_nucleosome_signal"] == pytest.approx(26 / 54)
    assert metrics.loc["FLAT-1", "atac_nucleosome_signal"] == pytest.approx(60 / 20)
    assert metrics.loc["GOOD-1", "atac_frip"] == pytest.approx(60 / 80)
    assert metrics.loc["FLAT-1", "atac_frip"] == pytest.approx(2 / 80)
    assert metrics.loc["GOOD-1", "atac_tsse"] > 5 * metrics.loc["FLAT-1", "atac_tsse"]
    assert metrics.loc["NONE-1"].drop("atac_fragments").isna().all()


@requires_snapatac2
def test_ensembl_named_fragments_give_the_same_metrics(tmp_path, fragments):
    ucsc = write_fragments(tmp_path, fragments)
    ensembl = write_fragments(tmp_path, fragments, name="ensembl.tsv.gz", ensembl=True)
    peaks = [f"chr1:{PEAK[0]}-{PEAK[1]}"]
    cells = ["GOOD-1", "FLAT-1"]
    genome, config = get_genome("hg38"), PrepareConfig()
    a, _ = analyse_fragments(ucsc, cells, genome, config, peaks=peaks)
    b, _ = analyse_fragments(ensembl, cells, genome, config, peaks=peaks)
    pd.testing.assert_frame_equal(a, b)


@requires_snapatac2
def test_wrong_genome_and_foreign_barcodes_are_named(tmp_path, fragments):
    path = write_fragments(tmp_path, [("chrUn_x", 10, 100, "GOOD-1")], name="odd.tsv.gz")
    with pytest.raises(
        InputError, match=r"none of its chromosomes \(chrUn_x\) is a chromosome of mm10"
    ):
        analyse_fragments(path, ["GOOD-1"], get_genome("mm10"), PrepareConfig())
    path = write_fragments(tmp_path, fragments)
    with pytest.raises(InputError, match=r"none of the 1 cell barcodes has a fragment.*'ZZZ-1'"):
        analyse_fragments(path, ["ZZZ-1"], get_genome("hg38"), PrepareConfig())


def test_nucleosome_signal_hand_computed():
    lengths = sp.csr_matrix(np.array([[50, 100, 200, 0], [300, 0, 0, 0], [0, 0, 0, 0]]))
    # row 0: 2 free, 1 mono; row 1: one 300 bp fragment (di-nucleosome, neither); row 2: none
    assert nucleosome_signal(lengths).tolist() == [0.5, 0.0, 0.0]


def test_tss_from_genes_or_from_both_ends_of_arc_intervals():
    genes = pd.DataFrame(
        {
            "chrom": ["chr1", "chr2", ""],
            "start": [100, 5000, -1],
            "end": [900, 5600, -1],
            "strand": ["-", ".", "."],
            "tss": [899, -1, -1],
        },
        index=["A", "B", "C"],
    )
    table = gene_tss_table(genes)
    assert table[["gene", "chrom", "tss"]].values.tolist() == [
        ["A", "chr1", 899],
        ["B", "chr2", 5000],
        ["B", "chr2", 5599],
    ]


def test_arc_barcode_metrics():
    obs = pd.DataFrame(
        {
            "atac_fragments": [1000, 0],
            "atac_TSS_fragments": [300, 0],
            "atac_peak_region_fragments": [600, 0],
        },
        index=["a", "b"],
    )
    frame = barcode_metrics(obs)
    assert frame.loc["a"].tolist() == [1000, 0.6, 0.3]
    assert frame.loc["b", ["atac_frip", "atac_tss_fraction"]].isna().all()  # no fragments
    assert barcode_metrics(pd.DataFrame(index=["a"])) is None


def test_missing_atac_extra_is_named(monkeypatch):
    """Without snapatac2 the error names the extra that installs it."""
    import sys

    from genepeak.errors import InputError
    from genepeak.prepare.atac_qc import import_snapatac2

    monkeypatch.setitem(sys.modules, "snapatac2", None)
    with pytest.raises(InputError, match=r'pip install "genepeak\[atac\]"'):
        import_snapatac2()
