"""Every gene -> peak link method against the simulator's planted links, per seed.

Runs ``genepeak.benchmark.benchmark_links`` (the ``genepeak benchmark-links`` command) and
prints, per setting, each method's pooled AUPRC, mean per-driver AUPRC, precision@10,
precision@planted and the fraction of drivers won, then the per-driver AUPRC of each method
and the wall time. Choose settings on seeds 0-2; report on seeds >= 3 (issue 10).

    python benchmarks/link_benchmark.py [--shape small] [--seeds 0 1 2] [--link-strength 1.0]
        [--data-only] [--out /tmp/link_benchmark]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import pandas as pd

os.environ.setdefault("GENEPEAK_QUIET", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--link-strength", type=float, nargs="+", default=[1.0])
    parser.add_argument("--preset", choices=["small", "reference"], default="small")
    parser.add_argument("--data-only", action="store_true", help="skip the model's methods")
    parser.add_argument("--out", help="output folder (default: a temporary one)")
    args = parser.parse_args()

    from genepeak.benchmark import benchmark_links

    out = args.out or tempfile.mkdtemp(prefix="link_benchmark_")
    start = time.perf_counter()
    result = benchmark_links(
        out,
        shape=args.shape,
        seeds=args.seeds,
        link_strengths=args.link_strength,
        preset=args.preset,
        model_methods=not args.data_only,
    )
    seconds = time.perf_counter() - start
    print(result.format())
    per_driver = result.per_driver.pivot_table(
        index=["seed", "link_strength", "gene"], columns="method", values="auprc", sort=False
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(per_driver.to_string(float_format=lambda v: f"{v:.3f}"))
    timing = result.table.groupby("method", sort=False)["seconds"].mean()
    print("scoring seconds per setting:", {m: round(float(s), 2) for m, s in timing.items()})
    print(f"total {seconds:.0f} s; tables in {out}")


if __name__ == "__main__":
    main()
