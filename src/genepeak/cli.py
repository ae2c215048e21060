"""The ``genepeak`` command: thin argument parsing on top of the Python API."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from genepeak.errors import GenepeakError


def _simulate(args: argparse.Namespace) -> None:
    from genepeak.simulate import simulate

    result = simulate(
        args.out,
        shape=args.shape,
        seed=args.seed,
        fragments=args.fragments,
        link_strength=args.link_strength,
        genome=args.genome,
        link_profile=args.link_profile,
        trans_share=args.trans_share,
    )
    print(
        f"wrote {result.n_cells} cells x {result.n_genes} genes x {result.n_peaks} peaks "
        f"to {result.out_dir} (ground truth: {result.links_path}; sham genes: {result.sham_path})"
    )


def _prepare(args: argparse.Namespace) -> None:
    from genepeak.config import PrepareConfig, from_dict, load_config, to_dict
    from genepeak.errors import ConfigError
    from genepeak.outputs import write_prepare_figures
    from genepeak.prepare.pipeline import check_figures_dir, prepare

    if (args.input is None) == (args.rna is None):
        raise ConfigError(
            "give the data either as --input (ARC outs folder, .h5, .h5mu or rna.h5ad,atac.h5ad) "
            "or as --rna FILE with --fragments atac_fragments.tsv.gz, not both"
        )
    if args.rna is not None and args.fragments is None:
        raise ConfigError("--rna needs --fragments atac_fragments.tsv.gz (the ATAC side)")
    config = load_config(PrepareConfig, args.config) if args.config else PrepareConfig()
    if args.genome is not None:
        config = from_dict(PrepareConfig, {**to_dict(config), "genome": args.genome}, "--genome")
    if args.figures is not None:
        check_figures_dir(args.figures)  # before the work, not after
    mdata = prepare(
        args.input or args.rna,
        config,
        out=args.out,
        labels_key=args.labels_key,
        fragments=args.fragments,
    )
    if args.figures is not None:
        write_prepare_figures(mdata, args.figures)
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    print(f"wrote {args.out}: {mdata.n_obs} paired cells, {rna.n_vars} genes, {atac.n_vars} peaks")


def _download(args: argparse.Namespace) -> None:
    from genepeak.io.download import download

    for kind, path in download(args.name, args.dir).items():
        print(f"{kind}: {path}")


def _train(args: argparse.Namespace) -> None:
    from genepeak.config import load_yaml
    from genepeak.models import fit_from_config

    config = load_yaml(args.config)
    train_overrides = config.setdefault("train", {})
    if args.devices is not None:
        train_overrides["devices"] = args.devices
    if args.strategy is not None:
        train_overrides["strategy"] = args.strategy
    if args.resume:
        config["resume"] = True
    if args.stream:
        config["stream"] = True
    model = fit_from_config(config)
    print(f"trained {type(model).__name__}; saved to {config.get('out')}")


def _explain(args: argparse.Namespace) -> None:
    from genepeak import outputs
    from genepeak.config import ExplainConfig, load_config
    from genepeak.errors import InputError
    from genepeak.explain import explain_gene
    from genepeak.io import prepared
    from genepeak.models import load
    from genepeak.models.fit import DATA_PATH_FILE

    data = args.data
    if data is None:
        record = Path(args.model) / DATA_PATH_FILE
        if not record.is_file():
            raise InputError(
                f"{args.model} does not record the data it was trained on; pass --data FILE.h5mu"
            )
        data = record.read_text().strip()
    if args.value and args.count:
        raise InputError("give new values either with --value (log1p scale) or --count, not both")
    values = args.value or args.count
    if values is not None and len(values) != len(args.gene):
        raise InputError(
            f"{len(args.gene)} --gene but {len(values)} values: give one value per gene"
        )
    config = load_config(ExplainConfig, args.config) if args.config else ExplainConfig()
    mdata = prepared.read(data, "--data" if args.data else f"{args.model}/{DATA_PATH_FILE}")
    model = load(args.model, mdata)
    result = explain_gene(
        model,
        mdata,
        args.gene,
        values,
        cell_type=args.cell_type,
        cell=args.cell,
        values_are_counts=args.count is not None,
        population=args.population,
        config=config,
        labels_key=args.labels_key,
    )
    outputs.write_result(result, args.out, config.top_k)
    print("; ".join(result.changes), f"in {result.summary()['cell']}")
    columns = [
        c
        for c in ("peak", "direction", "score", "shift", "flip_frequency", "fdr", "distance_to_tss")
        if c in result.table.columns
    ]
    print(result.table[columns].head(10).to_string(index=False))
    print(f"tables, plots and link files in {args.out}")


def _run(args: argparse.Namespace) -> None:
    from genepeak.pipeline import run_from_cli

    run_from_cli(
        out=args.out,
        input=args.input,
        config_path=args.config,
        labels_key=args.labels_key,
        shape=args.shape,
        seed=args.seed,
        preset=args.preset,
    )


def _benchmark_links(args: argparse.Namespace) -> None:
    from genepeak.benchmark import benchmark_links
    from genepeak.config import ExplainConfig

    result = benchmark_links(
        args.out,
        shape=args.shape,
        seeds=args.seeds,
        link_strengths=args.link_strength,
        link_profile=args.link_profile,
        preset=args.preset,
        input=args.input,
        truth=args.truth,
        sham_genes=args.sham_genes,
        labels_key=args.labels_key,
        keep_data=args.keep_data,
        explain_config=ExplainConfig(link_models=args.link_models),
    )
    print(result.format())
    print(f"wrote {', '.join(str(p) for p in result.paths.values())}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``genepeak`` command."""
    parser = argparse.ArgumentParser(
        prog="genepeak",
        description="Paired single-cell RNA + ATAC: prepare, train GPG / PGP / Dual VAEs, "
        "evaluate, explain, report.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_run,
        _add_simulate,
        _add_prepare,
        _add_download,
        _add_train,
        _add_explain,
        _add_links,
        _add_benchmark_links,
    ):
        add(sub)
    return parser


