"""Do a gene's top links lie near its own TSS more often than those of matched null genes?

A check of link scores that needs no planted truth, so it runs on real data: most functional
enhancer-gene links lie within ~100 kb of the gene (ABC, ENCODE-rE2G), so a gene whose k
best-scored peaks sit near its own TSS more often than the k best peaks of genes with the same
expression sit near *their* TSS is linked to its locus beyond what expression level alone
gives. Three references come beside each gene's fraction:

- ``null_fraction``: the same fraction for expression-matched null genes, each at its own
  TSS, with a bootstrap confidence interval over the null genes (the marker's own fraction is
  held fixed: it is one deterministic ranking), and the one-sided Fisher exact p-value of the
  marker's k links against the null genes' pooled links (:func:`~genepeak.explain.validate.tss_enrichment`);
- ``random_fraction``: the share of all peaks that lie within the window of the gene's TSS,
  what a random ranking gets on average. On a peak set chosen around a few genes it is high
  by construction and must be read beside the fractions;
- ``null_at_gene_fraction``: how often the null genes' top links land near *this* gene's TSS
  (does silencing any gene of that expression pick this locus?).

Rankings by ``zscore`` (or ``effect``) use the absolute value: silencing can open or close a
peak. Ties are broken at random (seeded), so every gene has exactly k top links.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from genepeak.errors import InputError
from genepeak.links.baselines import in_window
from genepeak.links.nulls import matched_null_genes

#: score columns ranked by their absolute value (signed evidence)
ABSOLUTE_SCORES = ("zscore", "effect")
#: the window (bp) that counts as "near the TSS"
NEAR_TSS = 100_000


def matched_genes(
    x: np.ndarray, genes: Sequence[str], targets: Sequence[str], n_null: int, seed: int = 0
) -> dict[str, list[str]]:
    """The ``n_null`` matched null genes of each target, by name: ``{target: [genes]}``.

    ``x`` is cells x ``genes`` (model input space). The genes are those of
    :func:`genepeak.links.nulls.matched_null_genes` (nearest in mean and detection, nearest
    first; other targets only when too few other genes are expressed), ``seed`` breaking ties.
    """
    x = np.asarray(x)
    names = pd.Index([str(g) for g in genes])
    if x.shape[1] != len(names):
        raise InputError(f"x has {x.shape[1]} columns for {len(names)} genes")
    columns = names.get_indexer([str(t) for t in targets])
    if (columns < 0).any():
        missing = [str(t) for t, c in zip(targets, columns) if c < 0]
        raise InputError(f"{', '.join(missing)} not among the {len(names)} genes")
    found = matched_null_genes(
        x, columns, n_null, np.random.default_rng(seed), exclude_targets=None
    )
    return {str(t): list(names[row]) for t, row in zip(targets, found)}


def top_links(links: pd.DataFrame, score: str, k: int, seed: int = 0) -> pd.DataFrame:
    """Each gene's ``k`` best peaks by ``score`` (``|score|`` for signed ones), ties at random."""
    for column in ("gene", "peak", "distance_to_tss", score):
        if column not in links.columns:
            raise InputError(f"the link table has no {column!r} column; has {list(links.columns)}")
    value = pd.to_numeric(links[score]).to_numpy(np.float64)
    value = np.abs(value) if score in ABSOLUTE_SCORES else value
    tie_break = np.random.default_rng(seed).random(len(links))
    ranked = links.assign(_value=np.nan_to_num(value, nan=-np.inf), _tie=tie_break)
    ranked = ranked.sort_values(["gene", "_value", "_tie"], ascending=[True, False, False])
    return ranked.groupby("gene", sort=False).head(k).drop(columns=["_value", "_tie"])


