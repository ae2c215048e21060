"""Compare the simulator's count statistics with the real multiome subsets in ../shared/data.

Usage: python benchmarks/simulator_calibration.py [--shapes small pbmc10k] [--seed 0] [--out DIR]

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
fraction of non-zero values equal to 1 (RNA) or 2 (ATAC, one fragment), the fraction of
features detected in >= 3% of cells (the peak filter of the preparation), and, where cell
types are known (BMMC's annotation; the simulator's true types), two within-type statistics
of the RNA: over every (cell type with >= 20 cells, gene with >= 1 normalised UMI per cell in
that type) pair, the median coefficient of variation of library-normalised counts and the
median overdispersion ``(var - mean) / mean^2`` of the raw counts (0 for Poisson).
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


def within_type_stats(
    x: sp.spmatrix, labels: np.ndarray, min_cells: int = 20, min_mean: float = 1.0
) -> dict[str, float]:
    """Median within-type CV (normalised counts) and overdispersion (raw counts) of RNA."""
    x = sp.csr_matrix(x, dtype=np.float64)
    library = np.asarray(x.sum(1)).ravel()
    normalised = sp.diags(np.median(library) / np.maximum(library, 1)) @ x
    cvs, overdispersion = [], []
    for cell_type in np.unique(labels):
        rows = np.flatnonzero(labels == cell_type)
        if len(rows) < min_cells:
            continue
        norm, raw = normalised[rows].toarray(), x[rows].toarray()
        mean = norm.mean(0)
        keep = mean >= min_mean
        cvs.extend(norm[:, keep].std(0) / mean[keep])
        m, v = raw[:, keep].mean(0), raw[:, keep].var(0)
        overdispersion.extend((v - m) / np.maximum(m, 1e-9) ** 2)
    return {
        "within_type_cv": float(np.median(cvs)) if cvs else np.nan,
        "within_type_overdisp": float(np.median(overdispersion)) if cvs else np.nan,
        "type_gene_pairs": len(cvs),
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


def calibration_rows(shape: str, seed: int, keep: str | None) -> tuple[list[dict], str]:
    """Rows of the calibration table for one simulated shape, and its filtered-shape line."""
    import anndata as ad
    import mudata as md

    from genepeak.simulate import simulate

    tmp = tempfile.TemporaryDirectory()
    out = Path(keep or tmp.name) / f"sim_{shape}_seed{seed}"
    if not (out / "sham_genes.tsv").exists():  # (re)simulate anything older than the shams
        simulate(out, shape=shape, seed=seed)
    rna, gene_names, atac, peak_names = read_simulation(out)
    sim_types = pd.read_csv(out / "cell_types.tsv", sep="\t")["cell_type"].to_numpy()
    rng = np.random.default_rng(0)
    rows = []

    def add(group: int, dataset: str, modality: str, x, one: int, labels=None):
        row = {"group": group, "dataset": dataset, "modality": modality, **matrix_stats(x, one)}
        if labels is not None:
            row |= within_type_stats(x, labels)
        rows.append(row)

    def sample(x, n_cells, n_features):
        cells = rng.choice(x.shape[0], min(n_cells, x.shape[0]), replace=False)
        feats = rng.choice(x.shape[1], min(n_features, x.shape[1]), replace=False)
        return x[cells][:, feats], cells

    add(0, f"sim {shape} (all features)", "RNA", rna, 1, sim_types)
    add(0, f"sim {shape} (all features)", "ATAC", atac, 2)

    folder = DATA / "pbmc10k_multiome_100cells"
    if folder.exists():
        r = ad.read_h5ad(folder / "10xpbmc_rna_subset.h5ad")
        a = ad.read_h5ad(folder / "10xpbmc_atac_subset.h5ad")
        add(1, "real pbmc10k 100 cells", "RNA", r.X, 1)
        sub, _ = sample(rna, 100, r.n_vars)
        add(1, f"sim {shape} 100 cells, {sub.shape[1]} random", "RNA", sub, 1)
        add(1, "real pbmc10k 100 cells", "ATAC", a.X, 2)
        sub, _ = sample(atac, 100, a.n_vars)
        add(1, f"sim {shape} 100 cells, {sub.shape[1]} random", "ATAC", sub, 2)

    folder = DATA / "pbmc_multiome_1k_markers"
    if folder.exists():
        m = md.read_h5mu(folder / "pbmc_1k_markers.h5mu")
        markers = list(m["rna"].var_names)
        chosen = np.flatnonzero(np.isin(gene_names, markers))
        add(2, "real pbmc 1k, 45 markers", "RNA", m["rna"].X, 1)
        sub, _ = sample(rna[:, chosen], 1000, len(chosen))
        add(2, f"sim {shape}, same {len(chosen)} markers", "RNA", sub, 1)
        annotation = pd.read_csv(out / "gene_annotation.tsv", sep="\t")
        annotation = annotation[annotation["gene"].isin(markers)]
        parts = pd.Series(peak_names).str.extract(r"^(.+):(\d+)-(\d+)$")
        centre = (parts[1].astype(int) + parts[2].astype(int)) // 2
        near = np.zeros(len(peak_names), bool)
        for gene in annotation.itertuples():
            near |= (parts[0] == gene.chrom).to_numpy() & (
                np.abs(centre - gene.tss) <= 100_000
            ).to_numpy()
        add(2, "real pbmc 1k, 174 peaks near markers", "ATAC", m["atac"].X, 2)
        sub, _ = sample(atac[:, np.flatnonzero(near)], 1000, near.sum())
        add(2, f"sim {shape}, {near.sum()} peaks near markers", "ATAC", sub, 2)

    folder = DATA / "bmmc_neurips2021_500cells"
    if folder.exists():
        r = ad.read_h5ad(folder / "starter.output_rna.h5ad")
        a = ad.read_h5ad(folder / "starter.output_mod2.h5ad")
        types = r.obs["cell_type"].astype(str).to_numpy()
        add(3, "real bmmc 500 cells (other tissue)", "RNA", r.layers["counts"], 1, types)
        cells = rng.choice(rna.shape[0], min(500, rna.shape[0]), replace=False)
        sub = rna[cells]
        sim_mean = np.asarray(sub.mean(0)).ravel()
        real_mean = np.asarray(sp.csr_matrix(r.layers["counts"]).mean(0)).ravel()
        order = np.argsort(sim_mean)
        pick = np.clip(np.searchsorted(sim_mean[order], real_mean), 0, len(order) - 1)
        matched = np.unique(order[pick])
        name = f"sim {shape} 500 cells, {len(matched)} mean-matched"
        add(3, name, "RNA", sub[:, matched], 1, sim_types[cells])
        add(3, "real bmmc 500 cells (other tissue)", "ATAC", a.layers["counts"], 2)
        sub, _ = sample(atac, 500, a.n_vars)
        add(3, f"sim {shape} 500 cells, {a.n_vars} random", "ATAC", sub, 2)

    kept = filtered_shape(rna, gene_names, atac, peak_names)
    line = (
        f"sim {shape}: {rna.shape[0]} cells x {rna.shape[1]} genes x {atac.shape[1]} peaks; "
        f"after the fixed-threshold filters {kept[0]} x {kept[1]} x {kept[2]}"
    )
    return rows, line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=["small", "pbmc10k"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="keep the simulations here")
    args = parser.parse_args(argv)

    rows, lines = [], []
    for shape in args.shapes:
        shape_rows, line = calibration_rows(shape, args.seed, args.out)
        rows += [r for r in shape_rows if r["dataset"].startswith("sim") or shape == args.shapes[0]]
        lines.append(line)
    print("\n".join(lines))
    table = pd.DataFrame(rows)
    # each real subset, followed by the simulated rows that mirror it
    table["real"] = table["dataset"].str.startswith("real")
    table = table.sort_values(["group", "real"], ascending=[True, False], kind="stable")
    table = table.drop(columns=["group", "real"])
    with pd.option_context(
        "display.width", 250, "display.max_columns", 20, "display.float_format", "{:.3f}".format
    ):
        for modality in ("RNA", "ATAC"):
            part = table[table["modality"] == modality].drop(columns="modality")
            part = part.dropna(axis=1, how="all")
            print(part.to_string(index=False))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
