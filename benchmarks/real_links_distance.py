"""Real data, no simulator, no model (issue 27.4): how do the link scores of each marker's peaks
fall with the peak's distance to the marker's TSS, against expression-matched null genes scored
on the same peaks?

Data: ``../shared/data/pbmc_multiome_1k_markers`` (real Cell Ranger ARC output, 1,000 PBMC x 45
marker genes x 174 peaks), prepared with ``genepeak.prepare`` as ``real_links_pbmc1k.py`` does
(``n_top_genes=20``, no UMAP, default QC and peak filter; the hg38 gene table for the TSS).

Scores: :func:`genepeak.links.genome.link_genes` over all cells, every gene, with a window
(``WINDOW``) longer than any chromosome, so every peak on a gene's chromosome is one of its
pairs, at any distance. Peaks on other chromosomes are beyond every window: ``link_genes``
scores them not at all, they are each gene's empirical null (its t against them gives the
median and MAD its z is put on). Their z is computed here with the same state (intercept,
``--state-pcs`` RNA PCs, log ATAC depth) and the same null by :func:`genepeak.links.state.scores_without_model`,
which also reproduces ``link_genes``'s z on every pair it scores (checked at run time). Per pair:

- ``|z|``: the state-adjusted z on the gene's own empirical null;
- ``link_score``: the log posterior odds of the two-group model that ``link_genes`` fits to
  its pairs (:func:`genepeak.links.state.two_group_log_odds`), applied to every pair: equal
  to ``link_genes``'s ``link_score`` where it has the pair (checked), and the same function of
  z elsewhere. ``two_group_log_odds`` would give pairs beyond the window a prior of their own
  (its share refitted there); that would make the far bin low by decree, not by the data, so
  it is not used: the score here carries no distance prior, it is a monotone function of |z|;
- ``called``: two-sided p at or below the largest p that ``link_genes`` called (BH FDR < 0.05
  over its pairs): the same calls where it has the pair, the same cut-off elsewhere.

The fair comparison. Marker m's pairs fall in distance bins by distance to m's TSS. Its null
genes are the ``--null-genes`` genes closest to m in mean expression and detection
(``genepeak.links.nulls.matched_null_genes``: nearest in log mean and log detection of
``rna.X``), among the genes whose TSS is not within ``--exclude`` (1 Mb) of m's
(CD8A / CD8B, MS4A1 / MS4A7, IGHD / IGHM, S100A8 / RPS27 share loci: a neighbour's score of
m's peaks could be its own cis link). Each null gene is scored on *the same peaks* (those of
m's bin), less any peak within ``--exclude`` of the null gene's own TSS. So peak properties
(accessibility, detection, cell-type specificity) and the gene's expression level are held
fixed, and the one difference is whether the peak lies at the gene's locus. A null gene's own
peaks near its own TSS would compare markers with markers (every gene here is a marker with
peaks picked around it); ``real_links_pbmc1k.py`` [A] does that, [B] this.

Per bin: the mean over markers of each marker's mean over its pairs, the same for its null
genes' pairs on the same peaks (pooled over the null genes), and the difference, with 95 %
percentile bootstrap intervals over markers (the markers with a pair in the bin).

What 45 genes can and cannot show (numbers in docs/links.md). The 174 peaks (113 kept) were
chosen around the 45 markers: almost every peak is within a few kb of some marker's TSS
(printed), so the <= 10 kb bins are the informative ones; the 10 kb - 1 Mb bins hold mostly
peaks inside long markers' own annotated spans (the TSS of the gene table is the 5'-most
transcript start, so a promoter of a shorter isoform lands here: CD8A's best peaks sit 14-22 kb
"downstream") and a few near another marker's TSS; the > 1 Mb bin is the marker's peaks near
*other* markers, not distal enhancers, which the subset lacks. Other-chromosome pairs are each
gene's empirical null: their z has median 0 and MAD 1 by construction (MAD floored at 1), a
reference, not a finding. Every null gene is itself a marker, so "null" means "not this
locus", not "unexpressed". The cell state's RNA PCs come from preparation's PCA of the 20
highly variable of these 45 genes: 15 of them explain > 90 % of 15 markers' variance, so
those markers have almost nothing left to link (``--state-pcs 5`` shows the effect; R2 in the
per-marker table). 45 markers in 955 cells: intervals are wide, a handful of markers (CD8A,
SOX4, KLF4, MS4A7, CCL5, LEF1) carry the near-TSS excess.

    python benchmarks/real_links_distance.py [--state-pcs 15 5] [--null-genes 10] [--exclude 1000000]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

os.environ.setdefault("GENEPEAK_QUIET", "1")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SUBSET = "pbmc_multiome_1k_markers/pbmc_1k_markers.h5mu"
GENES = "annotations/orgHsEgDb_3.16_hg38_gene_coords.tsv.gz"
#: longer than any human chromosome (chr1: 248,956,422 bp): every same-chromosome pair is in
WINDOW = 300_000_000
#: distance bins (|peak centre - TSS|, bp): (label, low exclusive, high inclusive)
BINS = (
    ("<=2 kb", -1, 2_000),
    ("2-10 kb", 2_000, 10_000),
    ("10-100 kb", 10_000, 100_000),
    ("100 kb-1 Mb", 100_000, 1_000_000),
    (">1 Mb same chr", 1_000_000, np.inf),
)
OTHER_CHROM = "other chr"
FAR = ">1 Mb / other chr"
MEASURES = ("link_score", "abs_z", "called")


def prepared(data: Path, out: Path):
    from genepeak.config import PrepareConfig
    from genepeak.prepare.pipeline import prepare

    config = PrepareConfig(n_top_genes=20, compute_umap=False, gene_annotation=str(data / GENES))
    return prepare(data / SUBSET, config, out=out)


def distance_bin(distance: np.ndarray) -> np.ndarray:
    """The label of ``BINS`` for each |distance| (bp); NaN (another chromosome) -> OTHER_CHROM."""
    d = np.abs(np.asarray(distance, dtype=np.float64))
    out = np.full(d.shape, OTHER_CHROM, dtype=object)
    for label, low, high in BINS:
        out[(d > low) & (d <= high)] = label
    return out


def score_every_pair(mdata, state_pcs: int, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Every gene x every kept peak: distance (NaN on another chromosome), z, link_score and
    called as the module docstring defines them, and ``link_genes``'s own columns where it has
    the pair. Raises when the two paths disagree on a pair both score."""
    from genepeak.io.annotation import gene_coordinates, recorded_annotation
    from genepeak.links import baselines, state
    from genepeak.links.genome import LinkOptions, link_genes

    # no distance prior: the score against distance is what this check reads
    options = LinkOptions(window=WINDOW, state_pcs=state_pcs, distance_prior=False, seed=seed)
    begun = time.perf_counter()
    result = link_genes(mdata, "all", options=options, key_added=None)
    linked = time.perf_counter() - begun
    genes = [str(g) for g in mdata.mod["rna"].var_names]
    atac = mdata.mod["atac"]
    peaks = pd.Index(atac.var_names.astype(str))
    coords = gene_coordinates(mdata.mod["rna"].var.loc[genes], recorded_annotation(mdata))
    distance = baselines.signed_distances(mdata, genes, None)  # (genes, peaks), NaN elsewhere
    same_chrom = np.isfinite(distance)

    begun = time.perf_counter()
    z, _ = state.scores_without_model(mdata, genes, same_chrom, options.state_pcs, robust=True)
    everything = time.perf_counter() - begun

    long = pd.DataFrame(
        {
            "gene": np.repeat(genes, len(peaks)),
            "peak": np.tile(peaks, len(genes)),
            "distance_to_tss": distance.ravel(),
            "z": z.ravel(),
        }
    )
    own = result.links[result.links["group"] == "all"]
    own = own.assign(gene=own["gene"].astype(str), peak=own["peak"].astype(str))
    keep = ["distance_to_tss", "z", "link_score", "called", "p_value"]
    own = own[["gene", "peak", *keep]].rename(columns={c: f"{c}_genome" for c in keep})
    long = long.merge(own, on=["gene", "peak"], how="left")
    scored = long["z_genome"].notna()
    if scored.sum() != same_chrom.sum():
        raise RuntimeError(f"link_genes scored {scored.sum()} pairs, {same_chrom.sum()} expected")
    gap = float(np.abs(long.loc[scored, "z"] - long.loc[scored, "z_genome"]).max())
    if gap > 1e-3:
        raise RuntimeError(
            f"state.scores_without_model and link_genes disagree on z by up to {gap:.2g}"
        )
    moved = np.abs(long.loc[scored, "distance_to_tss"] - long.loc[scored, "distance_to_tss_genome"])
    if float(moved.max()) > 1:
        raise RuntimeError("link_genes and signed_distances disagree on a distance")

    inside = scored.to_numpy() & np.isfinite(long["z"].to_numpy())
    _, fits = state.two_group_log_odds(long["z"].to_numpy(), inside)
    long["link_score"] = fits["window"].log_odds(long["z"].to_numpy())
    long["abs_z"] = long["z"].abs()
    p = 2.0 * stats.norm.sf(long["abs_z"].to_numpy())
    called_own = long.loc[scored, "called_genome"].eq(True)
    cutoff = (
        float(long.loc[scored, "p_value_genome"][called_own].max()) if called_own.any() else 0.0
    )
    # link_genes's own call where it has the pair; its p cut-off elsewhere
    long["called"] = np.where(scored, long["called_genome"].eq(True), p <= cutoff).astype(float)
    score_gap = np.abs(long.loc[scored, "link_score"] - long.loc[scored, "link_score_genome"])
    if float(score_gap.max()) > 1e-2:
        raise RuntimeError(
            f"the window fit is {score_gap.max():.2g} off link_genes's link_score on some pair"
        )
    long["bin"] = distance_bin(long["distance_to_tss"].to_numpy())
    long["in_gene_body"] = in_gene_body(long, coords, atac.var)
    info = {
        "cells": mdata.n_obs,
        "genes": len(genes),
        "peaks": len(peaks),
        "same_chrom_pairs": int(scored.sum()),
        "called_by_link_genes": int(called_own.sum()),
        "p_cutoff": cutoff,
        "max_z_gap": gap,
        "state_pcs": state_pcs,
        "window_fit": fits["window"],
        "link_genes_s": round(linked, 2),
        "every_pair_s": round(everything, 2),
        "tss": coords["tss"],
        "state_r2": state_r2(mdata, genes, state_pcs),
        "chrom": coords["chrom"].astype(str),
    }
    return long.drop(columns=[c for c in long.columns if c.endswith("_genome")]), info


