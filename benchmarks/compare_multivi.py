"""genepeak GPG against scvi-tools MultiVI: same prepared cells, same split, same machine.

Both train on the training cells of genepeak's stratified split (MultiVI draws its own
early-stopping cells from them and trains to its own early stopping). Every few epochs each is
scored on the test cells: per-peak AUROC of RNA -> ATAC (ATAC > 0 as truth), with pooled
AUROC and per-peak AUPRC beside it; the scoring time is left out of the training time. Prints
both curves, the baselines, MultiVI's plateau and genepeak's time to reach it as a ratio of
MultiVI's. Needs the ``compare`` extra (scvi-tools) for the MultiVI half. Examples::

    python benchmarks/compare_multivi.py --data out/prepared.h5mu
    python benchmarks/compare_multivi.py --simulate small --seed 3 --preset small
    python benchmarks/compare_multivi.py --data out/prepared.h5mu --skip-multivi
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("GENEPEAK_QUIET", "1")

CURVE_COLUMNS = ["model", "epoch", "train_s", "auroc_per_peak", "auprc_per_peak", "auroc"]


def peak_scores(mdata, cells, predicted: np.ndarray) -> dict[str, float]:
    """Per-peak / pooled ranking scores of predicted peaks of ``cells`` (truth: count > 0)."""
    from genepeak.evaluate import _data, metrics

    scores = metrics.ranking_scores(_data.peaks_open(mdata, cells), predicted)
    return {k: scores[k] for k in ("auroc_per_peak", "auprc_per_peak", "auroc")}


def warm_up_imports() -> None:
    """Pay once, outside the clocks, the imports torch's first optimizer triggers (~3-8 s).

    Both libraries build torch optimizers; whichever trains first would otherwise be charged.
    """
    import torch

    torch.optim.Adam(torch.nn.Linear(1, 1).parameters())


def genepeak_curve(
    mdata, preset_name: str, small: bool, seed: int, every: int, labels_key: str, **overrides
) -> tuple[pd.DataFrame, object]:
    """Train GPG (the preset, ``overrides`` on top), scoring the test cells every ``every`` epochs.

    The last row (``epoch`` = the kept best epoch) scores the weights training ends with.
    """
    from genepeak.config import preset, to_dict
    from genepeak.models import MODEL_CLASSES
    from genepeak.train.loop import fit, resolve_device

    model_config, train_config = preset(preset_name, small=small)
    options = {**to_dict(train_config), "seed": seed, "labels_key": labels_key, **overrides}
    model = MODEL_CLASSES[model_config.architecture](mdata, model_config=model_config, **options)
    device = resolve_device(model.train_config.device)
    train = model._cell_data(mdata, model.split["train"], device, counts=True)
    val = model._cell_data(mdata, model.split["val"], device, counts=True)
    test = model.split["test"]
    rows, clock = [], {"hooks": 0.0}

    def score(epoch: int, module) -> None:
        if epoch % every:
            return
        started = time.perf_counter()
        seconds = started - clock["start"] - clock["hooks"]
        row = {"epoch": epoch, "train_s": seconds, "final": False}
        rows.append({**row, **peak_scores(mdata, test, model.predict_peaks(cells=test))})
        clock["hooks"] += time.perf_counter() - started

    warm_up_imports()
    clock["start"] = time.perf_counter()
    model.history = fit(model.module, train, val, model.train_config, on_epoch_end=score)
    seconds = time.perf_counter() - clock["start"] - clock["hooks"]
    final = {"epoch": model.history.attrs["best_epoch"], "train_s": seconds, "final": True}
    rows.append({**final, **peak_scores(mdata, test, model.predict_peaks(cells=test))})
    curve = pd.DataFrame(rows).assign(model=f"genepeak {model_config.architecture}")
    return curve, model


def multivi_curve(mdata, split, every: int, max_epochs: int, seed: int) -> pd.DataFrame:
    """Train MultiVI to its own early stopping, scoring the test cells every ``every`` epochs."""
    from genepeak.config import EvaluateConfig
    from genepeak.evaluate.multivi import MultiVIBaseline

    rows = []

    def score(baseline, epoch: int) -> None:
        if epoch % every:
            return
        seconds = time.perf_counter() - baseline.train_started - baseline.callback_seconds
        peaks = baseline.predict_peaks(cells=split["test"])
        row = {"epoch": epoch, "train_s": seconds, "final": False}
        rows.append({**row, **peak_scores(mdata, split["test"], peaks)})

    config = EvaluateConfig(multivi_epochs=max_epochs, seed=seed)
    baseline = MultiVIBaseline(mdata, split, config, on_epoch_end=score)
    final = {"epoch": baseline.epochs_trained, "train_s": baseline.train_seconds, "final": True}
    peaks = baseline.predict_peaks(cells=split["test"])
    rows.append({**final, **peak_scores(mdata, split["test"], peaks)})
    return pd.DataFrame(rows).assign(model="MultiVI")


def time_to_reach(curve: pd.DataFrame, target: float, column: str = "auroc_per_peak"):
    """Training seconds at the first point of ``curve`` with ``column >= target`` (or None)."""
    reached = curve[curve[column] >= target]
    return None if reached.empty else float(reached["train_s"].iloc[0])


def plateau(curve: pd.DataFrame, tolerance: float, column: str = "auroc_per_peak"):
    """MultiVI's plateau: its final value, and the first time within ``tolerance`` of it."""
    value = float(curve[column].iloc[-1])
    return value, time_to_reach(curve, value - tolerance, column)


