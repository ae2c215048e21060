"""Speed of explanation (issue 10.5): population link scores and Monte-Carlo passes of one cell.

(a) ``genepeak.explain.link_scores`` for one gene in a population of 1,000 cells with 20
    matched null genes (the population perturbations, the calibration and the reference-design
    flips), on a GPG with a cis layer trained on ``simulate --shape small``; target < 30 s on
    two CPU cores. Beside it, the parts: ``population_effects`` of the gene and 20 other genes
    in 1,000 expressing cells (the issue's unit of work), the threshold and the flips.
(b) ``perturb.flips_for_rows`` on one row with ``n_passes=100``; target < 0.1 s.

Both for the small preset (trained to its early stop) and, with ``--presets small,reference``,
for a GPG of the reference preset's shape (hidden [1024], latent 256; trained a few epochs
only: the time of a forward pass does not depend on how well the model fits). The machine's
load average (``os.getloadavg``) is printed beside every number, with the process CPU time:
on a shared machine wall time grows with the load, CPU time much less. ``--profile`` prints
the hottest functions of (a).

    python benchmarks/explain_speed.py [--presets small,reference] [--threads 2] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("GENEPEAK_QUIET", "1")

TARGET_POPULATION_S = 30.0
TARGET_ONE_CELL_S = 0.1


def load_text() -> str:
    """The 1-, 5- and 15-minute load averages, as ``load 5.2/4.9/4.1``."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}/{fifteen:.1f} on {os.cpu_count()} cores"


def timed(fn):
    """(result, wall seconds, process CPU seconds, load before, load after) of ``fn()``."""
    before = load_text()
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return result, wall, cpu, before, load_text()


def prepared_data(folder: Path, shape: str, seed: int):
    """Simulate and prepare once; later runs read ``folder/prepared.h5mu``."""
    import mudata

    from genepeak.config import PrepareConfig
    from genepeak.prepare.pipeline import prepare
    from genepeak.simulate import simulate

    path = folder / f"{shape}_seed{seed}_prepared.h5mu"
    truth = folder / f"{shape}_seed{seed}_links.tsv"
    if path.is_file() and truth.is_file():
        return mudata.read_h5mu(path), pd.read_csv(truth, sep="\t")
    sim = simulate(folder / f"{shape}_seed{seed}", shape=shape, seed=seed)
    config = PrepareConfig(gene_annotation=str(sim.annotation_path), seed=seed, compute_umap=False)
    mdata = prepare(sim.out_dir, config, out=path)
    pd.read_csv(sim.links_path, sep="\t").to_csv(truth, sep="\t", index=False)
    return mdata, pd.read_csv(truth, sep="\t")


def trained_gpg(mdata, folder: Path, preset_name: str, cis_window: int, epochs: int | None):
    """Train once on one thread (shared cores: contending threads slow training most); cached."""
    from genepeak.config import preset
    from genepeak.models import GPG, load

    path = folder / f"gpg_{preset_name}_cis{cis_window}_epochs{epochs}"
    if (path / "config.json").is_file():
        return load(path, mdata)
    model_config, train_config = preset("gpg", small=preset_name == "small")
    model_config.cis_window = cis_window
    train_config.num_threads = 1
    if epochs is not None:
        train_config.epochs = epochs
    model = GPG(mdata, model_config=model_config, train_config=train_config).train()
    model.save(path)
    return model


def busiest_driver(mdata, truth: pd.DataFrame, n_cells: int) -> str:
    """The planted driver expressed in the most cells (at least ``n_cells`` when one is)."""
    rna = mdata.mod["rna"]
    drivers = [g for g in pd.unique(truth.loc[truth["effect"] != 0, "gene"]) if g in rna.var_names]
    expressing = np.asarray((rna[:, drivers].X > 0).sum(axis=0)).ravel()
    best = int(np.argmax(expressing))
    if expressing[best] < n_cells:
        print(f"note: no driver is expressed in {n_cells} cells; the most is {expressing[best]}")
    return drivers[best]


def population_timing(model, mdata, gene: str, n_cells: int, n_null: int, profile: bool):
    """Time link_scores for one gene in ``n_cells`` cells (optionally under cProfile)."""
    from genepeak.config import ExplainConfig
    from genepeak.explain import link_scores

    config = ExplainConfig(n_null_genes=n_null, link_max_cells=n_cells)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    table, wall, cpu, before, after = timed(
        lambda: link_scores(model, mdata, [gene], config=config)
    )
    if profiler:
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        print(f"  profile of link_scores ({gene}), top 18 by cumulative time:")
        stats.print_stats(18)
    cells = int(table["n_cells"].iloc[0])
    return cells, wall, cpu, before, after


