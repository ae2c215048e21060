"""RNA preparation: QC metrics and filters, Scrublet, median-library normalisation, HVGs,
PCA, neighbours, UMAP and Leiden — scanpy underneath, sparse throughout."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp

from genepeak._utils import log
from genepeak.config import PrepareConfig
from genepeak.errors import InputError
from genepeak.io import prepared
from genepeak.prepare import timed_step
from genepeak.prepare.qc import evaluate_rules, report_removals, rna_rules, zero_cells_error

QC_COLUMNS = [
    "total_counts",
    "n_genes_by_counts",
    "pct_counts_mt",
    "pct_counts_ribo",
    "pct_counts_hb",
]


def gene_sets(var_names: pd.Index) -> dict[str, np.ndarray]:
    """Masks of mitochondrial (MT-), ribosomal (RPS, RPL) and haemoglobin (HB, not HBP) genes."""
    upper = pd.Index(var_names.astype(str)).str.upper()
    # ribosomal protein genes (RPS3A, RPL13, RPLP0, ...), not kinases such as RPS6KA1
    ribo = upper.str.match(r"^RP[SL]\d+[A-Z]?\d*$|^RPLP[0-2]$|^RPSA$")
    # haemoglobin subunits (HBA1, HBB, HBD, HBG1, HBZ, HBM, HBQ1, HBE1; mouse Hba-a1, Hbb-bs),
    # not HBP1, HBEGF, HBS1L
    hb = upper.str.match(r"^HB(A\d?|B|D|E\d|G\d|M|Q\d|Z)$|^HB[AB]-[A-Z]+\d?$")
    return {
        "mt": np.asarray(upper.str.startswith("MT-"), dtype=bool),
        "ribo": np.asarray(ribo, dtype=bool),
        "hb": np.asarray(hb, dtype=bool),
    }


def qc_metrics(counts: sp.csr_matrix, var_names: pd.Index, obs_names: pd.Index) -> pd.DataFrame:
    """Per-cell QC from raw counts (``sc.pp.calculate_qc_metrics``): totals, genes detected,
    % MT / ribosomal / haemoglobin (0 for a cell without counts)."""
    sets = gene_sets(pd.Index(var_names))
    if not sets["mt"].any():
        log("RNA QC: no MT- gene found (Ensembl IDs as names?): pct_counts_mt is 0 for every cell")
    adata = ad.AnnData(
        X=sp.csr_matrix(counts, dtype=np.float32),
        obs=pd.DataFrame(index=pd.Index(obs_names, dtype=str)),
        var=pd.DataFrame(sets, index=pd.Index(np.arange(len(var_names)).astype(str))),
    )
    obs, _ = sc.pp.calculate_qc_metrics(
        adata, qc_vars=list(sets), percent_top=None, log1p=False, inplace=False
    )
    frame = pd.DataFrame(
        {
            "total_counts": obs["total_counts"].to_numpy(np.float64),
            "n_genes_by_counts": obs["n_genes_by_counts"].to_numpy(np.int64),
        },
        index=pd.Index(obs_names),
    )
    for name in sets:
        frame[f"pct_counts_{name}"] = np.nan_to_num(obs[f"pct_counts_{name}"].to_numpy(np.float64))
    return frame


def keep_detected_genes(rna: ad.AnnData, min_cells: int) -> ad.AnnData:
    """Keep genes with count > 0 in >= ``min_cells`` cells of raw-count ``rna.X``
    (``sc.pp.filter_genes``).

    Sets ``var['n_cells']``; raises when no gene passes.
    """
    keep, n_cells = sc.pp.filter_genes(rna, min_cells=min_cells, inplace=False)
    if not keep.any():
        raise InputError(
            f"RNA: no gene is detected in >= {min_cells} cells "
            f"(min_cells_per_gene) among {rna.n_obs} cells; lower the threshold"
        )
    rna = rna[:, keep].copy()
    rna.var["n_cells"] = np.asarray(n_cells)[keep].astype(np.int64)
    return rna


def qc_filter(qc: pd.DataFrame, config: PrepareConfig) -> np.ndarray:
    """Boolean mask of cells passing the RNA QC rules of ``config``; raises when none passes.

    ``config.qc_mode`` "mad" uses median-absolute-deviation outliers, "fixed" the thresholds
    (see :mod:`genepeak.prepare.qc`).
    """
    keep, table = evaluate_rules(qc, rna_rules(qc, config))
    if not keep.any():
        raise zero_cells_error(len(qc), table)
    report_removals(keep, table, "RNA QC")
    return keep


def run_scrublet(adata: ad.AnnData, config: PrepareConfig) -> None:
    """Scrublet doublet score and call in ``obs`` (diagnostic; NaN / False when not computable)."""
    adata.obs["doublet_score"] = np.nan
    adata.obs["predicted_doublet"] = False
    if not config.run_scrublet:
        return
    n_cells, n_genes = adata.shape
    if n_cells < 30 or n_genes < 30:
        log(
            f"Scrublet skipped: {n_cells} cells x {n_genes} genes is too small to simulate doublets"
        )
        return
    work = ad.AnnData(X=prepared.counts(adata, "rna").copy(), obs=adata.obs[[]].copy())
    if config.batch_key and config.batch_key in adata.obs:
        work.obs["batch"] = adata.obs[config.batch_key].astype(str).to_numpy()
    # Scrublet keeps only its most variable genes (~15%), so the PCA must fit in those
    n_comps = int(max(2, min(30, n_cells - 1, n_genes // 10)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # threshold=1 (scores are <= 1) defers the call: scanpy's automatic threshold needs
            # scikit-image, so the same histogram-minimum rule is applied below instead
            sc.pp.scrublet(
                work,
                batch_key="batch" if "batch" in work.obs else None,
                n_prin_comps=n_comps,
                threshold=1.0,
                # sparse truncated SVD instead of a dense, mean-centred copy of
                # (cells + simulated doublets) x genes: ~3 GB less at PBMC-10k scale
                mean_center=False,
                use_approx_neighbors=False,  # see embed(): pynndescent path breaks on scipy 1.17
                random_state=config.seed,
                verbose=False,
            )
    except (ValueError, IndexError, np.linalg.LinAlgError) as err:
        log(f"Scrublet could not run on this data ({err}); doublet scores left as NaN")
        return
    scores = work.obs["doublet_score"].to_numpy(np.float64)
    adata.obs["doublet_score"] = scores
    threshold = histogram_minimum(_simulated_scores(work.uns.get("scrublet", {})))
    if threshold is None:
        log("Scrublet: simulated doublet scores are not bimodal; no cell called a doublet")
        return
    adata.obs["predicted_doublet"] = scores > threshold
    log(
        f"Scrublet: {int((scores > threshold).sum())} predicted doublets (threshold {threshold:.3f})"
    )


def _simulated_scores(uns: dict) -> np.ndarray:
    if "doublet_scores_sim" in uns:
        return np.asarray(uns["doublet_scores_sim"], dtype=np.float64)
    parts = [
        np.asarray(batch["doublet_scores_sim"], dtype=np.float64)
        for batch in uns.get("batches", {}).values()
        if "doublet_scores_sim" in batch
    ]
    return np.concatenate(parts) if parts else np.empty(0)


def histogram_minimum(values: np.ndarray, bins: int = 256, max_iter: int = 10_000) -> float | None:
    """Threshold at the valley of a bimodal histogram (smoothed until it has two peaks).

    The rule Scrublet uses (scikit-image's ``threshold_minimum``); None when not bimodal.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < 10 or values.min() == values.max():
        return None
    hist, edges = np.histogram(values, bins=bins)
    smooth = hist.astype(np.float64)
    for _ in range(max_iter):
        padded = np.concatenate([smooth[:1], smooth, smooth[-1:]])
        smooth = (padded[:-2] + padded[1:-1] + padded[2:]) / 3.0
        rising = np.diff(smooth) > 0
        peaks = np.flatnonzero(rising[:-1] & ~rising[1:]) + 1
        if len(peaks) == 2:
            low, high = peaks
            valley = low + int(np.argmin(smooth[low : high + 1]))
            return float((edges[valley] + edges[valley + 1]) / 2)
        if len(peaks) < 2:
            return None
    return None


def normalise(adata: ad.AnnData) -> None:
    """``X = log1p(counts / size_factor)`` with size factors relative to the median library
    (``sc.pp.normalize_total(target_sum=None)`` then ``sc.pp.log1p``)."""
    counts = sp.csr_matrix(prepared.counts(adata, "rna"), dtype=np.float32)
    total = np.asarray(counts.sum(axis=1)).ravel().astype(np.float64)
    # the median that target_sum=None would take (scanpy takes it in float32), computed here
    # once in float64: X is then normalised to exactly the value recorded in uns['target_sum']
    # and used as the size factors' denominator, and a median of 0 gets a clear error first
    target = float(np.median(total))
    if target <= 0:
        raise InputError("RNA: the median library size is 0; the cells carry no counts")
    work = ad.AnnData(X=counts.copy())
    sc.pp.normalize_total(work, target_sum=target)
    sc.pp.log1p(work)
    adata.X = sp.csr_matrix(work.X, dtype=np.float32)
    adata.obs["total_counts"] = total
    adata.obs["size_factor"] = np.where(total > 0, total / target, 1.0)
    adata.uns["target_sum"] = target


def select_hvgs(adata: ad.AnnData, config: PrepareConfig) -> None:
    """Mark ``config.n_top_genes`` highly variable genes (Seurat flavour, batch-aware)."""
    n_top = int(min(config.n_top_genes, adata.n_vars))
    batch_key = config.batch_key if config.batch_key and config.batch_key in adata.obs else None
    if config.batch_key and batch_key is None:
        raise InputError(
            f"PrepareConfig.batch_key={config.batch_key!r} is not an RNA obs column; "
            f"available: {list(adata.obs.columns)}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.pp.highly_variable_genes(
            adata, n_top_genes=n_top, flavor="seurat", batch_key=batch_key, subset=False
        )
    adata.var["highly_variable"] = adata.var["highly_variable"].astype(bool)


def embed(adata: ad.AnnData, config: PrepareConfig) -> None:
    """PCA on HVGs, k-NN graph, UMAP and Leiden clusters (``obs['leiden']``)."""
    n_cells = adata.n_obs
    n_hvg = int(adata.var["highly_variable"].sum())
    n_pcs = int(min(config.n_pcs, n_cells - 1, n_hvg - 1))
    if n_pcs < 2:
        raise InputError(
            f"RNA: {n_cells} cells and {n_hvg} HVGs are too few for a PCA; at least 3 of each needed"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.pp.pca(
            adata,
            n_comps=n_pcs,
            mask_var="highly_variable",
            svd_solver="arpack",
            random_state=config.seed,
        )
        n_neighbors = int(min(config.n_neighbors, n_cells - 1))
        # exact k-NN: scanpy 1.11's approximate (pynndescent, used from 4,096 cells) path calls
        # csr_array.getnnz, which scipy 1.17 removed; exact is also deterministic
        sc.pp.neighbors(
            adata,
            n_neighbors=n_neighbors,
            n_pcs=n_pcs,
            transformer="sklearn",
            random_state=config.seed,
        )
        if config.compute_umap and n_cells > n_neighbors + 1:
            sc.tl.umap(adata, random_state=config.seed)
        sc.tl.leiden(
            adata,
            resolution=config.leiden_resolution,
            flavor="igraph",
            n_iterations=2,
            directed=False,
            random_state=config.seed,
            key_added="leiden",
        )
    adata.obs["leiden"] = adata.obs["leiden"].astype("category")


def make_gene_names_unique(adata: ad.AnnData, source: str = "RNA") -> None:
    """Make duplicate gene symbols unique (``TBCE``, ``TBCE-1``), logging how many."""
    names = pd.Index(adata.var_names.astype(str))
    if not names.has_duplicates:
        return
    duplicated = names[names.duplicated(keep=False)].unique()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata.var_names_make_unique()
    examples = ", ".join(map(str, duplicated[:3]))
    log(
        f"{source}: {len(duplicated)} gene symbols occur more than once (e.g. {examples}); "
        "made unique by appending -1, -2, ... (gene_ids keep the Ensembl ids)"
    )


def prepare_rna(
    adata: ad.AnnData,
    config: PrepareConfig,
    timings: dict[str, float] | None = None,
    keep: np.ndarray | None = None,
) -> tuple[ad.AnnData, pd.DataFrame]:
    """Prepare raw RNA counts (X = counts) into the prepared layout of docs/architecture.md.

    ``timings``, when given, receives the seconds spent per step. ``keep``, when given, is
    the mask of cells that passed QC (e.g. RNA and ATAC rules together); else the RNA QC
    rules of ``config`` decide.

    Returns
    -------
    The prepared RNA AnnData (cells and genes kept) and the per-cell QC before filtering.
    """
    make_gene_names_unique(adata)
    with timed_step("RNA QC and filters", timings):
        counts = sp.csr_matrix(adata.X, dtype=np.float32)
        qc_before = qc_metrics(counts, adata.var_names, adata.obs_names)
        if keep is None:
            keep = qc_filter(qc_before, config)
        rna = ad.AnnData(
            X=counts[keep], obs=adata.obs.iloc[np.flatnonzero(keep)].copy(), var=adata.var.copy()
        )
        rna = keep_detected_genes(rna, config.min_cells_per_gene)
        rna.layers["counts"] = sp.csr_matrix(rna.X, dtype=np.float32)
        for column in QC_COLUMNS[1:]:
            rna.obs[column] = qc_before.loc[rna.obs_names, column].to_numpy()
    with timed_step("RNA Scrublet", timings):
        run_scrublet(rna, config)
    if config.filter_doublets:
        singlets = ~rna.obs["predicted_doublet"].to_numpy(bool)
        if not singlets.any():
            raise InputError(
                "zero cells left after removing Scrublet doublets; set filter_doublets=False"
            )
        rna = keep_detected_genes(rna[singlets].copy(), config.min_cells_per_gene)
    with timed_step("RNA normalise and HVGs", timings):
        normalise(rna)
        select_hvgs(rna, config)
    log(f"RNA: {rna.n_obs} cells x {rna.n_vars} genes, median library {rna.uns['target_sum']:.0f}")
    with timed_step("RNA PCA, neighbours, UMAP, Leiden", timings):
        embed(rna, config)
    return rna, qc_before
