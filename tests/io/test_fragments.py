"""Fragments files: index and order checks, Tn5 cut-site counting (hand-computed and vs ARC)."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pysam
import pytest

from genepeak.errors import InputError
from genepeak.io.fragments import count_cut_sites, open_fragments
from genepeak.io.peaks import parse_peak_names


def write_fragments(tmp_path, lines, index=True, name="fragments.tsv.gz"):
    """bgzip the lines (and tabix-index them) the way Cell Ranger ships fragments."""
    plain = tmp_path / name.removesuffix(".gz")
    plain.write_text("# comment header\n" + "".join(f"{line}\n" for line in lines))
    path = tmp_path / name
    pysam.tabix_compress(str(plain), str(path), force=True)
    if index:
        pysam.tabix_index(str(path), preset="bed", force=True)
    return path


FRAGMENTS = [
    "chr1\t100\t150\tA-1\t1",  # cuts 100, 150: both in peak0 [100,200); 150 in peak1 [150,300)
    "chr1\t199\t300\tB-1\t2",  # cuts 199 (peak0, peak1), 300 (outside: peaks are half-open)
    "chr1\t210\t260\tZ-1\t1",  # barcode not asked for: ignored
    "chr1\t250\t400\tA-1\t1",  # cut 250 in peak1; 400 in peak2 [400,401)
    "chr2\t10\t20\tB-1\t1",  # chr2 has no peak
]
PEAKS = pd.DataFrame(
    {"chrom": ["chr1", "chr1", "chr1"], "start": [100, 150, 400], "end": [200, 300, 401]}
)


def test_cut_sites_hand_computed(tmp_path):
    path = write_fragments(tmp_path, FRAGMENTS)
    counts = count_cut_sites(path, PEAKS, ["A-1", "B-1", "C-1"])
    assert counts.dtype == np.float32 and counts.shape == (3, 3)
    assert counts.toarray().tolist() == [[2, 2, 1], [1, 1, 0], [0, 0, 0]]


def test_cut_sites_do_not_depend_on_chunking(tmp_path):
    path = write_fragments(tmp_path, FRAGMENTS)
    whole = count_cut_sites(path, PEAKS, ["A-1", "B-1"])
    chunked = count_cut_sites(path, PEAKS, ["A-1", "B-1"], chunk_lines=2)
    assert (whole != chunked).nnz == 0


def test_reproduces_arc_peak_counts(shared_data):
    """Cell Ranger ARC's own matrix vs our count from its fragments (PBMC, marker regions).

    The fragments only cover +-5 kb around the markers, so only peaks inside those windows can
    match. Counting cut sites at fragment start and end matches 121 of the 136 covered peaks
    (every fully covered peak but one of 35 bp); counting end - 1 instead gives 117.
    """
    import mudata as md

    folder = shared_data("pbmc_multiome_1k_markers")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        atac = md.read_h5mu(folder / "pbmc_1k_markers.h5mu").mod["atac"]
    peaks = parse_peak_names(atac.var_names)
    ours = count_cut_sites(folder / "atac_fragments.tsv.gz", peaks, atac.obs_names).toarray()
    arc = atac.X.toarray()
    covered = ours.sum(axis=0) > 0
    exact = (ours == arc).all(axis=0) & covered
    assert covered.sum() == 136
    assert exact.sum() >= 119
    assert exact.sum() == 121
    # where they differ, the fragments subset misses cut sites: the difference is a shortfall
    assert (ours[:, covered & ~exact].sum(axis=0) <= arc[:, covered & ~exact].sum(axis=0)).all()


def test_missing_index(tmp_path):
    path = write_fragments(tmp_path, FRAGMENTS, index=False)
    with pytest.raises(InputError, match=r"has no tabix index .*tabix -p bed"):
        open_fragments(path)
    with pytest.raises(InputError, match="has no tabix index"):
        count_cut_sites(path, PEAKS, ["A-1"])


def test_missing_fragments_file(tmp_path):
    with pytest.raises(InputError, match="fragments file .*absent.tsv.gz does not exist"):
        open_fragments(tmp_path / "absent.tsv.gz")


def test_unsorted_records(tmp_path):
    path = write_fragments(tmp_path, FRAGMENTS)
    # a stale index next to records rewritten out of order
    unsorted = [FRAGMENTS[1], FRAGMENTS[0], *FRAGMENTS[2:]]
    with pysam.BGZFile(str(path), "wb") as handle:
        handle.write("".join(f"{line}\n" for line in unsorted).encode())
    with pytest.raises(
        InputError,
        match=r"not sorted by chromosome and start \(line 2: start 100 after 199 on chr1\)",
    ):
        open_fragments(path)
    revisit = [FRAGMENTS[0], FRAGMENTS[4], "chr1\t500\t600\tA-1\t1"]
    with pysam.BGZFile(str(path), "wb") as handle:
        handle.write("".join(f"{line}\n" for line in revisit).encode())
    with pytest.raises(InputError, match="chr1 appears again after other chromosomes"):
        open_fragments(path)


def test_unsorted_beyond_the_quick_check_is_caught_while_counting(tmp_path):
    lines = [f"chr1\t{100 + i}\t{200 + i}\tA-1\t1" for i in range(50)] + ["chr1\t5\t50\tA-1\t1"]
    path = write_fragments(tmp_path, lines[:50])
    with pysam.BGZFile(str(path), "wb") as handle:
        handle.write("".join(f"{line}\n" for line in lines).encode())
    open_fragments(path, check_lines=10)  # the quick check reads only the head
    with pytest.raises(InputError, match="start 5 after 149 on chr1"):
        count_cut_sites(path, PEAKS, ["A-1"], chunk_lines=7)


def test_chromosome_naming_is_matched_both_ways(tmp_path, capsys, monkeypatch):
    """Ensembl-named peaks on UCSC-named fragments (and the reverse) count the same cuts."""
    monkeypatch.delenv("GENEPEAK_QUIET", raising=False)
    ucsc_path = write_fragments(tmp_path, FRAGMENTS)
    expected = count_cut_sites(ucsc_path, PEAKS, ["A-1", "B-1"]).toarray()
    ensembl_peaks = PEAKS.assign(chrom="1")
    assert count_cut_sites(ucsc_path, ensembl_peaks, ["A-1", "B-1"]).toarray().tolist() == (
        expected.tolist()
    )
    assert "uses UCSC chromosome names; peaks matched" in capsys.readouterr().out
    ensembl_lines = [line.removeprefix("chr") for line in FRAGMENTS]
    ensembl_path = write_fragments(tmp_path, ensembl_lines, name="ensembl.tsv.gz")
    counts = count_cut_sites(ensembl_path, PEAKS, ["A-1", "B-1"])
    assert counts.toarray().tolist() == expected.tolist() == [[2, 2, 1], [1, 1, 0]]


def test_not_gzip(tmp_path):
    path = tmp_path / "fragments.tsv.gz"
    path.write_text("chr1\t1\t2\tA\t1\n")
    (tmp_path / "fragments.tsv.gz.tbi").write_bytes(b"")
    with pytest.raises(InputError, match="could not be read"):
        open_fragments(path)


def test_real_tiny_fragments_file(shared_data):
    path = shared_data("fragments_tiny", "fragments.tsv.gz")
    tabix = open_fragments(path)
    assert "chr1" in tabix.contigs
    tabix.close()
    with gzip.open(path, "rt") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle if not line.startswith("#")]
    barcode, start = rows[0][3], int(rows[0][1])
    # a 1-bp peak on the first fragment's start: count by hand every cut site of that cell there
    expected = sum(
        (int(r[1]) == start) + (int(r[2]) == start)
        for r in rows
        if r[0] == "chr1" and r[3] == barcode
    )
    peaks = pd.DataFrame({"chrom": ["chr1"], "start": [start], "end": [start + 1]})
    counts = count_cut_sites(path, peaks, [barcode])
    assert expected >= 1 and counts[0, 0] == expected