def stage_timings(model, mdata, gene: str, n_cells: int, n_null: int) -> dict[str, float]:
    """Wall seconds of the parts: the issue's unit of work, threshold, flips.

    The unit: ``population_effects`` of the gene and ``n_null`` other expressed genes in
    ``n_cells`` expressing cells (21 perturbations of 1,000 cells), whatever pool of null
    genes ``link_scores`` itself perturbs.
    """
    from genepeak.config import ExplainConfig
    from genepeak.explain import linking, perturb, values

    config = ExplainConfig()
    rng = np.random.default_rng(0)
    rna = mdata.mod["rna"]
    x = values.model_rows(rna, [str(g) for g in model.genes], list(rna.obs_names))
    column = values.gene_indices(model, mdata, [gene])[0]
    cells = x[x[:, column] > 0][:n_cells]
    others = np.setdiff1d(np.flatnonzero((cells > 0).any(axis=0)), [column])
    columns = np.concatenate([[column], rng.choice(others, n_null, replace=False)])
    out = {}
    start = time.perf_counter()
    threshold = perturb.choose_threshold(model, mdata, seed=0)
    out["choose_threshold"] = time.perf_counter() - start
    start = time.perf_counter()
    linking.population_effects(model, cells, columns)
    out[f"population_effects ({len(cells)} cells x {len(columns)} genes)"] = (
        time.perf_counter() - start
    )
    rows = cells[: config.link_flip_cells]
    silenced = rows.copy()
    silenced[:, column] = 0.0
    start = time.perf_counter()
    baseline = perturb.deterministic_rows(model, rows)
    perturb.flips_for_rows(
        model, silenced, baseline, config.link_flip_passes, threshold, config.margin
    )
    out[f"flips ({len(rows)} cells x {config.link_flip_passes} passes)"] = (
        time.perf_counter() - start
    )
    return out


def one_cell_timing(model, mdata, gene: str, n_passes: int, repeats: int):
    """Median wall seconds of flips_for_rows on one silenced row, ``n_passes`` passes."""
    from genepeak.explain import perturb, values

    rna = mdata.mod["rna"]
    column = values.gene_indices(model, mdata, [gene])[0]
    x = values.model_rows(rna, [str(g) for g in model.genes], list(rna.obs_names[:200]))
    row = x[np.argmax(x[:, column])][None].copy()
    baseline = perturb.deterministic_rows(model, row)[0]
    row[0, column] = 0.0

    def once():
        return perturb.flips_for_rows(model, row, baseline, n_passes, 0.5, 0.1)

    once()  # warm-up: first calls pay for allocations and thread start
    walls, cpus = [], []
    before = load_text()
    for _ in range(repeats):
        _, wall, cpu, _, _ = timed(once)
        walls.append(wall)
        cpus.append(cpu)
    return float(np.median(walls)), float(np.median(cpus)), before, load_text()


def verdict(seconds: float, target: float) -> str:
    return "meets" if seconds < target else "MISSES"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--presets", default="small", help="small, reference or small,reference")
    parser.add_argument("--cis-window", type=int, default=1_000_000)
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--null-genes", type=int, default=20)
    parser.add_argument("--passes", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=20, help="repeats of the one-cell timing")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of every prediction (default: genepeak's choice, which is 1 when "
        "other processes keep the cores busy)",
    )
    parser.add_argument("--reference-epochs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "explain_speed"))
    args = parser.parse_args()

    import torch

    from genepeak._utils import seed_everything

    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    folder = Path(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"[1/4] data: simulate --shape {args.shape} --seed {args.seed} + prepare ({load_text()})")
    (mdata, truth), wall, _, _, _ = timed(lambda: prepared_data(folder, args.shape, args.seed))
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    print(f"      {mdata.n_obs} cells x {rna.n_vars} genes x {atac.n_vars} peaks ({wall:.0f} s)")
    gene = busiest_driver(mdata, truth, args.cells)
    print(f"      gene {gene}: expressed in {int((rna[:, gene].X > 0).sum())} cells")
    rows = []
    for step, name in enumerate(args.presets.split(","), start=2):
        epochs = args.reference_epochs if name == "reference" else None
        print(f"[{step}/4] train GPG {name} preset, cis_window={args.cis_window:,} ({load_text()})")
        model, wall, _, _, _ = timed(
            lambda n=name, e=epochs: trained_gpg(mdata, folder, n, args.cis_window, e)
        )
        model.train_config.num_threads = args.threads  # every prediction's threads (None: auto)
        n_params = sum(p.numel() for p in model.module.parameters())
        cis = getattr(model.module, "cis", None)
        print(
            f"      {n_params / 1e6:.1f} M parameters, {cis.n_pairs if cis else 0:,} cis pairs, "
            f"{len(model.history)} epochs in {wall:.0f} s"
        )
        print(f"      (a) link_scores: {args.cells} cells x (1 + {args.null_genes}) genes ...")
        cells, wall, cpu, before, after = population_timing(
            model, mdata, gene, args.cells, args.null_genes, args.profile
        )
        print(
            f"      (a) {wall:.2f} s wall, {cpu:.2f} s CPU ({cells} of the cells express it) "
            f"[{verdict(wall, TARGET_POPULATION_S)} < {TARGET_POPULATION_S:.0f} s] "
            f"({before} -> {after})"
        )
        for stage, seconds in stage_timings(
            model, mdata, gene, args.cells, args.null_genes
        ).items():
            print(f"          {stage}: {seconds:.2f} s")
        wall1, cpu1, before1, after1 = one_cell_timing(
            model, mdata, gene, args.passes, args.repeats
        )
        print(
            f"      (b) {args.passes} passes, one cell: {wall1 * 1000:.1f} ms wall, "
            f"{cpu1 * 1000:.1f} ms CPU (median of {args.repeats}) "
            f"[{verdict(wall1, TARGET_ONE_CELL_S)} < {TARGET_ONE_CELL_S * 1000:.0f} ms] "
            f"({before1} -> {after1})"
        )
        rows.append(
            dict(
                preset=name,
                params_M=round(n_params / 1e6, 2),
                cells=cells,
                population_wall_s=round(wall, 2),
                population_cpu_s=round(cpu, 2),
                one_cell_ms=round(wall1 * 1000, 1),
                load_after=after,
            )
        )
    from genepeak.train.loop import idle_cores

    threads = args.threads or f"auto ({idle_cores()} now)"
    print(f"[4/4] summary (torch threads: {threads})")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
