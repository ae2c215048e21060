"""How far from its gene a real regulatory link sits, and the simulator's ``real`` link profile.

Reads the two truth tables of ``../shared/data/truth/`` (see its README; they are never copied
into the project) and prints the share of positive links per distance-to-TSS bin:

- K562 CRISPRi positives (``Regulated == TRUE``, the ``distanceToTSS`` column), 471 pairs;
- fine-mapped immune eQTLs (eQTL Catalogue v7, PIP >= 0.5) of the immune sets the README names
  (OneK1K's T_CD4_pos, T_CD8_pos, NK, B and monocyte, and blood, Treg, monocyte_CD16_pos): the
  variant's distance to its gene's TSS in ``annotations/orgHsEgDb_3.16_hg38_gene_coords.tsv.gz``,
  the gene found by symbol, else by Ensembl ID (first annotation row), on the same chromosome.
  This gives 20,987 rows, within 0.2 percentage points of the README's table in every bin (the
  README counts 20,907 rows; its exact gene matching is not written down).

``--write`` stores the derived shares (bins, shares, counts and sources; no row of the tables)
in ``src/genepeak/data/real_link_distances.json``, which ``genepeak.simulate`` reads for
``link_profile="real"``. ``--compare-shape`` prints those shares beside the planted links of the
simulator's ``real`` and ``reference`` profiles (the table of docs/links.md).

    python benchmarks/truth_distances.py [--write] [--compare-shape small] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("GENEPEAK_QUIET", "1")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OUT = Path(__file__).resolve().parents[1] / "src" / "genepeak" / "data" / "real_link_distances.json"
CRISPRI = "truth/EPCrisprBenchmark_training_K562_GRCh38.tsv.gz"
EQTL = "truth/eQTL_catalogue_v7_finemapped_PIP0.5.tsv.gz"
GENES = "annotations/orgHsEgDb_3.16_hg38_gene_coords.tsv.gz"
IMMUNE_TISSUES = (
    "T_CD4_pos",
    "T_CD8_pos",
    "NK",
    "B",
    "monocyte",
    "blood",
    "Treg",
    "monocyte_CD16_pos",
)
#: bin edges in bp from the TSS; the last one only bounds the simulator's draws (the K562
#: screens' farthest positive is 1.96 Mb; eQTL Catalogue fine-maps within 1 Mb of the gene)
EDGES = (0, 2_000, 10_000, 30_000, 100_000, 300_000, 1_000_000, 2_000_000)
LABELS = ("<= 2 kb", "2-10 kb", "10-30 kb", "30-100 kb", "100-300 kb", "300 kb-1 Mb", "> 1 Mb")
DIGITS = 4  # shares are stored as fractions with 4 decimals (0.01 percentage points)


def crispri_distances(data: Path) -> np.ndarray:
    """|distance to TSS| in bp of every CRISPRi-positive element-gene pair."""
    table = pd.read_csv(data / CRISPRI, sep="\t", usecols=["Regulated", "distanceToTSS"])
    return table.loc[table["Regulated"].astype(bool), "distanceToTSS"].abs().to_numpy()


def _tss_lookup(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gene TSS and chromosome by symbol and by Ensembl ID (the first row of each)."""
    genes = pd.read_csv(data / GENES, sep="\t", usecols=["chrom", "symbol", "tss", "ensembl_ids"])
    by_symbol = genes.drop_duplicates("symbol").set_index("symbol")
    ensembl = genes.dropna(subset=["ensembl_ids"]).assign(
        ens=lambda g: g["ensembl_ids"].str.split(",")
    )
    by_ensembl = ensembl.explode("ens").drop_duplicates("ens").set_index("ens")
    return by_symbol[["chrom", "tss"]], by_ensembl[["chrom", "tss"]]


def eqtl_distances(data: Path) -> np.ndarray:
    """|variant - TSS| in bp of every immune fine-mapped eQTL whose gene has a TSS."""
    eqtl = pd.read_csv(data / EQTL, sep="\t")
    eqtl = eqtl[eqtl["tissue"].isin(IMMUNE_TISSUES)]
    by_symbol, by_ensembl = _tss_lookup(data)
    symbol, ensembl = eqtl["gene_hgnc"], eqtl["gene_ensembl"]
    tss = symbol.map(by_symbol["tss"]).fillna(ensembl.map(by_ensembl["tss"]))
    chrom = symbol.map(by_symbol["chrom"]).fillna(ensembl.map(by_ensembl["chrom"]))
    matched = tss.notna() & (chrom == eqtl["chr"])
    return (eqtl["start"] - tss)[matched].abs().to_numpy()


