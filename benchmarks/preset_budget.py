"""How the ``fast`` presets' cell-pass budget was chosen: validation loss against training time.

Simulates and prepares one tuning data set (never one that is reported on), trains each
``fast`` preset (GPG, PGP, Dual VAE) for its full epoch budget with early stopping off, and
prints, per epoch, the cumulative training seconds, the cell passes so far and the validation
objective relative to the best the run reached. A budget is then the fewest cell passes at
which every architecture is within a tolerance of its own best.

    python benchmarks/preset_budget.py --shape medium --seed 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from genepeak.config import PrepareConfig, preset
from genepeak.models import GPG, PGP, DualVAE
from genepeak.prepare.pipeline import prepare
from genepeak.simulate import simulate

MODELS = {"gpg": GPG, "pgp": PGP, "dual": DualVAE}


def curves(mdata, seed: int) -> pd.DataFrame:
    """Per architecture and epoch: seconds, cell passes, validation objective."""
    rows = []
    for name, cls in MODELS.items():
        model_config, train_config = preset(name, small=True)
        train_config.seed, train_config.early_stopping_patience = seed, None
        model = cls(mdata, model_config=model_config, train_config=train_config)
        start = time.perf_counter()
        model.train()
        seconds = time.perf_counter() - start
        history = model.history
        n_train = len(model.split["train"])
        epochs = len(history)
        for i, row in enumerate(history.itertuples()):
            rows.append(
                {
                    "model": name,
                    "epoch": i + 1,
                    "seconds": seconds * (i + 1) / epochs,
                    "cell_passes": n_train * (i + 1),
                    "val_objective": float(row.val_objective),
                }
            )
    table = pd.DataFrame(rows)
    best = table.groupby("model")["val_objective"].transform("min")
    table["above_best"] = table["val_objective"] / best - 1.0
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="medium")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sim = simulate(Path(tmp) / "sim", shape=args.shape, seed=args.seed)
        config = PrepareConfig(gene_annotation=str(sim.annotation_path), seed=args.seed)
        mdata = prepare(sim.out_dir, config)
    print(f"{args.shape} seed {args.seed}: {mdata.n_obs} cells")
    table = curves(mdata, args.seed)
    with pd.option_context("display.max_rows", None, "display.width", 140):
        print(table.round(4).to_string(index=False))
    within = table[table["above_best"] <= args.tolerance]
    first = within.groupby("model").first()[["epoch", "seconds", "cell_passes"]]
    print(f"\nfirst epoch within {args.tolerance:.0%} of each model's best validation objective:")
    print(first.to_string())


if __name__ == "__main__":
    main()
