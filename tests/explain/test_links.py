"""Genomic context: peak coordinates, gene TSS, nearest genes and distances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genepeak.errors import InputError
from genepeak.explain import links
from genepeak.io.annotation import gene_coordinates
from genepeak.io.peaks import peak_coordinates
from synthetic_mdata import gene_var


def test_peak_names_in_three_formats():
    # explain reads peaks with io.peaks, the one reader (no copy of its own)
    var = pd.DataFrame(index=["chr1:100-600", "chr2-5-10", "chrX_7_70"])
    coords = peak_coordinates(var)
    assert coords.loc["chr2-5-10"].tolist() == ["chr2", 5, 10]
    assert coords.loc["chrX_7_70"].tolist() == ["chrX", 7, 70]
    assert not hasattr(links, "peak_coordinates") or links.peak_coordinates is peak_coordinates
    with pytest.raises(InputError, match="not in a recognised format"):
        peak_coordinates(pd.DataFrame(index=["peak_1"]))


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
    genes = gene_coordinates(gene_var(), ann)
    assert genes.loc["A", "tss"] == 1000
    assert genes.loc["B", "tss"] == 59_999  # minus strand: end - 1
    assert genes.loc["D"].tolist() == ["chr3", 500, 900, "-", 899]


def test_tss_from_10x_interval_column():
    var = pd.DataFrame({"interval": ["chr5:100-200", "NA"]}, index=["X", "Y"])
    genes = gene_coordinates(var)
    assert genes.loc["X", "tss"] == 100 and genes.loc["Y", "tss"] == -1


def test_nearest_gene_and_distance():
    genes = gene_coordinates(gene_var())
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