def state_r2(mdata, genes: list[str], state_pcs: int) -> pd.Series:
    """Share of each gene's variance (``rna.X``) that the state's RNA PCs (with an intercept)
    explain: what the state adjustment removes from the gene before it meets a peak."""
    from genepeak.links import baselines

    x = baselines.gene_matrix(mdata, genes)
    design = np.column_stack(
        [np.ones(len(x)), baselines.rna_pcs(mdata.mod["rna"], None, state_pcs)]
    )
    residual = x - design @ np.linalg.lstsq(design, x, rcond=None)[0]
    return pd.Series(1.0 - residual.var(axis=0) / x.var(axis=0), index=genes)


def null_genes(
    mdata, tss: pd.Series, chrom: pd.Series, n_null: int, exclude: int, seed: int = 0
) -> dict[str, list[str]]:
    """Per marker: the ``n_null`` genes nearest in mean and detection of ``rna.X`` over every
    cell (:func:`genepeak.links.nulls.matched_null_genes`, ``seed`` breaking exact ties), less
    the genes whose TSS lies within ``exclude`` bp of the marker's."""
    from genepeak.links import baselines
    from genepeak.links.nulls import matched_null_genes

    genes = [str(g) for g in mdata.mod["rna"].var_names]
    x = baselines.gene_matrix(mdata, genes)
    same = chrom.reindex(genes).to_numpy()
    position = tss.reindex(genes).to_numpy(np.float64)
    out = {}
    for i, gene in enumerate(genes):
        near = (same == same[i]) & (np.abs(position - position[i]) <= exclude)
        near[i] = False
        # the marker's neighbours join it as targets: targets are never each other's null genes
        targets = [i, *np.flatnonzero(near)]
        found = matched_null_genes(x, targets, n_null, np.random.default_rng(seed))
        out[gene] = [genes[j] for j in found[0]]
    return out