def _add_run(sub) -> None:
    """The ``genepeak run`` subcommand."""
    p = sub.add_parser("run", help="the whole path (default: on the built-in simulated data)")
    p.add_argument("--out", default="genepeak_output", help="output folder")
    p.add_argument("--input", help="10x ARC outs folder, ARC .h5, .h5mu, or rna.h5ad,atac.h5ad")
    p.add_argument("--config", help="run.yaml with prepare/models/train/evaluate/explain options")
    p.add_argument("--labels-key", help="obs column with reference labels, e.g. cell_type")
    p.add_argument(
        "--shape", help="size of the simulated data: tiny, small, medium, pbmc3k, pbmc10k"
    )
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument(
        "--preset",
        choices=["fast", "thesis"],
        help="model presets: fast (default; 2 CPU cores, a cell-pass budget) or thesis (the "
        "reference design's widths, learning rates and epochs)",
    )
    p.set_defaults(func=_run)


def _add_simulate(sub) -> None:
    """The ``genepeak simulate`` subcommand."""
    p = sub.add_parser("simulate", help="write a PBMC-like multiome in 10x ARC layout")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--shape", default="small", help="tiny, small, medium, pbmc3k or pbmc10k")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fragments", action="store_true", help="also write atac_fragments.tsv.gz")
    p.add_argument(
        "--link-strength", type=float, default=1.0, help="scale of every planted effect (1.0)"
    )
    p.add_argument("--genome", default="hg38", help="hg38 (default) or mm10")
    _add_link_profile(p)
    p.add_argument(
        "--trans-share",
        type=float,
        default=0.0,
        help="with --link-profile real: share of links on another chromosome (default 0)",
    )
    p.set_defaults(func=_simulate)


def _add_link_profile(p) -> None:
    p.add_argument(
        "--link-profile",
        choices=["reference", "real"],
        default="reference",
        help="where planted links sit: reference (fixed kind shares, the default) or real "
        "(distances to the TSS of real links: K562 CRISPRi and immune eQTLs)",
    )


def _add_prepare(sub) -> None:
    """The ``genepeak prepare`` subcommand."""
    p = sub.add_parser("prepare", help="QC, normalise and pair 10x multiome into one .h5mu")
    p.add_argument("--input", help="ARC outs folder, .h5, .h5mu or rna,atac .h5ad")
    p.add_argument("--rna", help="RNA-only matrix (.h5, MEX folder, .h5ad) for --fragments")
    p.add_argument(
        "--fragments", help="atac_fragments.tsv.gz (+ .tbi): ATAC QC, and peaks when no matrix"
    )
    p.add_argument("--genome", help="hg38, hg19, mm10 or GRCm39 (default: from the 10x file)")
    p.add_argument("--out", required=True, help="output .h5mu")
    p.add_argument("--config", help="prep.yaml (PrepareConfig options)")
    p.add_argument("--labels-key", help="existing obs column to use as reference labels")
    p.add_argument("--figures", help="folder for QC figures")
    p.set_defaults(func=_prepare)


