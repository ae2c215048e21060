"""Time ``genepeak.prepare`` at PBMC-3k shape and report its peak memory.

    python benchmarks/prepare_speed.py [--shape pbmc3k] [--dir /tmp/genepeak_bench] [--seed 0]
    python benchmarks/prepare_speed.py --input SIMULATED_OR_ARC_OUTS_FOLDER

The simulation runs in a child process (its own memory is not counted); preparation runs
here, with the default PrepareConfig (the reference design), writing the .h5mu and the QC
figures. Prints seconds per step and this process's peak resident memory (the step log
also shows the peak so far after each step).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def simulate_in_child(out_dir: Path, shape: str, seed: int) -> float:
    code = (
        "from genepeak.simulate import simulate; "
        f"simulate({str(out_dir)!r}, shape={shape!r}, seed={seed})"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="pbmc3k")
    parser.add_argument("--dir", default="/tmp/genepeak_bench")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--input", help="prepare this existing outs folder instead of simulating")
    args = parser.parse_args()

    work = Path(args.dir)
    sim_dir = Path(args.input) if args.input else work / f"sim_{args.shape}_{args.seed}"
    if (sim_dir / "filtered_feature_bc_matrix.h5").is_file():
        print(f"simulation: reusing {sim_dir}")
    else:
        print(f"simulation: {simulate_in_child(sim_dir, args.shape, args.seed):.1f} s")

    from genepeak._utils import peak_rss_gib
    from genepeak.outputs import write_prepare_figures
    from genepeak.prepare import timed_step
    from genepeak.prepare.pipeline import prepare

    base_rss = peak_rss_gib()
    timings: dict[str, float] = {}
    start = time.perf_counter()
    mdata = prepare(sim_dir, out=work / f"prepared_{sim_dir.name}.h5mu", timings=timings)
    with timed_step("QC figures", timings):
        write_prepare_figures(mdata, work / f"figures_{sim_dir.name}")
    total = time.perf_counter() - start
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    print(f"input: {sim_dir / 'filtered_feature_bc_matrix.h5'}")
    print(f"prepared: {mdata.n_obs} cells x {rna.n_vars} genes x {atac.n_vars} peaks")
    for step, seconds in timings.items():
        print(f"  {step:<40s} {seconds:7.1f} s")
    print(f"  {'total prepare()':<40s} {total:7.1f} s")
    print(f"peak RSS: {peak_rss_gib():.2f} GiB (after imports: {base_rss:.2f} GiB)")
    print(f"CPU cores visible: {os.cpu_count()}")


if __name__ == "__main__":
    main()
