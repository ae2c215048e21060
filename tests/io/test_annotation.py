"""Gene coordinates from 10x intervals and from the hg38 gene table."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from genepeak.errors import InputError
from genepeak.io.annotation import annotate_genes, intervals_to_coordinates, read_gene_annotation


def test_intervals_to_coordinates():
    coords = intervals_to_coordinates(["chr1:29553-30267", "", None, "NA"], index=list("abcd"))
    assert coords["chrom"].tolist() == ["chr1", "", "", ""]
    assert coords["start"].tolist() == [29553, -1, -1, -1]
    assert coords["end"].tolist() == [30267, -1, -1, -1]


def test_without_annotation_strand_and_tss_are_unknown():
    var = pd.DataFrame({"interval": ["chr11:118304729-118304730"]}, index=["CD3E"])
    genes = annotate_genes(var, None)
    assert genes.loc["CD3E"].tolist() == ["chr11", 118304729, 118304730, ".", -1]


def test_real_hg38_table(shared_data):
    path = shared_data("annotations", "orgHsEgDb_3.16_hg38_gene_coords.tsv.gz")
    table = read_gene_annotation(path)
    cd14 = table[table["symbol"] == "CD14"].iloc[0]
    assert (cd14["chrom"], cd14["start"], cd14["end"], cd14["strand"], cd14["tss"]) == (
        "chr5",
        140631727,
        140633701,
        "-",
        140633701,
    )
    assert cd14["gene_id"] == "ENSG00000170458"
    # comma-separated Ensembl ids become one row each
    mir = sorted(set(table[table["symbol"] == "MIR6859-3"]["gene_id"]))
    assert mir == ["ENSG00000275449", "ENSG00000288355"]
    var = pd.DataFrame(
        {
            "gene_ids": ["ENSG00000198851", "ENSG_UNKNOWN", "ENSG_NOT_IN_TABLE"],
            "interval": ["chr11:1-2", "chr5:5-6", "chr2:7-9"],
        },
        index=["renamed_CD3E", "CD14", "NOVEL1"],
    )
    genes = annotate_genes(var, table)
    # by Ensembl id (the symbol differs), by symbol, and not at all (the 10x interval stays)
    assert genes.loc["renamed_CD3E"].tolist() == ["chr11", 118304729, 118316173, "+", 118304729]
    assert genes.loc["CD14"].tolist() == ["chr5", 140631727, 140633701, "-", 140633701]
    assert genes.loc["NOVEL1"].tolist() == ["chr2", 7, 9, ".", -1]


def test_tss_derived_from_strand_and_missing_columns(tmp_path):
    path = tmp_path / "genes.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(
            "gene\tchrom\tstart\tend\tstrand\nA\tchr1\t100\t200\t+\nB\tchr1\t300\t400\t-\n"
        )
    table = read_gene_annotation(path)
    assert table["tss"].tolist() == [100, 399]  # 0-based: last base of a minus-strand gene
    bad = tmp_path / "bad.tsv"
    bad.write_text("gene\tchr\tbegin\nA\tchr1\t1\n")
    with pytest.raises(InputError, match=r"missing column\(s\) chrom, start, end"):
        read_gene_annotation(bad)
    with pytest.raises(InputError, match="does not exist"):
        read_gene_annotation(tmp_path / "absent.tsv")


def test_annotation_and_genes_with_different_naming(tmp_path):
    path = tmp_path / "genes.tsv"
    path.write_text("symbol\tchrom\tstart\tend\nA\tchr1\t100\t200\n")
    var = pd.DataFrame({"interval": ["1:100-200"]}, index=["A"])
    with pytest.raises(
        InputError, match=r"the gene annotation uses UCSC names .*the genes uses Ensembl"
    ):
        annotate_genes(var, read_gene_annotation(path))
