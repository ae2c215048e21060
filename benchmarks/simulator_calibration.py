"""Compare the simulator's count statistics with the real multiome subsets in ../shared/data.

Usage: python benchmarks/simulator_calibration.py [--shape pbmc3k] [--seed 0] [--out DIR]

The real subsets hold fewer features than a whole genome, so every comparison is made on a
matched feature set drawn from the simulation:

- ``pbmc10k_multiome_100cells`` (10,000 genes and 10,000 peaks drawn at random from PBMC 10k
  multiome; 100 cells): compared with 100 random cells x 10,000 random genes / peaks of a
  full-genome simulation (``pbmc3k`` or ``pbmc10k`` shape).
- ``pbmc_multiome_1k_markers`` (45 marker genes, the 174 peaks around them; 1,000 cells):
  compared with the same 45 genes of the simulation and its peaks within 100 kb of them.
- ``bmmc_neurips2021_500cells`` (bone marrow, 600 selected genes / 600 peaks; a different
  tissue, shown for scale): compared with 600 simulated genes matched one to one on mean
  count (so only the shape of the count distribution is compared) and 600 random peaks.

Printed per row: median library size, fraction of zeros, median features detected per cell,
fraction of non-zero values equal to 1 (RNA) or 2 (ATAC, one fragment), and the fraction of
features detected in >= 3% of cells (the peak filter of the preparation).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def matrix_stats(x: sp.spmatrix, one: int) -> dict[str, float]:
    """Per-cell and per-feature summaries of a cells x features count matrix."""
    x = sp.csr_matrix(x)
    library = np.asarray(x.sum(1)).ravel()
    detected = np.diff(x.indptr)
    frac = np.asarray((x > 0).mean(0)).ravel()
    return {
        "cells": x.shape[0],
        "features": x.shape[1],
        "median_library": float(np.median(library)),
        "frac_zeros": 1.0 - x.nnz / (x.shape[0] * x.shape[1]),
        "median_detected": float(np.median(detected)),
        f"frac_values_eq_{one}": float(np.mean(x.data == one)) if x.nnz else np.nan,
        "frac_features_ge_3pct": float(np.mean(frac >= 0.03)),
    }


def filtered_shape(rna, gene_names, atac, peak_names) -> tuple[int, int, int]:
    """Cells x genes x peaks left by the default preparation's filters (no embedding).

    MT fraction <= 25%, RPS/RPL fraction <= 15%, >= 100 genes per cell; genes in >= 3 kept
    cells; peaks on chr1-22, X, Y open in >= 3% of kept cells.
    """
    names = pd.Series(gene_names)
    total = np.asarray(rna.sum(1)).ravel().astype(float)
    mt = np.asarray(rna[:, np.flatnonzero(names.str.startswith("MT-"))].sum(1)).ravel() / total
    ribo = np.asarray(rna[:, np.flatnonzero(names.str.match(r"^RP[SL]"))].sum(1)).ravel() / total
    keep = (mt <= 0.25) & (ribo <= 0.15) & (np.diff(rna.indptr) >= 100)
    genes = np.asarray((rna[keep] > 0).sum(0)).ravel() >= 3
    standard = pd.Series(peak_names).str.match(r"^chr(\d+|X|Y):").to_numpy()
    peaks = standard & (np.asarray((atac[keep] > 0).mean(0)).ravel() >= 0.03)
    return int(keep.sum()), int(genes.sum()), int(peaks.sum())


def read_simulation(out: Path):
    import h5py

    with h5py.File(out / "filtered_feature_bc_matrix.h5") as f:
        m = f["matrix"]
        n_features, n_cells = m["shape"][:]
        x = sp.csr_matrix(
            (m["data"][:], m["indices"][:], m["indptr"][:]), shape=(n_cells, n_features)
        )
        kind = m["features/feature_type"][:].astype(str)
        names = m["features/name"][:].astype(str)
    genes = kind == "Gene Expression"
    return x[:, genes], names[genes], x[:, ~genes], names[~genes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="pbmc3k")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="keep the simulation here")
    args = parser.parse_args(argv)

    import anndata as ad
    import mudata as md

    from genepeak.simulate import simulate

    tmp = tempfile.TemporaryDirectory()
    out = Path(args.out or tmp.name) / f"sim_{args.shape}"
    if not (out / "filtered_feature_bc_matrix.h5").exists():
        simulate(out, shape=args.shape, seed=args.seed)
    rna, gene_names, atac, peak_names = read_simulation(out)
    rng = np.random.default_rng(0)
    rows = []

    def add(dataset: str, modality: str, x, one: int):
        rows.append({"dataset": dataset, "modality": modality, **matrix_stats(x, one)})

    def sample(x, n_cells, n_features):
        cells = rng.choice(x.shape[0], min(n_cells, x.shape[0]), replace=False)
        feats = rng.choice(x.shape[1], min(n_features, x.shape[1]), replace=False)
        return x[cells][:, feats]

    add(f"sim {args.shape} (all features)", "RNA", rna, 1)
    add(f"sim {args.shape} (all features)", "ATAC", atac, 2)

    folder = DATA / "pbmc10k_multiome_100cells"
    if folder.exists():
        r = ad.read_h5ad(folder / "10xpbmc_rna_subset.h5ad")
        a = ad.read_h5ad(folder / "10xpbmc_atac_subset.h5ad")
        add("real pbmc10k 100 cells", "RNA", r.X, 1)
        add(f"sim {args.shape} 100 cells, 10k random", "RNA", sample(rna, 100, r.n_vars), 1)
        add("real pbmc10k 100 cells", "ATAC", a.X, 2)
        add(f"sim {args.shape} 100 cells, 10k random", "ATAC", sample(atac, 100, a.n_vars), 2)

    folder = DATA / "pbmc_multiome_1k_markers"
    if folder.exists():
        m = md.read_h5mu(folder / "pbmc_1k_markers.h5mu")
        markers = list(m["rna"].var_names)
        keep = np.flatnonzero(np.isin(gene_names, markers))
        add("real pbmc 1k, 45 markers", "RNA", m["rna"].X, 1)
        add(
            f"sim {args.shape}, same {len(keep)} markers",
            "RNA",
            sample(rna[:, keep], 1000, len(keep)),
            1,
        )
        annotation = pd.read_csv(out / "gene_annotation.tsv", sep="\t")
        annotation = annotation[annotation["gene"].isin(markers)]
        parts = pd.Series(peak_names).str.extract(r"^(.+):(\d+)-(\d+)$")
        centre = (parts[1].astype(int) + parts[2].astype(int)) // 2
        near = np.zeros(len(peak_names), bool)
        for gene in annotation.itertuples():
            near |= (parts[0] == gene.chrom).to_numpy() & (
                np.abs(centre - gene.tss) <= 100_000
            ).to_numpy()
        add("real pbmc 1k, 174 peaks near markers", "ATAC", m["atac"].X, 2)
        add(
            f"sim {args.shape}, {near.sum()} peaks near markers",
            "ATAC",
            sample(atac[:, np.flatnonzero(near)], 1000, near.sum()),
            2,
        )

    folder = DATA / "bmmc_neurips2021_500cells"
    if folder.exists():
        r = ad.read_h5ad(folder / "starter.output_rna.h5ad")
        a = ad.read_h5ad(folder / "starter.output_mod2.h5ad")
        add("real bmmc 500 cells (other tissue)", "RNA", r.layers["counts"], 1)
        sub = rna[rng.choice(rna.shape[0], min(500, rna.shape[0]), replace=False)]
        sim_mean = np.asarray(sub.mean(0)).ravel()
        real_mean = np.asarray(sp.csr_matrix(r.layers["counts"]).mean(0)).ravel()
        order = np.argsort(sim_mean)
        pick = np.clip(np.searchsorted(sim_mean[order], real_mean), 0, len(order) - 1)
        matched = np.unique(order[pick])
        add(f"sim {args.shape} 500 cells, {len(matched)} mean-matched", "RNA", sub[:, matched], 1)
        add("real bmmc 500 cells (other tissue)", "ATAC", a.layers["counts"], 2)
        add(
            f"sim {args.shape} 500 cells, {a.n_vars} random", "ATAC", sample(atac, 500, a.n_vars), 2
        )

    kept = filtered_shape(rna, gene_names, atac, peak_names)
    print(
        f"sim {args.shape}: {rna.shape[0]} cells x {rna.shape[1]} genes x {atac.shape[1]} peaks; "
        f"after the default filters {kept[0]} x {kept[1]} x {kept[2]}"
    )
    table = pd.DataFrame(rows)
    with pd.option_context(
        "display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format
    ):
        for modality in ("RNA", "ATAC"):
            print(
                table[table["modality"] == modality].drop(columns="modality").to_string(index=False)
            )
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
