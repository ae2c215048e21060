"""The writers of genepeak.outputs: link table, BEDPE and Signac link formats."""

from __future__ import annotations

import pandas as pd

from genepeak import outputs
from genepeak.io.annotation import gene_coordinates
from synthetic_mdata import gene_var


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
    genes = gene_coordinates(gene_var())
    bedpe = outputs.write_bedpe(_table(), genes, tmp_path / "x.bedpe").read_text().splitlines()
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
    signac = pd.read_csv(outputs.write_signac_links(_table(), genes, tmp_path / "s.tsv"), sep="\t")
    assert len(signac) == 1  # the other-chromosome link has no span
    row = signac.iloc[0]
    assert (row["seqnames"], row["start"], row["end"], row["width"]) == ("chr1", 1001, 3251, 2251)
    assert (row["gene"], row["peak"], row["pvalue"]) == ("A", "chr1-3000-3500", 0.001)


def test_link_table_puts_documented_columns_first(tmp_path):
    table = _table()
    table["extra"] = 1
    out = pd.read_csv(outputs.write_link_table(table, tmp_path / "l.tsv"), sep="\t")
    assert list(out.columns[:6]) == ["peak", "gene", "score", "direction", "p_value", "fdr"]
    assert out.columns[-1] == "extra"
    assert not list(tmp_path.glob(".*tmp"))


def test_multi_gene_links_get_one_row_per_gene(tmp_path):
    genes = gene_coordinates(gene_var())
    table = _table()
    table["gene"] = "A,B"
    bedpe = outputs.write_bedpe(table, genes, tmp_path / "x.bedpe").read_text().splitlines()[1:]
    names = [line.split("\t")[6].split("|")[0] for line in bedpe]
    assert sorted(names) == ["A", "A", "B", "B"]
    signac = pd.read_csv(outputs.write_signac_links(table, genes, tmp_path / "s.tsv"), sep="\t")
    assert sorted(signac["gene"]) == sorted(
        g for g in ("A", "B") if genes.loc[g, "chrom"] == "chr1"
    )
