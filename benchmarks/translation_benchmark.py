"""Translation on held-out cells: genepeak's models against every baseline, seed by seed.

For each data set and split seed, trains the chosen architectures on the same stratified split
and scores them with ``genepeak.evaluate`` (the code of the report and ``metrics.json``), beside
every baseline: RNA -> ATAC per-peak AUROC / AUPRC (truth: count > 0) and ATAC -> RNA per-gene
Pearson, test cells only. A reconstruction (GPG's genes, PGP's peaks) is not a translation and
is left out of its column. The last lines give each model's margin over the strongest
baseline of that column, per seed. Examples::

    python benchmarks/translation_benchmark.py --simulate small --seeds 3 4 5
    python benchmarks/translation_benchmark.py --simulate medium --seeds 3 --preset small
    python benchmarks/translation_benchmark.py --data bmmc.h5mu --labels-key cell_type \
        --seeds 0 1 2 --override hidden=[256] latent_dim=32 batch_size=64

``--data`` takes a prepared ``.h5mu`` (``genepeak prepare``); ``--simulate`` simulates and
prepares (truth-free here: only the cells are used). ``--override`` applies ``key=value``
(YAML values) to every model's preset.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

os.environ.setdefault("GENEPEAK_QUIET", "1")


def load(args, seed: int):
    """The prepared MuData of ``--data``, or the simulated ``--simulate`` shape at ``seed``."""
    import mudata

    if args.data:
        return mudata.read_h5mu(args.data)
    from genepeak.config import PrepareConfig
    from genepeak.prepare.pipeline import prepare
    from genepeak.simulate import simulate

    folder = Path(args.workdir or tempfile.mkdtemp(prefix="genepeak_translation_")) / str(seed)
    sim = simulate(folder / "sim", shape=args.simulate, seed=seed)
    config = PrepareConfig(gene_annotation=str(sim.annotation_path), seed=seed)
    return prepare(sim.out_dir, config, out=folder / "prepared.h5mu")


def train(mdata, name: str, small: bool, seed: int, labels_key: str, overrides: dict):
    """One architecture's preset (``overrides`` on top), trained with ``seed``; its seconds."""
    from genepeak.models.registry import architecture

    entry = architecture(name)
    model_config, train_config = entry.preset(small=small)
    started = time.perf_counter()
    model = entry.model_class(
        mdata,
        model_config=model_config,
        train_config=train_config,
        seed=seed,
        labels_key=labels_key,
        **overrides,
    ).train()
    return model, time.perf_counter() - started


def score_seed(mdata, args, seed: int, overrides: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long table (predictor, kind, metric, value, seed) of one split seed, and each model
    against the strongest baseline (``genepeak.evaluate.result.against_baselines``)."""
    from genepeak.config import EvaluateConfig
    from genepeak.evaluate import evaluate
    from genepeak.evaluate.result import TRANSLATION_SCORES, against_baselines

    models, seconds = {}, {}
    for name in args.models:
        models[name], seconds[name] = train(
            mdata, name, args.preset == "small", seed, args.labels_key, overrides
        )
    config = EvaluateConfig(seed=seed, compute_umap=False)
    table = evaluate(mdata, models, config, labels_key=args.labels_key).table
    rows = []
    for predictor, row in table.iterrows():
        kind = "model" if predictor in models else "baseline"
        for column, task in TRANSLATION_SCORES:
            if row.get(task) != "translation" or pd.isna(row.get(column)):
                continue
            rows.append(
                dict(predictor=predictor, kind=kind, metric=column, value=row[column], seed=seed)
            )
    print(f"seed {seed}: training seconds " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
    return pd.DataFrame(rows), against_baselines(table).assign(seed=seed)


def parse_overrides(items: list[str]) -> dict:
    """``["hidden=[256]", "lr=0.001"]`` -> ``{"hidden": [256], "lr": 0.001}`` (YAML values)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--override expects key=value, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="a prepared .h5mu (genepeak prepare)")
    source.add_argument("--simulate", help="simulate a shape: tiny, small, medium, pbmc3k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--models", nargs="+", default=["gpg", "pgp", "dual"])
    parser.add_argument("--preset", choices=("reference", "small"), default="small")
    parser.add_argument("--labels-key", default="leiden")
    parser.add_argument("--override", nargs="*", default=[], help="key=value on every preset")
    parser.add_argument("--workdir", help="folder for --simulate's files (default: a temp folder)")
    parser.add_argument("--out", help="write the long table to this CSV")
    args = parser.parse_args()
    overrides = parse_overrides(args.override)

    tables, verdicts = [], []
    for seed in args.seeds:
        mdata = load(args, seed)
        print(
            f"seed {seed}: {mdata.n_obs} cells x {mdata.mod['rna'].n_vars} genes x "
            f"{mdata.mod['atac'].n_vars} peaks"
        )
        table, against = score_seed(mdata, args, seed, overrides)
        tables.append(table)
        verdicts.append(against)
    scores = pd.concat(tables, ignore_index=True)
    wide = scores.pivot_table(index=["metric", "kind", "predictor"], columns="seed", values="value")
    print(wide.round(4).to_string())
    columns = ["score", "seed", "model", "model_value", "baseline", "baseline_value", "margin"]
    print(pd.concat(verdicts)[columns].round(4).to_string(index=False))
    if args.out:
        scores.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
