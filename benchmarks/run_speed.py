"""Time ``genepeak run`` end to end, step by step, with its peak memory, against the targets.

    python benchmarks/run_speed.py                        # the built-in data (genepeak run)
    python benchmarks/run_speed.py --shape medium --seed 7    # a 3,000-cell ARC folder
    python benchmarks/run_speed.py --shape pbmc10k --seed 1   # a PBMC-10k-shape ARC folder
    python benchmarks/run_speed.py --input ARC_OUTS_FOLDER

``--shape small`` runs ``genepeak run`` on its built-in data (simulated inside the run, as a new
user's first command does). Other shapes are simulated first in a child process, not timed,
and reused when present; then ``genepeak run --input`` runs in a child process. Prints each
step's seconds (the run's ``timings.json``), the wall-clock total and the child's peak resident
memory, beside issue 28's targets for 2 CPU cores: built-in and 3,000 cells under 5 min, the
PBMC-10k shape under 15 min and 4 GiB (docs/speed.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

#: runs argv[2:] and writes its peak resident memory (KiB) to argv[1]
MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[2:], check=True); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))"
)
#: (seconds, GiB or None) per shape
TARGETS = {"small": (300, None), "medium": (300, None), "pbmc10k": (900, 4.0)}


def genepeak_command() -> list[str]:
    """The installed ``genepeak`` script, else the CLI module of this interpreter."""
    found = shutil.which("genepeak")
    return (
        [found]
        if found
        else [sys.executable, "-c", "import sys; from genepeak.cli import main; sys.exit(main())"]
    )


def simulated_input(work: Path, shape: str, seed: int) -> Path:
    """An ARC-like folder of ``shape`` (simulated once, reused after)."""
    folder = work / f"{shape}_{seed}"
    if not (folder / "filtered_feature_bc_matrix.h5").is_file():
        command = [*genepeak_command(), "simulate", "--shape", shape, "--seed", str(seed)]
        subprocess.run([*command, "--out", str(folder)], check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="small", choices=sorted(TARGETS))
    parser.add_argument("--seed", type=int, default=0, help="the simulation's and the run's")
    parser.add_argument("--input", help="an ARC outs folder (or .h5 / .h5mu) to run on")
    parser.add_argument("--dir", default="/tmp/genepeak_run_speed")
    args = parser.parse_args()
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"run_{args.shape}_{args.seed}"
    command = [*genepeak_command(), "run", "--out", str(out), "--seed", str(args.seed)]
    if args.input:
        command += ["--input", args.input]
    elif args.shape != "small":
        command += ["--input", str(simulated_input(work, args.shape, args.seed))]
    peak_file = work / "peak_rss_kib.txt"
    start = time.perf_counter()
    # measured in a child of its own: the simulation's memory is not counted
    subprocess.run([sys.executable, "-c", MEASURE, str(peak_file), *command], check=True)
    total = time.perf_counter() - start
    peak_gib = int(peak_file.read_text()) / 2**20  # Linux reports KiB
    timings = json.loads((out / "timings.json").read_text())
    seconds, gib = TARGETS[args.shape] if not args.input else (None, None)
    print(f"\ngenepeak run ({args.input or args.shape}, seed {args.seed})")
    for step, value in timings.items():
        print(f"  {step:<70} {value:8.1f} s")
    target = f" (target {seconds // 60} min)" if seconds else ""
    print(f"  {'total, wall clock':<70} {total:8.1f} s = {total / 60:.1f} min{target}")
    target = f" (target {gib} GiB)" if gib else ""
    print(f"  {'peak resident memory':<70} {peak_gib:8.2f} GiB{target}")


if __name__ == "__main__":
    main()