def tss_proximity(
    links: pd.DataFrame,
    null_genes: Mapping[str, Sequence[str]],
    *,
    score: str = "zscore",
    k: int = 3,
    window: int = NEAR_TSS,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per gene of ``null_genes``: its top-k links near its TSS vs its null genes'.

    Parameters
    ----------
    links
        Long table, one row per (gene, peak) with ``distance_to_tss`` (signed bp to that
        gene's own TSS, NaN on another chromosome) and the ``score`` column, for every gene
        and null gene (as :func:`~genepeak.explain.linking.link_scores` returns it).
    null_genes
        ``{gene: [null genes]}``, e.g. from :func:`matched_genes`.

    Returns
    -------
    DataFrame: ``hits`` of the gene's ``k`` links within ``window`` bp and their ``fraction``;
    ``null_fraction`` with its bootstrap interval ``null_low`` / ``null_high``; ``difference``
    (fraction - null_fraction) with ``difference_low`` / ``difference_high``; ``p_value``
    (one-sided Fisher exact); ``peaks_near`` / ``random_fraction`` (all peaks within the
    window) and ``null_random_fraction`` (the same for the null genes); ``null_at_gene_fraction``
    (the null genes' top links near *this* gene's TSS) with ``difference_at_gene``, its
    interval and ``p_value_at_gene`` (one-sided Fisher exact); ``null_genes`` (comma-separated); ``beats_null`` / ``beats_null_at_gene`` (the
    interval of the difference lies above 0).
    """
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    top = top_links(links, score, k, seed=seed)
    near_all = links.assign(_near=in_window(links["distance_to_tss"], window))
    by_gene = near_all.groupby("gene", sort=False)["_near"]
    top_near = top.assign(_near=in_window(top["distance_to_tss"], window))
    ranked = _Ranked(
        links,
        top,
        hits=top_near.groupby("gene", sort=False)["_near"].sum(),
        top_peaks=top.groupby("gene", sort=False)["peak"].agg(list),
        random_fraction=by_gene.mean(),
        n_peaks=by_gene.size(),
        k=k,
        window=window,
    )
    rng = np.random.default_rng(seed)
    rows = []
    for gene, nulls in null_genes.items():
        missing = [g for g in [gene, *nulls] if g not in ranked.hits.index]
        if missing:
            raise InputError(f"the link table has no rows for {', '.join(map(str, missing[:5]))}")
        row = dict(gene=gene, score=score, k=k, n_null=len(nulls), hits=int(ranked.hits[gene]))
        rows.append(row | _gene_row(ranked, gene, list(nulls), n_boot, confidence, rng))
    table = pd.DataFrame(rows)
    if len(table):
        table["beats_null"] = table["difference_low"] > 0
        table["beats_null_at_gene"] = table["difference_low_at_gene"] > 0
    return table


@dataclass
class _Ranked:
    """A link table with each gene's top-k links and how many of them lie near its TSS."""

    links: pd.DataFrame
    top: pd.DataFrame
    hits: pd.Series
    top_peaks: pd.Series
    random_fraction: pd.Series
    n_peaks: pd.Series
    k: int
    window: int

    def top_distances(self, gene: str) -> np.ndarray:
        return self.top.loc[self.top["gene"] == gene, "distance_to_tss"].to_numpy(np.float64)


def _gene_row(ranked: _Ranked, gene, nulls: list, n_boot, confidence, rng) -> dict:
    """One gene's fractions near its TSS against its null genes' (see :func:`tss_proximity`)."""
    from genepeak.explain.validate import tss_enrichment

    k, hits, random_fraction = ranked.k, ranked.hits, ranked.random_fraction
    null_fractions = hits.loc[nulls].to_numpy(np.float64) / k
    fisher = tss_enrichment(
        ranked.top_distances(gene), [ranked.top_distances(g) for g in nulls], window=ranked.window
    )
    row = {"fraction": hits[gene] / k}
    row.update(_null_interval(row["fraction"], null_fractions, n_boot, confidence, rng))
    here = _at_gene(ranked.links, gene, nulls, ranked.top_peaks, ranked.window, k)
    at_gene = _null_interval(row["fraction"], here, n_boot, confidence, rng)
    row["null_at_gene_fraction"] = at_gene["null_fraction"]
    for key in ("difference", "difference_low", "difference_high"):
        row[f"{key}_at_gene"] = at_gene[key]
    row["p_value"] = fisher["p_value"]
    row["p_value_at_gene"] = _fisher_greater(hits[gene], k, here.sum() * k, k * len(nulls))
    row["n_peaks"] = int(ranked.n_peaks[gene])
    row["peaks_near"] = int(round(random_fraction[gene] * ranked.n_peaks[gene]))
    row["random_fraction"] = float(random_fraction[gene])
    row["null_random_fraction"] = float(random_fraction.loc[nulls].mean()) if nulls else np.nan
    row["null_genes"] = ",".join(map(str, nulls))
    return row


def _null_interval(fraction, null_fractions, n_boot: int, confidence: float, rng) -> dict:
    """Null mean and the difference, with percentile intervals from resampling null genes."""
    if null_fractions.size == 0:
        nan = float("nan")
        keys = ("null_fraction", "null_low", "null_high", "difference")
        return {**dict.fromkeys(keys, nan), "difference_low": nan, "difference_high": nan}
    picks = rng.integers(0, null_fractions.size, size=(n_boot, null_fractions.size))
    boot = null_fractions[picks].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(boot, [tail, 100 - tail])
    mean = float(null_fractions.mean())
    return {
        "null_fraction": mean,
        "null_low": float(low),
        "null_high": float(high),
        "difference": float(fraction - mean),
        "difference_low": float(fraction - high),
        "difference_high": float(fraction - low),
    }


def _fisher_greater(hits: float, total: int, null_hits: float, null_total: int) -> float:
    """One-sided Fisher exact p that ``hits / total`` exceeds ``null_hits / null_total``."""
    if not null_total:
        return float("nan")
    hits, null_hits = int(round(hits)), int(round(null_hits))
    table = [[hits, total - hits], [null_hits, null_total - null_hits]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


def _at_gene(links, gene, nulls, top_peaks, window: int, k: int) -> np.ndarray:
    """Per null gene: the share of its top links that lie within ``window`` of ``gene``'s TSS."""
    own = links.loc[links["gene"] == gene].set_index("peak")["distance_to_tss"]
    return np.array(
        [in_window(own.reindex(top_peaks[g]).to_numpy(np.float64), window).sum() / k for g in nulls]
    )


def summarise(table: pd.DataFrame, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0):
    """One row per score: means over genes, a bootstrap interval over genes, genes that win.

    ``difference_low`` / ``difference_high`` (and ``_at_gene``) resample the genes, each with
    its null mean fixed; ``genes_beating_null`` counts genes whose own interval lies above 0,
    ``genes_below_null`` those whose interval lies below.
    """
    rng = np.random.default_rng(seed)
    tail = 100 * (1 - confidence) / 2
    rows = []
    for score, part in table.groupby("score", sort=False):
        row = dict(score=score, genes=len(part))
        for column in ("fraction", "null_fraction", "null_at_gene_fraction", "random_fraction"):
            row[column] = part[column].mean()
        for suffix in ("", "_at_gene"):
            diff = part[f"difference{suffix}"].to_numpy(np.float64)
            boot = diff[rng.integers(0, diff.size, size=(n_boot, diff.size))].mean(axis=1)
            low, high = np.percentile(boot, [tail, 100 - tail])
            row[f"difference{suffix}"] = diff.mean()
            row[f"difference{suffix}_low"], row[f"difference{suffix}_high"] = low, high
            row[f"genes_beating_null{suffix}"] = int((part[f"difference_low{suffix}"] > 0).sum())
            row[f"genes_below_null{suffix}"] = int((part[f"difference_high{suffix}"] < 0).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def links_from_matrix(mdata, genes: Sequence[str], score: np.ndarray, name: str) -> pd.DataFrame:
    """A (genes, peaks) score matrix of any method as a long link table with TSS distances."""
    from genepeak.links.baselines import signed_distances

    peaks = np.asarray(mdata.mod["atac"].var_names).astype(str)
    score = np.asarray(score, np.float64)
    if score.shape != (len(genes), len(peaks)):
        raise InputError(
            f"{name}: scores of shape {score.shape}; expected {(len(genes), len(peaks))}"
        )
    distance = signed_distances(mdata, list(genes))
    return pd.DataFrame(
        {
            "gene": np.repeat(np.asarray(genes, dtype=str), len(peaks)),
            "peak": np.tile(peaks, len(genes)),
            "distance_to_tss": distance.ravel(),
            name: score.ravel(),
        }
    )


def marker_tss_proximity(
    model,
    mdata,
    genes: Sequence[str] | None = None,
    *,
    scores: Sequence[str] = ("link_score", "zscore"),
    k: int = 3,
    window: int = NEAR_TSS,
    n_null: int = 10,
    config=None,
    links: pd.DataFrame | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Link the genes and their matched null genes with the model; test TSS proximity.

    ``genes`` default to all of ``model.genes``; null genes are matched on all cells
    (:func:`matched_genes`, ``seed`` breaking ties) and linked with
    :func:`~genepeak.explain.linking.link_scores` (``config`` an
    :class:`~genepeak.config.ExplainConfig`), unless ``links`` already holds their table. Returns ``(per-gene table over every score, link table)``.
    """
    from genepeak.explain import values

    model_genes = [str(g) for g in model.genes]
    genes = model_genes if genes is None else [str(g) for g in genes]
    rna = mdata.mod["rna"]
    x = values.model_rows(rna, model_genes, list(rna.obs_names))
    nulls = matched_genes(x, model_genes, genes, n_null, seed)
    needed = list(dict.fromkeys([*genes, *(g for n in nulls.values() for g in n)]))
    if links is None:
        links = _link_in_groups(model, mdata, needed, config)
    table = pd.concat(
        [tss_proximity(links, nulls, score=s, k=k, window=window, seed=seed) for s in scores],
        ignore_index=True,
    )
    return table, links


def _link_in_groups(model, mdata, genes: list[str], config) -> pd.DataFrame:
    """``link_scores`` of ``genes``, a few at a time when the model has few genes.

    link_scores draws its null genes from the genes it is not asked to link; with 45 genes,
    asking for all of them at once would leave none. Groups keep ``3 * n_null_genes`` others.
    """
    from genepeak.config import ExplainConfig
    from genepeak.explain.linking import link_scores

    n_null = (config or ExplainConfig()).n_null_genes
    size = max(1, len(model.genes) - 3 * n_null)
    tables = [
        link_scores(model, mdata, genes[i : i + size], config=config)
        for i in range(0, len(genes), size)
    ]
    return pd.concat(tables, ignore_index=True)