def _add_download(sub) -> None:
    """The ``genepeak download`` subcommand."""
    p = sub.add_parser("download", help="fetch 10x PBMC multiome files (needs internet)")
    p.add_argument("name", choices=["pbmc3k", "pbmc10k"])
    p.add_argument("--dir", default=str(Path.home() / ".cache" / "genepeak"))
    p.set_defaults(func=_download)


def _add_train(sub) -> None:
    """The ``genepeak train`` subcommand."""
    p = sub.add_parser("train", help="train one model from a YAML config")
    p.add_argument("--config", required=True, help="YAML: data, out, preset, model, train")
    p.add_argument("--devices", type=int, help="number of devices (DDP when > 1)")
    p.add_argument("--strategy", help="Lightning strategy, e.g. ddp")
    p.add_argument("--resume", action="store_true", help="resume from the last checkpoint")
    p.add_argument(
        "--stream", action="store_true", help="read minibatches from the file (more cells than RAM)"
    )
    p.set_defaults(func=_train)


def _add_explain(sub) -> None:
    """The ``genepeak explain`` subcommand."""
    p = sub.add_parser("explain", help="perturb genes in a cell and rank the peaks that flip")
    p.add_argument("--model", required=True, help="trained model folder")
    p.add_argument("--data", help="prepared .h5mu (default: the data the model was trained on)")
    p.add_argument("--gene", action="append", required=True, help="gene to perturb (repeatable)")
    p.add_argument("--value", type=float, action="append", help="new value (log1p scale)")
    p.add_argument("--count", type=float, action="append", help="new value as a raw count")
    p.add_argument("--cell-type", help="cell type whose representative cell is perturbed")
    p.add_argument("--cell", help="a cell barcode to perturb instead")
    p.add_argument("--population", action="store_true", help="perturb every cell of the type")
    p.add_argument("--labels-key", help="obs column that defines --cell-type (default: markers)")
    p.add_argument("--config", help="explain.yaml (ExplainConfig options)")
    p.add_argument("--out", default="genepeak_explain", help="output folder")
    p.set_defaults(func=_explain)


def _links(args: argparse.Namespace) -> None:
    from genepeak.io import prepared
    from genepeak.links.genome import LinkOptions, link_genes
    from genepeak.outputs import write_links

    genes = _gene_list(args)
    mdata = prepared.read(args.data)
    model = None
    if args.model:
        from genepeak.models import load

        model = load(args.model, mdata)
    options = LinkOptions(
        window=args.window,
        state_pcs=args.state_pcs,
        fdr=args.fdr,
        min_cells=args.min_cells,
        skip_small_groups=args.skip_small_groups,
        distance_prior=not args.no_distance_prior,
        seed=args.seed,
    )
    result = link_genes(
        mdata, genes, groupby=args.groupby, model=model, options=options, key_added=None
    )
    write_links(result, mdata, args.out, groupby=args.groupby)
    called = result.called("all")
    print(
        f"{len(called):,} links called (BH FDR < {args.fdr}) over all cells, "
        f"{result.links['gene'].nunique():,} genes, {result.seconds['total']:.1f} s"
    )
    columns = ["gene", "peak", "distance_to_tss", "partial_r", "fdr", "link_score"]
    print(called[columns].head(10).to_string(index=False))
    print(f"tables and links.html in {args.out}")


def _gene_list(args: argparse.Namespace):
    """``--genes`` (names, ``hvg`` or ``all``) or ``--genes-file``, not both."""
    from genepeak.errors import InputError

    if args.genes and args.genes_file:
        raise InputError("give genes either with --genes or with --genes-file, not both")
    if args.genes_file:
        path = Path(args.genes_file)
        if not path.is_file():
            raise InputError(f"--genes-file: {path} does not exist")
        genes = [line.strip() for line in path.read_text().splitlines()]
        genes = [g for g in genes if g and not g.startswith("#")]
        if not genes:
            raise InputError(f"--genes-file: {path} names no gene (one gene per line)")
        return genes
    if not args.genes:
        return "hvg"
    if len(args.genes) == 1 and args.genes[0] in ("hvg", "all"):
        return args.genes[0]
    return args.genes