def bin_shares(distances: np.ndarray) -> list[float]:
    """Share of ``distances`` per bin of ``EDGES`` (right-closed; the last bin is open)."""
    which = np.searchsorted(EDGES[1:-1], distances, side="left")  # edges[i-1] < d <= edges[i]
    counts = np.bincount(which, minlength=len(LABELS))
    return [round(float(c), DIGITS) for c in counts / len(distances)]


def derive(data: Path = DATA) -> dict:
    """The content of ``real_link_distances.json``, from the truth tables under ``data``."""
    crispri, eqtl = crispri_distances(data), eqtl_distances(data)
    sets = {
        "crispri_k562": {
            "source": f"{CRISPRI}: K562 CRISPRi positives (Regulated == TRUE), distanceToTSS",
            "n_links": len(crispri),
            "shares": bin_shares(crispri),
        },
        "immune_eqtl": {
            "source": f"{EQTL}: fine-mapped eQTLs (PIP >= 0.5) of {', '.join(IMMUNE_TISSUES)}; "
            f"variant to TSS of {GENES} (symbol, else Ensembl ID; same chromosome)",
            "n_links": len(eqtl),
            "shares": bin_shares(eqtl),
        },
    }
    mean = np.mean([s["shares"] for s in sets.values()], axis=0)
    return {
        "description": "Share of positive enhancer-gene links per distance-to-TSS bin, derived "
        "by benchmarks/truth_distances.py from ../shared/data (not shipped). The simulator's "
        "link_profile='real' draws its planted cis links from profile.shares.",
        "bin_edges_bp": list(EDGES),
        "bin_labels": list(LABELS),
        "sets": sets,
        "profile": {
            "name": "real",
            "rule": "mean of crispri_k562 and immune_eqtl (see genepeak.simulate)",
            "shares": [round(float(v), DIGITS) for v in mean],
        },
    }


def format_shares(columns: dict[str, list[float]]) -> str:
    """Rows = distance bins, one column of percentages per entry of ``columns``."""
    frame = pd.DataFrame({k: 100 * np.asarray(v) for k, v in columns.items()}, index=LABELS)
    frame.index.name = "distance to TSS"
    return frame.to_string(float_format=lambda v: f"{v:.1f}%")


def simulated_shares(shape: str, seeds: list[int], link_profile: str) -> tuple[list[float], int]:
    """Distance-bin shares of the planted same-chromosome links of ``shape`` (over ``seeds``)."""
    from genepeak.simulate import layout

    distances = []
    for seed in seeds:
        lay = layout(shape, seed, link_profile=link_profile)
        planted = lay.peaks.iloc[lay.planted]
        tss = lay.genes.iloc[planted["gene"].to_numpy()][["chrom", "tss"]].to_numpy()
        same = planted["chrom"].to_numpy() == tss[:, 0]
        centre = ((planted["start"] + planted["end"]) // 2).to_numpy()
        distances.append(np.abs(centre - tss[:, 1].astype(np.int64))[same])
    distances = np.concatenate(distances)
    return bin_shares(distances), len(distances)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="shared/data folder")
    parser.add_argument("--write", action="store_true", help=f"write {OUT.name}")
    parser.add_argument("--compare-shape", help="also print the simulator's planted links")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()

    derived = derive(args.data)
    sets = derived["sets"]
    columns = {f"{k} ({v['n_links']:,})": v["shares"] for k, v in sets.items()}
    columns["real profile (mean)"] = derived["profile"]["shares"]
    print(format_shares(columns))
    if args.write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(derived, indent=2) + "\n")
        print(f"wrote {OUT}")
    if args.compare_shape:
        for profile in ("real", "reference"):
            shares, n = simulated_shares(args.compare_shape, args.seeds, profile)
            columns[f"simulated {profile} ({n})"] = shares
        print(f"\nplanted same-chromosome links, shape {args.compare_shape}, seeds {args.seeds}")
        print(format_shares(columns))


if __name__ == "__main__":
    main()
