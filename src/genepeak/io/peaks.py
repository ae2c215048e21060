"""Peak coordinates: parse peak names, read BED files, recognise chromosome naming styles.

All coordinates are 0-based half-open (BED), as 10x writes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from genepeak.errors import InputError

# chrom, then start and end separated by one of ':', '-', '_' (chr1:1-2, chr1-1-2, chr1_1_2).
# The chromosome part is greedy so contigs such as chrUn_KI270726v1 keep their underscore.
_PEAK_NAME_GREEDY = re.compile(r"^(?P<chrom>.+)[:_-](?P<start>\d+)[-_:](?P<end>\d+)$")

_STANDARD = [str(i) for i in range(1, 23)] + ["X", "Y"]
UCSC_STANDARD = frozenset(f"chr{c}" for c in _STANDARD)
ENSEMBL_STANDARD = frozenset(_STANDARD)


def parse_peak_names(names: Sequence[str] | pd.Index, source: str = "peaks") -> pd.DataFrame:
    """Split peak names such as ``chr1:100-200``, ``chr1-100-200`` or ``chr1_100_200``.

    Parameters
    ----------
    names
        Peak names.
    source
        Where the names come from (used in error messages).

    Returns
    -------
    DataFrame indexed by the original names with ``chrom`` (str), ``start`` and ``end`` (int64).
    """
    names = pd.Index(np.asarray(names, dtype=str))
    parts = names.str.extract(_PEAK_NAME_GREEDY)
    bad = parts["chrom"].isna().to_numpy()
    if bad.any():
        examples = ", ".join(repr(n) for n in names[bad][:3])
        raise InputError(
            f"{source}: {int(bad.sum())} of {len(names)} peak names are not in a recognised "
            f"format (e.g. {examples}); expected 'chrom:start-end', 'chrom-start-end' or "
            "'chrom_start_end' (e.g. 'chr1:9768-10660'). Rename the peaks or give their "
            "coordinates in var columns 'chrom', 'start', 'end'."
        )
    frame = pd.DataFrame(
        {
            "chrom": parts["chrom"].astype(str).to_numpy(),
            "start": parts["start"].astype(np.int64).to_numpy(),
            "end": parts["end"].astype(np.int64).to_numpy(),
        },
        index=names,
    )
    inverted = (frame["end"] <= frame["start"]).to_numpy()
    if inverted.any():
        example = names[inverted][0]
        raise InputError(
            f"{source}: {int(inverted.sum())} peaks end at or before they start (e.g. {example!r}); "
            "expected start < end in 0-based half-open coordinates"
        )
    return frame


def peak_names(coords: pd.DataFrame) -> pd.Index:
    """Canonical names ``chrom:start-end`` for a frame with chrom/start/end columns."""
    return pd.Index(
        coords["chrom"].astype(str)
        + ":"
        + coords["start"].astype(np.int64).astype(str)
        + "-"
        + coords["end"].astype(np.int64).astype(str)
    )


def peak_coordinates(var: pd.DataFrame, source: str = "peaks") -> pd.DataFrame:
    """Peak coordinates from var columns (``chrom``/``chr``, ``start``, ``end``) or var_names."""
    chrom_col = next((c for c in ("chrom", "chr", "seqnames") if c in var.columns), None)
    if chrom_col is not None and {"start", "end"} <= set(var.columns):
        frame = pd.DataFrame(
            {
                "chrom": var[chrom_col].astype(str).to_numpy(),
                "start": pd.to_numeric(var["start"]).astype(np.int64).to_numpy(),
                "end": pd.to_numeric(var["end"]).astype(np.int64).to_numpy(),
            },
            index=var.index,
        )
        return frame
    return parse_peak_names(var.index, source=source)


def peak_centres(var: pd.DataFrame, peaks=None) -> tuple[np.ndarray, np.ndarray]:
    """Chromosome and centre (bp) of every peak of ``var``, or of ``peaks`` in that order."""
    coords = peak_coordinates(var, source="atac.var")
    if peaks is not None:
        coords = coords.loc[pd.Index([str(p) for p in peaks])]
    centre = (coords["start"].to_numpy() + coords["end"].to_numpy()) // 2
    return coords["chrom"].to_numpy().astype(str), centre.astype(np.int64)


def read_bed(path: str | Path, source: str | None = None) -> pd.DataFrame:
    """Read the first three columns of a BED file (``track``/``#`` lines skipped)."""
    path = Path(path)
    source = source or str(path)
    if not path.is_file():
        raise InputError(f"BED file {path} does not exist")
    try:
        frame = pd.read_csv(
            path,
            sep="\t",
            header=None,
            comment="#",
            usecols=[0, 1, 2],
            names=["chrom", "start", "end"],
            dtype=str,
            skip_blank_lines=True,
        )
        frame = frame[~frame["chrom"].str.startswith(("track", "browser"))]
        frame = frame.astype({"start": np.int64, "end": np.int64})
    except (ValueError, TypeError, pd.errors.ParserError) as err:
        raise InputError(
            f"{source}: not a BED file (expected tab-separated chrom, start, end): {err}"
        ) from err
    return frame.reset_index(drop=True)


def chromosome_style(chroms: Iterable[str]) -> str:
    """``"ucsc"`` (chr1), ``"ensembl"`` (1) or ``"unknown"`` for a set of chromosome names."""
    unique = set(map(str, chroms))
    if unique & UCSC_STANDARD:
        return "ucsc"
    if unique & ENSEMBL_STANDARD:
        return "ensembl"
    return "unknown"


def is_standard_chromosome(
    chroms: Sequence[str] | pd.Series, standard: Iterable[str] = UCSC_STANDARD
) -> np.ndarray:
    """Boolean mask: the standard chromosomes (default chr1-22, chrX, chrY; UCSC names)."""
    return pd.Series(np.asarray(chroms, dtype=str)).isin(frozenset(standard)).to_numpy()


def check_same_naming(chroms_a: Iterable[str], what_a: str, chroms_b: Iterable[str], what_b: str):
    """Raise a specific error when two sources name chromosomes differently (``1`` vs ``chr1``)."""
    style_a, style_b = chromosome_style(chroms_a), chromosome_style(chroms_b)
    if "unknown" in (style_a, style_b) or style_a == style_b:
        return
    ucsc, ensembl = (what_a, what_b) if style_a == "ucsc" else (what_b, what_a)
    raise InputError(
        f"chromosome naming differs: {ucsc} uses UCSC names ('chr1', 'chrX') but {ensembl} uses "
        "Ensembl names ('1', 'X'). Rename one of them so both agree: genepeak works in UCSC "
        "names, so add the 'chr' prefix to the Ensembl-named input (and 'MT' -> 'chrM'), "
        "e.g. with genepeak.io.peaks.to_ucsc(names)."
    )


def require_ucsc(chroms: Iterable[str], what: str) -> None:
    """Raise when ``chroms`` use Ensembl names, which the standard-chromosome filter would drop."""
    if chromosome_style(chroms) == "ensembl":
        raise InputError(
            f"{what} uses Ensembl chromosome names ('1', 'X') but genepeak expects UCSC names "
            "('chr1', 'chrX'), so keeping only chr1-22, X, Y would drop every peak. Add the 'chr' "
            "prefix (and 'MT' -> 'chrM'), e.g. with genepeak.io.peaks.to_ucsc(names), or set "
            "PrepareConfig(standard_chromosomes_only=False)."
        )


def to_ucsc(chroms: Sequence[str]) -> list[str]:
    """Ensembl chromosome names to UCSC names (``1`` -> ``chr1``, ``MT`` -> ``chrM``)."""
    out = []
    for chrom in map(str, chroms):
        if chrom.startswith("chr"):
            out.append(chrom)
        elif chrom == "MT":
            out.append("chrM")
        else:
            out.append(f"chr{chrom}")
    return out


def overlaps_any(peaks: pd.DataFrame, regions: pd.DataFrame) -> np.ndarray:
    """Boolean mask: which peaks overlap at least one region (both 0-based half-open)."""
    hit = np.zeros(len(peaks), dtype=bool)
    peak_chrom = peaks["chrom"].astype(str).to_numpy()
    for chrom, group in regions.groupby("chrom", sort=False):
        rows = np.flatnonzero(peak_chrom == chrom)
        if rows.size == 0:
            continue
        order = np.argsort(group["start"].to_numpy(), kind="stable")
        starts = group["start"].to_numpy()[order]
        # running max of ends makes the "any region starting before my end reaches my start" test exact
        max_end = np.maximum.accumulate(group["end"].to_numpy()[order])
        p_start = peaks["start"].to_numpy()[rows]
        p_end = peaks["end"].to_numpy()[rows]
        last = np.searchsorted(starts, p_end, side="left") - 1
        ok = last >= 0
        hit[rows[ok]] = max_end[last[ok]] > p_start[ok]
    return hit
