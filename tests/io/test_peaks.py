"""Peak-name parsing, BED reading, chromosome naming and interval overlap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genepeak.errors import InputError
from genepeak.io.peaks import (
    check_same_naming,
    chromosome_style,
    is_standard_chromosome,
    overlaps_any,
    parse_peak_names,
    peak_names,
    read_bed,
    require_ucsc,
    to_ucsc,
)


def test_parse_every_common_format():
    names = ["chr1:100-200", "chr2-300-450", "chrX_5_9", "chrUn_KI270726v1:10-20", "GL000194.1:7-8"]
    coords = parse_peak_names(names)
    assert coords["chrom"].tolist() == ["chr1", "chr2", "chrX", "chrUn_KI270726v1", "GL000194.1"]
    assert coords["start"].tolist() == [100, 300, 5, 10, 7]
    assert coords["end"].tolist() == [200, 450, 9, 20, 8]
    assert list(peak_names(coords)) == [
        "chr1:100-200",
        "chr2:300-450",
        "chrX:5-9",
        "chrUn_KI270726v1:10-20",
        "GL000194.1:7-8",
    ]


def test_unrecognised_peak_names_are_reported():
    with pytest.raises(
        InputError, match=r"2 of 3 peak names are not in a recognised format.*'peak_1'"
    ):
        parse_peak_names(["chr1:1-5", "peak_1", "chr1:10"], source="my.h5ad")


def test_inverted_peak_is_reported():
    with pytest.raises(InputError, match="end at or before they start"):
        parse_peak_names(["chr1:500-100"])


def test_read_bed_skips_track_and_comments(tmp_path):
    path = tmp_path / "peaks.bed"
    path.write_text("track name=x\n# comment\nchr1\t10\t20\tname\nchr2\t5\t9\n")
    bed = read_bed(path)
    assert bed.to_dict("list") == {"chrom": ["chr1", "chr2"], "start": [10, 5], "end": [20, 9]}


def test_read_bed_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_bed(tmp_path / "absent.bed")


def test_chromosome_styles_and_standard_mask():
    assert chromosome_style(["chr1", "chrM"]) == "ucsc"
    assert chromosome_style(["1", "MT", "X"]) == "ensembl"
    assert chromosome_style(["NC_000001.11"]) == "unknown"
    mask = is_standard_chromosome(
        ["chr1", "chr22", "chrX", "chrY", "chrM", "chr1_KI270706v1_random", "1"]
    )
    assert mask.tolist() == [True, True, True, True, False, False, False]
    assert to_ucsc(["1", "MT", "chr2", "X"]) == ["chr1", "chrM", "chr2", "chrX"]


def test_mixed_naming_says_what_to_do():
    with pytest.raises(
        InputError,
        match=r"the peaks uses UCSC names.*fragments uses Ensembl names.*add the 'chr' prefix",
    ):
        check_same_naming(["chr1"], "the peaks", ["1", "2"], "fragments")
    check_same_naming(["chr1"], "a", ["chr2"], "b")  # same style: no error
    with pytest.raises(
        InputError, match=r"Ensembl chromosome names.*standard_chromosomes_only=False"
    ):
        require_ucsc(["1", "2"], "ATAC peaks")


def test_overlaps_any_half_open():
    peaks = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1", "chr1", "chr2", "chr1"],
            "start": [0, 100, 250, 100, 1000],
            "end": [100, 200, 300, 200, 1100],
        }
    )
    # [100,150) touches peak 2 and not peak 1 (half-open); a long region [900, 5000) covers peak 5
    regions = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [100, 900], "end": [150, 5000]})
    assert overlaps_any(peaks, regions).tolist() == [False, True, False, False, True]
    assert not overlaps_any(peaks, regions.iloc[:0]).any()
    assert np.asarray(overlaps_any(peaks.iloc[:0], regions)).size == 0