def summary(ours: pd.DataFrame, theirs: pd.DataFrame, tolerance: float) -> dict[str, float | None]:
    """Plateau of ``theirs``, when ``ours`` reaches it, and the ratio of the two times."""
    value, their_time = plateau(theirs, tolerance)
    our_time = time_to_reach(ours, value)
    ratio = None if our_time is None or not their_time else our_time / their_time
    return {
        "plateau_auroc_per_peak": value,
        "multivi_time_to_plateau_s": their_time,
        "genepeak_time_to_plateau_s": our_time,
        "time_ratio": ratio,
        "genepeak_final_auroc_per_peak": float(ours["auroc_per_peak"].iloc[-1]),
        "genepeak_total_s": float(ours["train_s"].iloc[-1]),
        "multivi_total_s": float(theirs["train_s"].iloc[-1]),
    }


def baseline_scores(mdata, split, labels_key: str, seed: int) -> pd.DataFrame:
    """Per-peak AUROC of the translation baselines on the same test cells."""
    from genepeak.config import EvaluateConfig
    from genepeak.evaluate.baselines import fit_baselines

    fitted = fit_baselines(mdata, split, EvaluateConfig(seed=seed), labels_key)
    rows = []
    for name, baseline in fitted.items():
        if baseline.peak_task is None:
            continue
        peaks = baseline.predict_peaks(mdata, cells=split["test"])
        rows.append({"baseline": name, **peak_scores(mdata, split["test"], peaks)})
    return pd.DataFrame(rows)


def load_data(args):
    """The prepared MuData of ``--data``, or simulate and prepare ``--simulate SHAPE``."""
    import mudata

    if args.data:
        return mudata.read_h5mu(args.data)
    from genepeak.config import PrepareConfig
    from genepeak.prepare.pipeline import prepare
    from genepeak.simulate import simulate

    folder = Path(args.workdir or tempfile.mkdtemp(prefix="genepeak_compare_"))
    sim = simulate(folder / "sim", shape=args.simulate, seed=args.seed)
    config = PrepareConfig(gene_annotation=str(sim.annotation_path), seed=args.seed)
    return prepare(sim.out_dir, config, out=folder / "prepared.h5mu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="a prepared .h5mu (genepeak prepare)")
    source.add_argument("--simulate", choices=("tiny", "small", "pbmc3k"), help="simulate a shape")
    parser.add_argument("--workdir", help="folder for --simulate's files (default: a temp folder)")
    parser.add_argument("--labels-key", default="leiden")
    parser.add_argument("--preset", choices=("reference", "small"), default="reference")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="genepeak's budget (preset's)")
    parser.add_argument("--every", type=int, default=2, help="genepeak epochs between scores")
    parser.add_argument("--multivi-every", type=int, default=10)
    parser.add_argument("--multivi-max-epochs", type=int, default=500)
    parser.add_argument("--plateau-tolerance", type=float, default=0.005)
    parser.add_argument("--skip-multivi", action="store_true")
    parser.add_argument("--out", help="write both curves to this CSV")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for both")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    mdata = load_data(args)
    print(
        f"{mdata.n_obs} cells x {mdata.mod['rna'].n_vars} genes x {mdata.mod['atac'].n_vars} peaks"
    )
    overrides = {} if args.epochs is None else {"epochs": args.epochs}
    if args.threads:
        overrides["num_threads"] = args.threads
    print(f"load average {os.getloadavg()[0]:.2f} (2-core machines are often shared)")
    ours, model = genepeak_curve(
        mdata, "gpg", args.preset == "small", args.seed, args.every, args.labels_key, **overrides
    )
    split = model.split
    print({k: len(v) for k, v in split.items()}, f"(genepeak preset: {args.preset})")
    print(baseline_scores(mdata, split, args.labels_key, args.seed).round(4).to_string(index=False))
    curves = [ours]
    if not args.skip_multivi:
        theirs = multivi_curve(mdata, split, args.multivi_every, args.multivi_max_epochs, args.seed)
        curves.append(theirs)
    table = pd.concat(curves, ignore_index=True)
    print(table[CURVE_COLUMNS + ["final"]].round(4).to_string(index=False))
    if args.out:
        table.to_csv(args.out, index=False)
    if not args.skip_multivi:
        for key, value in summary(ours, theirs, args.plateau_tolerance).items():
            print(f"{key}: {value if value is None else round(value, 4)}")


if __name__ == "__main__":
    main()