def marker_bins(pairs: pd.DataFrame, nulls: dict[str, list[str]], exclude: int) -> pd.DataFrame:
    """One row per (marker, bin with a pair): the marker's mean of each measure over its pairs
    in the bin, its null genes' pooled mean over the same peaks (less peaks within ``exclude``
    of the null gene's own TSS), and the counts."""
    table = pairs.set_index(["gene", "peak"])
    near_own = np.abs(np.nan_to_num(pairs["distance_to_tss"].to_numpy(), nan=np.inf)) <= exclude
    rows = []
    for marker, own in pairs.groupby("gene", sort=False, observed=True):
        for label, part in own.groupby("bin", sort=False):
            peak_set = part["peak"].to_numpy()
            index = pd.MultiIndex.from_product([nulls[marker], peak_set], names=["gene", "peak"])
            null = table.loc[index]
            null = null[~near_own[table.index.get_indexer(index)]]
            row = {"gene": marker, "bin": label, "pairs": len(part), "null_pairs": len(null)}
            for measure in MEASURES:
                row[measure] = float(part[measure].mean())
                row[f"null_{measure}"] = float(null[measure].mean()) if len(null) else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def with_far(per_bin: pd.DataFrame) -> pd.DataFrame:
    """``per_bin`` plus, per marker, the issue's ``>1 Mb / other chr`` bin (pair-weighted)."""
    far = per_bin[per_bin["bin"].isin([BINS[-1][0], OTHER_CHROM])]
    rows = []
    for marker, part in far.groupby("gene", sort=False):
        row = {"gene": marker, "bin": FAR, **part[["pairs", "null_pairs"]].sum().to_dict()}
        for measure in MEASURES:
            row[measure] = float(np.average(part[measure], weights=part["pairs"]))
            row[f"null_{measure}"] = float(
                np.average(part[f"null_{measure}"], weights=part["null_pairs"])
            )
        rows.append(row)
    return pd.concat([per_bin, pd.DataFrame(rows)], ignore_index=True)


