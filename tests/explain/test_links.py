"""Genomic context and link file formats (TSV, BEDPE, Signac)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genepeak.errors import InputError
from genepeak.explain import links
from genepeak.io.annotation import gene_coordinates


def _genes():
    var = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1", "chr2", "chr1"],
            "start": [1000, 50_000, 7000, -1],
            "end": [2000, 60_000, 9000, -1],
            "strand": ["+", "-", "+", "."],
            "tss": [1000, -1, 7000, -1],
        },
        index=["A", "B", "C", "D"],
    )
    return var


def test_peak_names_in_three_formats():
    var = pd.DataFrame(index=["chr1:100-600", "chr2-5-10", "chrX_7_70"])
    coords = links.peak_coordinates(var)
    assert coords.loc["chr2-5-10"].tolist() == ["chr2", 5, 10]
    assert coords.loc["chrX_7_70"].tolist() == ["chrX", 7, 70]
    with pytest.raises(InputError, match="not in a recognised format"):
        links.peak_coordinates(pd.DataFrame(index=["peak_1"]))


def test_tss_falls_back_to_interval_and_annotation(tmp_path):
    ann = tmp_path / "genes.tsv"
    pd.DataFrame(
        {
            "symbol": ["D"],
            "chrom": ["chr3"],
            "start": [500],
            "end": [900],
            "strand": ["-"],
            "tss": [-1],
        }
    ).to_csv(ann, sep="\t", index=False)
    genes = gene_coordinates(_genes(), ann)
    assert genes.loc["A", "tss"] == 1000
    assert genes.loc["B", "tss"] == 59_999  # minus strand: end - 1
    assert genes.loc["D"].tolist() == ["chr3", 500, 900, "-", 899]


def test_tss_from_10x_interval_column():
    var = pd.DataFrame({"interval": ["chr5:100-200", "NA"]}, index=["X", "Y"])
    genes = gene_coordinates(var)
    assert genes.loc["X", "tss"] == 100 and genes.loc["Y", "tss"] == -1


def test_nearest_gene_and_distance():
    genes = gene_coordinates(_genes())
    peaks = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1", "chr2", "chr9"],
            "start": [0, 40_000, 6000, 5],
            "end": [500, 40_200, 6100, 10],
        },
        index=list("pqrs"),
    )
    near = links.nearest_genes(peaks, genes)
    assert near["nearest_gene"].tolist() == ["A", "B", "C", ""]
    assert near["nearest_gene_distance"].tolist() == [750, 19_899, 950, -1]
    d = links.distance_to_tss(peaks, "chr1", 1000)
    np.testing.assert_array_equal(d[:2], [-750, 39_100])
    assert np.isnan(d[2:]).all()


def _table():
    return pd.DataFrame(
        {
            "peak": ["chr1:3000-3500", "chr2:100-300"],
            "gene": ["A", "A"],
            "score": [0.82, 0.1],
            "direction": ["gain", "loss"],
            "p_value": [0.001, 0.5],
            "fdr": [0.002, 0.5],
            "zscore": [4.0, 0.1],
            "chrom": ["chr1", "chr2"],
            "start": [3000, 100],
            "end": [3500, 300],
        }
    )


def test_bedpe_and_signac_formats(tmp_path):
    genes = gene_coordinates(_genes())
    bedpe = links.write_bedpe(_table(), genes, tmp_path / "x.bedpe").read_text().splitlines()
    assert bedpe[0].startswith("#chrom1\tstart1\tend1\tchrom2")
    assert bedpe[1].split("\t") == [
        "chr1",
        "1000",
        "1001",
        "chr1",
        "3000",
        "3500",
        "A|chr1:3000-3500|gain",
        "1000",  # the strongest link scales to 1000
        "+",
        ".",
    ]
    assert bedpe[2].split("\t")[3:8] == ["chr2", "100", "300", "A|chr2:100-300|loss", "122"]
    signac = pd.read_csv(links.write_signac_links(_table(), genes, tmp_path / "s.tsv"), sep="\t")
    assert len(signac) == 1  # the other-chromosome link has no span
    row = signac.iloc[0]
    assert (row["seqnames"], row["start"], row["end"], row["width"]) == ("chr1", 1001, 3251, 2251)
    assert (row["gene"], row["peak"], row["pvalue"]) == ("A", "chr1-3000-3500", 0.001)


def test_link_table_puts_documented_columns_first(tmp_path):
    table = _table()
    table["extra"] = 1
    out = pd.read_csv(links.write_link_table(table, tmp_path / "l.tsv"), sep="\t")
    assert list(out.columns[:6]) == ["peak", "gene", "score", "direction", "p_value", "fdr"]
    assert out.columns[-1] == "extra"
    assert not list(tmp_path.glob(".*tmp"))


def test_multi_gene_links_get_one_row_per_gene(tmp_path):
    genes = gene_coordinates(_genes())
    table = _table()
    table["gene"] = "A,B"
    bedpe = links.write_bedpe(table, genes, tmp_path / "x.bedpe").read_text().splitlines()[1:]
    names = [line.split("\t")[6].split("|")[0] for line in bedpe]
    assert sorted(names) == ["A", "A", "B", "B"]
    signac = pd.read_csv(links.write_signac_links(table, genes, tmp_path / "s.tsv"), sep="\t")
    assert sorted(signac["gene"]) == sorted(
        g for g in ("A", "B") if genes.loc[g, "chrom"] == "chr1"
    )
