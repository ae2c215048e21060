"""Every option of genepeak as plain dataclasses, validated once at the edge.

Defaults follow the reference design. ``from_dict`` refuses unknown keys (suggesting the
closest valid one), wrong types and out-of-range values, listing the valid choices.
YAML files map one-to-one onto these classes (see ``load_config``).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from genepeak.errors import ConfigError

C = TypeVar("C")

ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "tanh")
NORMS = (None, "batch", "layer")
RNA_LOSSES = ("mse", "l1", "huber", "weighted_mse", "nb")
ATAC_LOSSES = ("mse", "l1", "huber", "weighted_mse", "bernoulli", "poisson")
ALIGNMENTS = ("l2", "skl", "fusion")
ARCHITECTURES = ("gpg", "pgp", "dual")
GENE_SETS = ("all", "hvg")
#: how explain ranks peaks: by the posterior-mean shift beyond null genes, or by flip frequency
RANK_BY = ("link", "shift", "flips")
PRECISIONS = ("auto", "32", "bf16")
OPTIMIZERS = ("adam", "adamw")
LR_SCHEDULES = ("constant", "cosine", "plateau")
SHAPES = ("tiny", "small", "pbmc3k", "pbmc10k", "medium")  # as genepeak.simulate.SHAPES
QC_MODES = ("mad", "fixed")
#: reference genomes genepeak knows (genepeak.io.genome), with their common aliases
GENOMES = ("hg38", "hg19", "mm10", "GRCm39", "GRCh38", "GRCh37", "GRCm38", "mm39")


def _choices(*values: Any) -> dict:
    return {"choices": values}


def _range(lo: float | None = None, hi: float | None = None) -> dict:
    return {"min": lo, "max": hi}


@dataclass
class PrepareConfig:
    """Preprocessing of RNA and ATAC, as the reference design does it."""

    # Cell quality control (genepeak.prepare.qc). qc_mode "mad": a cell is removed when a
    # metric lies more than mad_* median absolute deviations from the median of all cells (the
    # scverse best-practice rule; None turns that rule off). qc_mode "fixed": the reference
    # design's thresholds (max_pct_mt, max_pct_ribo, min_genes_per_cell) instead of the RNA
    # MAD rules. Every rule's removals land in mdata.uns["genepeak"]["qc_rules"].
    qc_mode: str = field(default="mad", metadata=_choices(*QC_MODES))
    mad_counts: float | None = field(default=5.0, metadata=_range(0))  # log1p counts, both
    mad_genes: float | None = field(default=5.0, metadata=_range(0))  # log1p genes, both sides
    mad_pct_mt: float | None = field(default=3.0, metadata=_range(0))  # % MT counts, upper
    mad_pct_ribo: float | None = field(default=5.0, metadata=_range(0))  # % ribosomal, upper
    # ATAC, from the fragments file (snapatac2) or ARC's per_barcode_metrics.csv
    mad_atac_fragments: float | None = field(default=5.0, metadata=_range(0))  # log1p, both
    mad_tsse: float | None = field(default=3.0, metadata=_range(0))  # TSS enrichment, lower
    mad_nucleosome_signal: float | None = field(default=3.0, metadata=_range(0))  # upper
    mad_frip: float | None = field(default=3.0, metadata=_range(0))  # FRiP / TSS fraction, lower
    # qc_mode "fixed" (the reference design on PBMC 3k)
    max_pct_mt: float = field(default=25.0, metadata=_range(0, 100))
    max_pct_ribo: float = field(default=15.0, metadata=_range(0, 100))
    min_genes_per_cell: int = field(default=100, metadata=_range(0))
    # either mode, when set
    max_pct_hb: float | None = field(default=None, metadata=_range(0, 100))
    min_counts_per_cell: int | None = field(default=None, metadata=_range(0))
    max_counts_per_cell: int | None = field(default=None, metadata=_range(0))
    min_cells_per_gene: int = field(default=3, metadata=_range(0))
    run_scrublet: bool = True
    filter_doublets: bool = False
    # RNA normalisation and embedding
    n_top_genes: int = field(default=2000, metadata=_range(1))
    batch_key: str | None = None
    n_pcs: int = field(default=50, metadata=_range(2))
    n_neighbors: int = field(default=15, metadata=_range(2))
    leiden_resolution: float = field(default=1.0, metadata=_range(0))
    compute_umap: bool = True
    # ATAC
    standard_chromosomes_only: bool = True
    blacklist: str | None = None
    min_peak_fraction: float = field(default=0.03, metadata=_range(0, 1))
    call_peaks: bool = False  # call peaks from the fragments (MACS3) even when a matrix exists
    # ATAC QC metrics from the fragments file when one is found (snapatac2 reads every fragment:
    # ~20 s per 4 M fragments on 2 busy cores); False: ARC's per_barcode_metrics.csv instead
    fragment_qc: bool = True
    peak_qvalue: float = field(default=0.05, metadata=_range(0, 1))
    # reference genome (peak-calling genome size, standard chromosomes, TSS annotation);
    # None: the genome the 10x features name (GRCh38, mm10, ...), else hg38
    genome: str | None = field(default=None, metadata=_choices(None, *GENOMES))
    # GTF / GFF3 for TSS enrichment; default: the genes' TSS (gene_annotation or the RNA var)
    tss_annotation: str | None = None
    # gene coordinates for data whose genes carry no interval (TSV with gene, chrom, start, end[, strand, tss])
    gene_annotation: str | None = None
    # cells
    labels_key: str = "leiden"
    # TSV with a 'barcode' column (or barcodes first) and label columns joined onto obs
    labels_file: str | None = None
    subsample_fraction: float | None = field(default=None, metadata=_range(0, 1))
    subsample_key: str | None = None
    seed: int = 0


@dataclass
class ModelConfig:
    """Architecture and losses of one model (GPG, PGP or Dual VAE)."""

    architecture: str = field(default="gpg", metadata=_choices(*ARCHITECTURES))
    latent_dim: int = field(default=256, metadata=_range(1))
    hidden: list[int] = field(default_factory=lambda: [1024])
    activation: str = field(default="tanh", metadata=_choices(*ACTIVATIONS))
    dropout: float = field(default=0.0, metadata=_range(0, 0.95))
    norm: str | None = field(default=None, metadata=_choices(*NORMS))
    rna_loss: str = field(default="mse", metadata=_choices(*RNA_LOSSES))
    atac_loss: str = field(default="mse", metadata=_choices(*ATAC_LOSSES))
    huber_delta: float = field(default=1.0, metadata=_range(0))
    nonzero_weight: float = field(default=5.0, metadata=_range(0))
    alignment: str = field(default="l2", metadata=_choices(*ALIGNMENTS))
    alignment_weight: float = field(default=1.0, metadata=_range(0))
    # Dual VAE: weight of the cross-decoding (translation) losses RNA latent -> peaks, ATAC -> genes
    cross_weight: float = field(default=1.0, metadata=_range(0))
    # GPG/PGP: let stage 2's loss reach stage 1 through the predicted middle modality
    # (end-to-end). Off by default: on the default data it kept stage 1 at the mean profile.
    joint_stages: bool = False
    genes: str = field(default="all", metadata=_choices(*GENE_SETS))
    # GPG/PGP stage 1: a direct weight for every gene-peak pair closer than cis_window bp
    # (nn/cis.py), beside the latent path; 0 turns it off. cis_l2: its ridge penalty.
    cis_window: int = field(default=0, metadata=_range(0))
    cis_l2: float = field(default=1e-3, metadata=_range(0))


@dataclass
class TrainConfig:
    """Optimisation, schedule, split and hardware options."""

    epochs: int = field(default=30, metadata=_range(1))
    # a budget of cell passes (training cells x epochs): epochs are capped at
    # ceil(max_cell_passes / training cells), at least MIN_BUDGET_EPOCHS, and the KL warm-up
    # shrinks with them; None: ``epochs`` alone (docs/speed.md)
    max_cell_passes: int | None = field(default=None, metadata=_range(1))
    lr: float = field(default=1e-4, metadata=_range(0))
    # linear learning-rate warm-up over this many optimiser steps (0: none); see
    # train.schedule.warmup_factor
    lr_warmup_steps: int = field(default=0, metadata=_range(0))
    weight_decay: float = field(default=0.0, metadata=_range(0))
    batch_size: int | None = field(default=512, metadata=_range(1))  # None = full batch
    beta_min: float = field(default=0.0, metadata=_range(0))
    beta_max: float = field(default=0.1, metadata=_range(0))
    beta_warmup_epochs: int = field(default=20, metadata=_range(0))
    seed: int = 0
    val_fraction: float = field(default=0.1, metadata=_range(0, 0.5))
    test_fraction: float = field(default=0.2, metadata=_range(0, 0.5))
    labels_key: str = "leiden"
    # early stopping on the validation objective (the loss at beta_max, so epochs of the KL
    # warm-up compare fairly): stop after this many epochs without an improvement larger
    # than min_delta; ``epochs`` is then the budget. None: train every epoch.
    early_stopping_patience: int | None = field(default=10, metadata=_range(1))
    early_stopping_min_delta: float = field(default=0.0, metadata=_range(0))
    # keep the weights of the epoch with the best validation objective (ModelCheckpoint's
    # save_top_k=1); False keeps the last epoch's weights
    restore_best: bool = True
    optimizer: str = field(default="adam", metadata=_choices(*OPTIMIZERS))
    # "constant"; "cosine": from lr down to lr * lr_min_factor over ``epochs``; "plateau": times
    # lr_plateau_factor after lr_plateau_patience epochs without a better validation objective
    lr_schedule: str = field(default="constant", metadata=_choices(*LR_SCHEDULES))
    lr_min_factor: float = field(default=0.01, metadata=_range(0, 1))
    lr_plateau_factor: float = field(default=0.5, metadata=_range(0, 1))
    lr_plateau_patience: int = field(default=4, metadata=_range(1))
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    precision: str = field(default="auto", metadata=_choices(*PRECISIONS))
    devices: int = field(default=1, metadata=_range(1))
    strategy: str = "auto"  # Lightning strategy when devices > 1, e.g. "ddp"
    num_threads: int | None = field(default=None, metadata=_range(1))
    # epochs between checkpoints; None: at most one every 2 minutes (and always the last epoch)
    checkpoint_every: int | None = field(default=None, metadata=_range(1))


@dataclass
class EvaluateConfig:
    """Held-out evaluation and baselines."""

    threshold_start: float = 0.0
    threshold_stop: float = 3.0
    threshold_step: float = field(default=0.3, metadata=_range(0))
    knn_k: int = field(default=15, metadata=_range(1))
    ridge_alpha: float = field(default=1.0, metadata=_range(0))
    # per-type ridge: clusters with fewer training cells use the global ridge; one penalty
    # from the grid is chosen on validation cells
    per_type_min_cells: int = field(default=30, metadata=_range(2))
    per_type_alphas: list[float] = field(
        default_factory=lambda: [1.0, 10.0, 100.0, 1000.0, 10000.0, 1e6]
    )
    # reduced-rank ridge: the ridge's fitted values kept to their leading directions; one rank
    # from the grid is chosen on validation cells
    reduced_ranks: list[int] = field(default_factory=lambda: [2, 4, 8, 16, 32])
    n_pcs: int = field(default=50, metadata=_range(2))
    run_multivi: bool = False
    # MultiVI trains to its own early stopping (its validation reconstruction loss, patience
    # 50, best weights kept), at most this many epochs (MultiVI's default budget)
    multivi_epochs: int = field(default=500, metadata=_range(1))
    compute_umap: bool = True
    seed: int = 0


@dataclass
class PerturbationConfig:
    """One perturbation experiment: set ``genes`` to ``values`` in a cell (or a population)."""

    genes: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    values_are_counts: bool = False
    cell_type: str | None = None
    cell: str | None = None
    population: bool = False
    name: str | None = None


@dataclass
class ExplainConfig:
    """Monte-Carlo perturbation explainability."""

    n_passes: int = field(default=100, metadata=_range(1))
    margin: float = field(default=0.1, metadata=_range(0))
    # "link": the link score (calibrated shift evidence plus the distance prior, as link_scores);
    # "shift": the calibrated evidence |z| of the posterior-mean shift beyond the null genes;
    # "flips": the change frequency (the reference design), then that evidence
    rank_by: str = field(default="link", metadata=_choices(*RANK_BY))
    threshold: float | None = None  # None: the model's validation-chosen threshold
    top_k: int = field(default=20, metadata=_range(1))
    n_null_genes: int = field(default=20, metadata=_range(0))
    dose_steps: int = field(default=7, metadata=_range(2))
    cis_window: int = field(default=100_000, metadata=_range(0))
    markers: dict[str, list[str]] = field(default_factory=dict)
    experiments: list[PerturbationConfig] = field(default_factory=list)
    seed: int = 0
    # link_scores (population silencing): cells per gene, the distance prior's power-law decay,
    # and the reference-design flips on a subsample (0 cells turns them off)
    link_max_cells: int = field(default=500, metadata=_range(1))
    distance_decay: float = field(default=1.0, metadata=_range(0))
    # RNA principal components (rna.obsm['X_pca']) in the cell state beside the model's latent;
    # on tuning seed 0 (small, strength 0.5 / 1.0) 10 / 15 / 20 / 30 PCs gave pooled AUPRC
    # .729 / .725 / .724 / .722 and .791 / .791 / .792 / .791
    state_pcs: int = field(default=15, metadata=_range(0))
    # leading principal directions of the model's latent kept in that state (None: all of it,
    # 0: none). Tuning seeds 0-1 (pooled AUPRC, docs/links.md): 5 beat all of it on every reference
    # setting (.907 / .763 / .798 / .873 against .886 / .732 / .760 / .865) and tied it on small
    state_latent_dims: int | None = field(default=5, metadata=_range(0))
    # GPGs (training seeds seed, seed + 100, ...) whose mean link_scores perturbs in genepeak
    # run and benchmark-links (models/ensemble.py): it averages the perturbation effect and its
    # calls; the state-adjusted link_score reads the first model's latent only
    link_models: int = field(default=1, metadata=_range(1))
    link_flip_cells: int = field(default=20, metadata=_range(0))
    link_flip_passes: int = field(default=20, metadata=_range(1))


#: model presets of ``genepeak run``: ``fast`` (SMALL_PRESETS with a cell-pass budget) and
#: ``thesis`` (PRESETS, the reference design)
RUN_PRESETS = ("fast", "thesis")
#: the fewest epochs a cell-pass budget leaves
MIN_BUDGET_EPOCHS = 5


@dataclass
class RunConfig:
    """The whole path: data -> prepare -> links -> train -> evaluate -> explain -> report."""

    input: str | None = None  # None: simulate the built-in default dataset
    out: str = "genepeak_output"
    shape: str = field(default="small", metadata=_choices(*SHAPES))
    # "fast": presets for 2 CPU cores with a cell-pass budget (docs/speed.md); "thesis": the
    # reference design's widths, learning rates and epochs (Table 3.2)
    preset: str = field(default="fast", metadata=_choices(*RUN_PRESETS))
    seed: int = 0  # seeds every step (overrides the seeds of the sections below)
    labels_key: str | None = None  # e.g. "cell_type"; None: Leiden labels from preparation
    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    # per architecture (gpg, pgp, dual): ModelConfig / TrainConfig options merged over the
    # preset named by ``preset``
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    train: dict[str, dict[str, Any]] = field(default_factory=dict)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    explain: ExplainConfig = field(default_factory=ExplainConfig)
    run_explain: bool = True


# --------------------------------------------------------------------------- presets

#: Table 3.2 of the reference design, plus ``small`` for the built-in data on 2 CPU cores.
PRESETS: dict[str, tuple[dict, dict]] = {
    "gpg": (
        dict(
            architecture="gpg",
            latent_dim=256,
            hidden=[1024],
            activation="tanh",
            rna_loss="mse",
            atac_loss="mse",
            cis_window=1_000_000,
        ),
        # lr 1e-3, not the reference design's 1e-4: lower validation loss on every tuning run
        # (small seeds 0 / 1: 1671 / 1638 vs 1696 / 1719; medium seed 1: 3357), and 1e-4 leaves
        # the cis layer under-trained in 30 epochs (link AUPRC 0.44 / 0.38 vs 0.52 / 0.58)
        dict(epochs=30, lr=1e-3, beta_min=0.0, beta_max=0.1, beta_warmup_epochs=20),
    ),
    "pgp": (
        dict(
            architecture="pgp",
            latent_dim=256,
            hidden=[1024],
            activation="tanh",
            rna_loss="mse",
            atac_loss="mse",
        ),
        dict(epochs=30, lr=2e-4, beta_min=0.0, beta_max=0.1, beta_warmup_epochs=20),
    ),
    "dual": (
        dict(
            architecture="dual",
            latent_dim=256,
            hidden=[2048],
            activation="tanh",
            rna_loss="mse",
            atac_loss="weighted_mse",
            alignment="l2",
            alignment_weight=1.0,
        ),
        dict(epochs=100, lr=1e-4, beta_min=0.0, beta_max=0.1, beta_warmup_epochs=20),
    ),
}
#: the fast presets' cell-pass budget, chosen on validation loss on a tuning data set
#: (benchmarks/preset_budget.py, simulated medium seed 1, 1,814 training cells): at 40,000 cell
#: passes the best validation objective so far was within 1.3 % (GPG), 0.8 % (PGP) and 0.7 %
#: (Dual VAE) of the best of the full 30 / 40 / 60 epochs, at about a third to a half of the
#: time (docs/speed.md)
BUDGET = {"max_cell_passes": 40_000}
SMALL_PRESETS: dict[str, tuple[dict, dict]] = {
    "gpg": (
        # ReLU: lower validation loss than tanh on 4 of 4 simulated runs, and 4-13x the planted-
        # link recovery; [512] ties [256] on validation loss and recovers more links
        # cis_window 1 Mb: lower validation loss than no cis layer on tuning seed 0 (see the
        # links benchmark in docs/links.md); the window of LinkPeaks-style cis analyses
        dict(
            architecture="gpg",
            latent_dim=32,
            hidden=[512],
            activation="relu",
            cis_window=1_000_000,
        ),
        # measured on 1,800 x 4,000 x 6,000: lr 1e-3 left GPG's translation at the mean profile;
        # a 50-step warm-up: without it Adam's second step took the loss from 2e4 to 1e8 and NaN
        # at PBMC-10k shape (25,386 genes in), and it cost at most 0.4 % of validation loss on
        # the tuning seeds (docs/speed.md)
        dict(
            epochs=30,
            lr=3e-3,
            lr_warmup_steps=50,
            batch_size=128,
            beta_max=0.1,
            beta_warmup_epochs=10,
            **BUDGET,
        ),
    ),
    "pgp": (
        dict(architecture="pgp", latent_dim=32, hidden=[256], activation="tanh"),
        dict(epochs=40, lr=1e-3, batch_size=128, beta_max=0.1, beta_warmup_epochs=10, **BUDGET),
    ),
    "dual": (
        dict(
            architecture="dual",
            latent_dim=32,
            hidden=[256],
            activation="tanh",
            atac_loss="weighted_mse",
            alignment="l2",
        ),
        dict(epochs=60, lr=1e-3, batch_size=128, beta_max=0.1, beta_warmup_epochs=10, **BUDGET),
    ),
}


def preset(name: str, small: bool = False) -> tuple[ModelConfig, TrainConfig]:
    """Model and training configs of a named preset (``gpg``, ``pgp``, ``dual``)."""
    table = SMALL_PRESETS if small else PRESETS
    if name not in table:
        raise ConfigError(f"unknown preset {name!r}; valid presets: {', '.join(table)}")
    model, train = table[name]
    return from_dict(ModelConfig, model), from_dict(TrainConfig, train)


# --------------------------------------------------------------------------- validation


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; convert where lossless (int -> float).

    Hand-written because no declared dependency validates dataclasses: pydantic and cattrs are
    not installed, and typeguard (only snapatac2's dependency) checks without converting YAML's
    ``1`` to ``1.0`` or ``2.0`` to ``2`` and words its errors per type, not per option path.
    """
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"{where}: got {value!r}")
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {str(k): _coerce(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(
                f"{where}: expected a mapping of {tp.__name__} options, got {value!r}"
            )
        return from_dict(tp, value, where=where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def _check_meta(value: Any, meta: typing.Mapping, where: str) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        valid = ", ".join("null" if c is None else str(c) for c in choices)
        raise ConfigError(f"{where}: {value!r} is not valid; choose one of: {valid}")
    if value is None or isinstance(value, bool):
        return
    lo, hi = meta.get("min"), meta.get("max")
    if isinstance(value, int | float):
        if lo is not None and value < lo:
            raise ConfigError(f"{where}: {value!r} is below the minimum {lo}")
        if hi is not None and value > hi:
            raise ConfigError(f"{where}: {value!r} is above the maximum {hi}")


def from_dict(cls: type[C], data: dict | None, where: str | None = None) -> C:
    """Build dataclass ``cls`` from a mapping, validating keys, types and ranges."""
    where = where or cls.__name__
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{where}: unknown option {key!r}.{hint} Valid options: {', '.join(fields)}"
        )
    kwargs = {}
    for name, value in data.items():
        value = _coerce(value, hints[name], f"{where}.{name}")
        _check_meta(value, fields[name].metadata, f"{where}.{name}")
        if isinstance(value, list) and name == "hidden":
            if not value or any(v < 1 for v in value):
                raise ConfigError(f"{where}.hidden: expected a non-empty list of positive widths")
        kwargs[name] = value
    return cls(**kwargs)


def to_dict(config: Any) -> dict:
    """Plain-dict view of a config dataclass (for YAML/JSON and saved models)."""
    return dataclasses.asdict(config)


def merged(
    cls: type[C], base: Any = None, options: dict | None = None, where: str | None = None
) -> C:
    """Config ``base`` of ``cls`` (None: the defaults) with the ``options`` mapping merged over.

    The one preset-plus-override merge: ``Model(mdata, **overrides)``, ``genepeak train``'s
    ``preset`` + ``model`` / ``train`` and ``genepeak run``'s per-architecture options.
    The result is validated as a whole (``from_dict``); ``where`` names it in errors.
    """
    where = where or cls.__name__
    if options is not None and not isinstance(options, dict):
        raise ConfigError(f"{where}: expected a mapping of options, got {options!r}")
    values = to_dict(base) if base is not None else {}
    values.update(options or {})
    return from_dict(cls, values, where=where)


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, with a clear error for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping at the top level")
    return data


def load_config(cls: type[C], path: str | Path) -> C:
    """Load dataclass ``cls`` from a YAML file."""
    return from_dict(cls, load_yaml(path), where=str(path))