def bootstrap(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    """95 % percentile interval of the mean of ``values`` (one per gene), resampling genes."""
    values = values[np.isfinite(values)]
    if values.size < 2:
        return np.nan, np.nan
    means = values[rng.integers(0, values.size, (n_boot, values.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def summary(per_bin: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """Per bin and measure: marker mean, null mean, difference, each with its interval."""
    rng = np.random.default_rng(seed)
    order = [label for label, _, _ in BINS] + [OTHER_CHROM, FAR]
    rows = []
    for label in order:
        part = per_bin[(per_bin["bin"] == label) & (per_bin["null_pairs"] > 0)]
        if part.empty:
            continue
        for measure in MEASURES:
            own, null = part[measure].to_numpy(), part[f"null_{measure}"].to_numpy()
            row = {"bin": label, "measure": measure, "markers": len(part)}
            row["pairs"], row["null_pairs"] = (
                int(part["pairs"].sum()),
                int(part["null_pairs"].sum()),
            )
            for name, values in (("marker", own), ("null", null), ("diff", own - null)):
                low, high = bootstrap(values, n_boot, rng)
                row[name], row[f"{name}_low"], row[f"{name}_high"] = values.mean(), low, high
            rows.append(row)
    return pd.DataFrame(rows)


def show(table: pd.DataFrame) -> pd.DataFrame:
    """The summary as text: one row per bin, 'mean [low, high]' per measure."""
    out = []
    for label, part in table.groupby("bin", sort=False):
        row = {"bin": label, "markers": part["markers"].iloc[0], "pairs": part["pairs"].iloc[0]}
        row["null pairs"] = part["null_pairs"].iloc[0]
        for _, r in part.iterrows():
            short = {"link_score": "score", "abs_z": "|z|", "called": "called"}[r["measure"]]
            digits = 3 if r["measure"] == "called" else 2
            for name in ("marker", "null", "diff"):
                sign = "+" if name == "diff" else ""
                row[f"{short} {name}"] = (
                    f"{r[name]:{sign}.{digits}f} [{r[f'{name}_low']:{sign}.{digits}f},"
                    f"{r[f'{name}_high']:{sign}.{digits}f}]"
                )
        out.append(row)
    return pd.DataFrame(out)


def per_marker(pairs: pd.DataFrame, per_bin: pd.DataFrame, nulls, info: dict) -> pd.DataFrame:
    """One row per marker: where its peaks lie, its near (<= 10 kb) and far evidence against
    its null genes' on the same peaks, and its best peak."""
    near_bins = [BINS[0][0], BINS[1][0]]
    rows = []
    for marker, own in pairs.groupby("gene", sort=False, observed=True):
        counts = own["bin"].value_counts()
        near = per_bin[(per_bin["gene"] == marker) & per_bin["bin"].isin(near_bins)]
        far = per_bin[(per_bin["gene"] == marker) & (per_bin["bin"] == FAR)]
        best = own.loc[own["abs_z"].idxmax()]
        where = (
            f"{best['distance_to_tss'] / 1000:+.1f} kb"
            if np.isfinite(best["distance_to_tss"])
            else str(best["peak"]).split(":")[0]
        )

        def pooled(part: pd.DataFrame, column: str, weight: str) -> float:
            return float(np.average(part[column], weights=part[weight])) if len(part) else np.nan

        rows.append(
            {
                "marker": marker,
                "chr": info["chrom"][marker],
                "<=2k": counts.get(BINS[0][0], 0),
                "2-10k": counts.get(BINS[1][0], 0),
                "10k-1M": counts.get(BINS[2][0], 0) + counts.get(BINS[3][0], 0),
                "far": counts.get(BINS[4][0], 0) + counts.get(OTHER_CHROM, 0),
                "near |z|": pooled(near, "abs_z", "pairs"),
                "null |z|": pooled(near, "null_abs_z", "null_pairs"),
                "near called": int(round(pooled(near, "called", "pairs") * near["pairs"].sum()))
                if len(near)
                else 0,
                "null called": pooled(near, "null_called", "null_pairs"),
                "far |z|": pooled(far, "abs_z", "pairs"),
                "far called": int(round(far["called"].iloc[0] * far["pairs"].iloc[0])),
                "best peak": where,
                "best z": best["z"],
                "R2": info["state_r2"][marker],
                "nulls": ",".join(nulls[marker][:4]) + ("..." if len(nulls[marker]) > 4 else ""),
            }
        )
    return pd.DataFrame(rows)


def in_gene_body(pairs: pd.DataFrame, coords: pd.DataFrame, peak_var: pd.DataFrame) -> np.ndarray:
    """Whether each pair's peak centre lies inside its gene's annotated span (start..end)."""
    from genepeak.io.peaks import peak_coordinates

    peaks = peak_coordinates(peak_var, source="atac.var")
    centre = (peaks["start"] + peaks["end"]) // 2
    peak_centre = centre.reindex(pairs["peak"]).to_numpy()
    start = coords["start"].reindex(pairs["gene"]).to_numpy()
    end = coords["end"].reindex(pairs["gene"]).to_numpy()
    same = np.isfinite(pairs["distance_to_tss"].to_numpy())
    return same & (peak_centre >= start) & (peak_centre <= end)


def peak_layout(pairs: pd.DataFrame) -> str:
    """How the subset was built: how close each kept peak lies to its nearest marker TSS, and
    what the marker's pairs at 10 kb - 1 Mb are."""
    nearest = pairs.assign(d=pairs["distance_to_tss"].abs()).groupby("peak")["d"].min()
    shares = [f"{(nearest <= w).sum()} within {w // 1000} kb" for w in (2_000, 10_000, 100_000)]
    middle = pairs[pairs["bin"].isin([BINS[2][0], BINS[3][0]])]
    other = nearest.reindex(middle["peak"]).to_numpy() <= 10_000
    return (
        f"{len(nearest)} kept peaks, nearest marker TSS: {', '.join(shares)}. The {len(middle)} "
        f"marker-peak pairs at 10 kb - 1 Mb: {int(middle['in_gene_body'].sum())} inside the "
        f"marker's own annotated gene span, {int(other.sum())} within 10 kb of another marker's TSS"
    )


def report(pairs, per_bin, table, info, args, first: bool) -> None:
    """Print one state's scores: the fit, the bins and (``first``) the per-marker table."""
    fit, pcs = info["window_fit"], info["state_pcs"]
    r2 = info["state_r2"]
    print(
        f"\n=== state: intercept, {pcs} RNA PCs, log ATAC depth (the PCs explain a median "
        f"{r2.median():.2f} of a gene's variance; > 0.9 for {(r2 > 0.9).sum()} of "
        f"{len(r2)} genes) ==="
    )
    print(
        f"link_genes (window {WINDOW:,} bp: the whole chromosome): {info['same_chrom_pairs']} "
        f"same-chromosome pairs, {info['called_by_link_genes']} called (BH FDR < 0.05, p <= "
        f"{info['p_cutoff']:.2g}) in {info['link_genes_s']} s; every gene x peak by "
        f"state.scores_without_model in {info['every_pair_s']} s (z agree to "
        f"{info['max_z_gap']:.1g}); two-group fit: linked share {fit.share:.3f}, linked z "
        f"variance {fit.variance:.1f}"
    )
    print(
        f"per distance bin: marker mean vs its {args.null_genes} expression-matched null genes "
        "on the SAME peaks, and the difference; [95% percentile bootstrap over markers, "
        f"{args.boot} resamples]. score: link_score (log odds, no distance prior); |z|: state "
        "z on the gene's empirical null; called: share of pairs with p at link_genes's cut-off"
    )
    with pd.option_context("display.width", 300, "display.max_columns", 30):
        print(show(table).to_string(index=False))
        if first:
            print(
                "\nper marker: pairs by distance (far: > 1 Mb or another chromosome); near = "
                "<= 10 kb: mean |z| of the marker vs its null genes on the same peaks, calls "
                "(marker: count; null: share); far |z| and calls; best peak by |z|; R2: the "
                "share of the marker's variance the state's PCs explain"
            )
            markers = per_marker(pairs, per_bin, info["nulls"], info)
            print(markers.to_string(index=False, float_format="{:.2f}".format))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--null-genes", type=int, default=10)
    parser.add_argument("--exclude", type=int, default=1_000_000, help="bp; see the docstring")
    parser.add_argument(
        "--state-pcs",
        type=int,
        nargs="+",
        default=[15, 5],
        help="RNA PCs in the cell state, one run each (15: LinkOptions' default); the per-marker "
        "table is printed for the first",
    )
    parser.add_argument("--boot", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="/tmp/real_links_distance")
    args = parser.parse_args()

    data = Path(args.data)
    if not (data / SUBSET).is_file() or not (data / GENES).is_file():
        print(f"skipped: {data / SUBSET} or {data / GENES} is absent (see shared/data/README.md)")
        return
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mdata = prepared(data, out / "prepared.h5mu")
    print(
        f"prepared: {mdata.n_obs} cells x {mdata.mod['rna'].n_vars} genes x "
        f"{mdata.mod['atac'].n_vars} peaks (of 174) in {time.perf_counter() - started:.1f} s"
    )
    nulls = None
    for i, state_pcs in enumerate(args.state_pcs):
        pairs, info = score_every_pair(mdata, state_pcs, args.seed)
        if nulls is None:
            nulls = null_genes(
                mdata, info["tss"], info["chrom"], args.null_genes, args.exclude, args.seed
            )
            print(peak_layout(pairs))
        info["nulls"] = nulls
        per_bin = with_far(marker_bins(pairs, nulls, args.exclude))
        table = summary(per_bin, args.boot, args.seed)
        tag = f"pcs{state_pcs}"
        pairs.to_csv(out / f"pairs_{tag}.tsv", sep="\t", index=False)
        per_bin.to_csv(out / f"per_marker_bin_{tag}.tsv", sep="\t", index=False)
        table.to_csv(out / f"summary_{tag}.tsv", sep="\t", index=False)
        report(pairs, per_bin, table, info, args, first=i == 0)
    print(
        f"\nrun time {time.perf_counter() - started:.1f} s. Other-chromosome pairs are each "
        "gene's empirical null (median z 0, MAD 1 by construction); every null gene is itself a "
        "marker; the peaks were picked around the markers: the 10 kb - 1 Mb pairs are mostly "
        "inside long markers' own spans, the > 1 Mb ones near other markers."
    )


if __name__ == "__main__":
    main()