def _add_links(sub) -> None:
    """The ``genepeak links`` subcommand."""
    from genepeak.links.genome import LinkOptions

    defaults = LinkOptions()
    p = sub.add_parser(
        "links",
        help="gene -> peak links from a prepared .h5mu: every gene's peaks within a window, "
        "per cell type, with track plots and a heatmap",
        description="Score every peak within --window of each gene's TSS by the partial "
        "correlation of gene and peak given the cell state (RNA PCs, ATAC depth), on each "
        "gene's empirical null, BH FDR per population; link_score adds a distance prior "
        "learned from the data. No model is needed and none is "
        "trained: the default runs on the data alone in minutes. --model adds a trained "
        "model's latent to the cell state (one forward pass per gene: for chosen genes).",
    )
    p.add_argument("--data", required=True, help="prepared .h5mu (genepeak prepare)")
    p.add_argument(
        "--genes", nargs="+", help="gene names, or 'hvg' (default) or 'all'", default=None
    )
    p.add_argument("--genes-file", help="file with one gene per line")
    p.add_argument("--groupby", help="obs column: links within each group, and a comparison")
    p.add_argument("--model", help="saved genepeak model (its latent joins the cell state)")
    p.add_argument("--out", default="genepeak_links", help="output folder")
    p.add_argument("--window", type=int, default=defaults.window, help="bp from the TSS (1 Mb)")
    p.add_argument(
        "--state-pcs", type=int, default=defaults.state_pcs, help="RNA PCs in the state (15)"
    )
    p.add_argument("--fdr", type=float, default=defaults.fdr, help="BH FDR of a call (0.05)")
    p.add_argument(
        "--min-cells", type=int, default=defaults.min_cells, help="cells a group needs (50)"
    )
    p.add_argument(
        "--skip-small-groups",
        action="store_true",
        help="skip groups with fewer than --min-cells cells (logged) instead of stopping",
    )
    p.add_argument(
        "--no-distance-prior",
        action="store_true",
        help="link_score without the distance prior learned from the data (calls are the same)",
    )
    p.add_argument("--seed", type=int, default=defaults.seed, help="seed of the null peaks")
    p.set_defaults(func=_links)


def _add_benchmark_links(sub) -> None:
    """The ``genepeak benchmark-links`` subcommand."""
    p = sub.add_parser(
        "benchmark-links", help="score every gene -> peak link method against planted truth"
    )
    p.add_argument("--out", default="genepeak_link_benchmark", help="output folder")
    p.add_argument(
        "--shape", default="small", help="simulated shape: tiny, small, medium, pbmc3k, pbmc10k"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5], help="simulation seeds")
    p.add_argument(
        "--link-strength", type=float, nargs="+", default=[1.0], help="planted link strengths"
    )
    _add_link_profile(p)
    p.add_argument(
        "--preset",
        choices=["small", "reference"],
        help="GPG preset (default: small on simulated data, reference with --input)",
    )
    p.add_argument("--input", help="prepared .h5mu to benchmark instead of simulating")
    p.add_argument("--truth", help="truth table for --input (TSV: gene, peak, effect)")
    p.add_argument("--sham-genes", help="TSV with a gene column: genes that drive nothing")
    p.add_argument("--labels-key", help="obs column with cell types (default leiden)")
    p.add_argument("--keep-data", action="store_true", help="keep simulated data under --out")
    p.add_argument(
        "--link-models", type=int, default=1, help="GPGs averaged for the link score (default 1)"
    )
    p.set_defaults(func=_benchmark_links)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``genepeak`` console command."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except GenepeakError as err:
        print(f"genepeak {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"genepeak {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        # a file problem outside genepeak's own checks (disk full, permissions, ...)
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"genepeak {args.command}: error: {err.strerror or err}{where}", file=sys.stderr)
        return 2
    except Exception as err:  # no traceback reaches a user unless asked for
        if os.environ.get("GENEPEAK_DEBUG"):
            raise
        print(
            f"genepeak {args.command}: internal error: {type(err).__name__}: {err}. This is a "
            "bug in genepeak; rerun with GENEPEAK_DEBUG=1 to see the traceback and report it",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
