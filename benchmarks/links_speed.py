"""Time ``genepeak links`` genome-wide (every HVG, all cells and each Leiden group) at
PBMC-10k shape and report its peak memory, beside the figure Signac users report.

    python benchmarks/links_speed.py [--shape pbmc10k] [--dir /tmp/genepeak_bench] [--seed 1]
    python benchmarks/links_speed.py --data PREPARED.h5mu [--groupby leiden]

Without ``--data`` the folder is simulated and prepared in a child process (its memory is
not counted). The scoring runs here, as ``genepeak links --genes hvg --groupby leiden
--skip-small-groups`` does (the files are not written). Prints the size, the pairs tested, the
seconds per population and in all, and this process's peak resident memory. The anchor:
Signac users report "several hours" for LinkPeaks on 26 k genes x 120 k peaks
(docs/links.md, "Speed"); issue 26's target is 5 minutes and 4 GiB for 2,000 HVGs at this size
on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS, TARGET_GIB = 300, 4.0


def prepared_in_child(work: Path, shape: str, seed: int) -> Path:
    """Simulate and prepare in a child process; reuse the file when it is there."""
    out = work / f"prepared_{shape}_{seed}.h5mu"
    if out.is_file():
        print(f"prepared data: reusing {out}")
        return out
    sim = work / f"sim_{shape}_{seed}"
    code = (
        "from genepeak.simulate import simulate; from genepeak.prepare.pipeline import prepare; "
        f"simulate({str(sim)!r}, shape={shape!r}, seed={seed}); "
        f"prepare({str(sim)!r}, out={str(out)!r})"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    print(f"simulate and prepare: {time.perf_counter() - start:.1f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="pbmc10k")
    parser.add_argument("--dir", default="/tmp/genepeak_bench")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", help="an existing prepared .h5mu instead of simulating")
    parser.add_argument("--groupby", default="leiden")
    args = parser.parse_args()
    data = (
        Path(args.data) if args.data else prepared_in_child(Path(args.dir), args.shape, args.seed)
    )

    import mudata

    from genepeak._utils import peak_rss_gib
    from genepeak.links.genome import LinkOptions, link_genes

    mudata.set_options(pull_on_update=False)
    mdata = mudata.read_h5mu(data)
    loaded = peak_rss_gib()
    options = LinkOptions(skip_small_groups=True)
    result = link_genes(mdata, "hvg", groupby=args.groupby, options=options, key_added=None)
    seconds, peak = result.seconds["total"], peak_rss_gib()
    print(f"data: {mdata.n_obs:,} cells x {mdata.mod['atac'].n_vars:,} peaks, {data}")
    print(
        f"genes: {result.params['n_genes']:,} HVGs; pairs within 1 Mb per population: "
        f"{len(result.links) // result.links['group'].nunique():,}"
    )
    for group, spent in result.seconds.items():
        print(f"  {group:<12s} {spent:7.1f} s")
    print(f"calls over all cells: {len(result.called('all')):,}")
    if peak is None:  # no peak RSS on this platform
        peak = loaded = float("nan")
    print(f"peak RSS: {peak:.2f} GiB (after reading the data: {loaded:.2f} GiB)")
    print(
        f"target: {TARGET_SECONDS} s and {TARGET_GIB} GiB -> "
        f"{'met' if seconds <= TARGET_SECONDS and peak <= TARGET_GIB else 'MISSED'}"
    )
    print('anchor: Signac users report "several hours" for 26 k genes x 120 k peaks')
    print(f"CPU cores visible: {os.cpu_count()}")


if __name__ == "__main__":
    main()
