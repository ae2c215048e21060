"""``genepeak benchmark-links``: every link method side by side against planted truth.

For each setting (simulation shape x seed x link strength, with one link profile, or one
prepared data set with a truth table): simulate -> prepare -> score the data-only baselines
(``genepeak.links.baselines``) -> train GPG and score the model's methods (``genepeak.explain.link_scores``, when this version of
genepeak has it) -> pooled and per-driver AUPRC, precision@k, the fraction of drivers each method
wins, and the links each method calls for sham genes (``genepeak.links.metrics``).
Writes ``link_benchmark.tsv``, ``link_benchmark_per_driver.tsv`` and a ``link_benchmark`` section
of ``metrics.json``.

Protocol (issue 10): settings are chosen on simulation seeds 0-2; numbers are reported on seeds
>= 3, hence the default seeds 3, 4, 5.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from genepeak._utils import atomic_path, log, seed_everything
from genepeak.config import ExplainConfig
from genepeak.errors import ConfigError, InputError
from genepeak.links import metrics as link_metrics
from genepeak.links.baselines import (
    BASELINE_METHODS,
    CALL_FDR,
    LINKPEAKS_WINDOW,
    N_BACKGROUND,
    LinkScores,
    benjamini_hochberg,
    cis_mask,
    score_baselines,
)
from genepeak.outputs import write_tsv

#: model methods -> the column of ``genepeak.explain.link_scores`` that holds their score
MODEL_COLUMNS = {
    "flip_frequency": "flip_frequency",
    "perturbation_effect": "perturbation_effect",
    "link_score": "link_score",
}
#: the ablation of ``link_score``: the same score without the model's latent in the state
WITHOUT_MODEL = "link_score_without_model"
#: the method of ``genepeak links`` (data only, inside its window)
GENOME_LINKS = "genepeak_links"
#: its ablation: the same score without the distance prior
GENOME_NO_PRIOR = "genepeak_links_no_prior"
PRESETS = ("small", "reference")
NO_SHAM_NOTE = "no sham genes (the data has no sham_genes.tsv): sham_calls is empty"


@dataclass(frozen=True)
class ScoringOptions:
    """How each setting is scored (the same for every setting of one benchmark)."""

    labels_key: str | None = None
    model_methods: bool = True
    explain_config: object = None
    window: int = LINKPEAKS_WINDOW
    n_background: int = N_BACKGROUND


@dataclass
class LinkBenchmarkResult:
    """What ``benchmark_links`` measured: one row per (setting, method), and per driver."""

    table: pd.DataFrame
    per_driver: pd.DataFrame
    paths: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def format(self) -> str:
        """The table as text: per setting, each method's headline numbers."""
        return link_metrics.format_table(self.table, self.notes)


# --------------------------------------------------------------------------- model methods


def model_scores(
    model, mdata, genes: list[str], *, labels_key: str | None, config=None
) -> dict[str, LinkScores]:
    """The model's methods as :class:`LinkScores` from ``genepeak.explain.link_scores``.

    Peaks or genes its table leaves out score ``-inf``; ``link_score`` calls links at
    ``state_fdr`` < 0.05 (``fdr``, the perturbation test, for a table without it).
    """
    from genepeak.explain import link_scores

    table = link_scores(model, mdata, list(genes), labels_key=labels_key, config=config)
    peaks = mdata.mod["atac"].var_names
    rows = pd.Index(genes).get_indexer(table["gene"].astype(str))
    cols = peaks.get_indexer(table["peak"].astype(str))
    ok = (rows >= 0) & (cols >= 0)

    def matrix(column: str, fill: float) -> np.ndarray:
        out = np.full((len(genes), len(peaks)), fill)
        out[rows[ok], cols[ok]] = pd.to_numeric(table[column]).to_numpy(np.float64)[ok]
        return out

    out = {
        method: LinkScores(method, list(genes), peaks, matrix(column, -np.inf))
        for method, column in MODEL_COLUMNS.items()
        if column in table.columns  # flip_frequency only where a threshold could be chosen
    }
    call_column = "state_fdr" if "state_fdr" in table.columns else "fdr"
    out["link_score"].called = matrix(call_column, np.nan) < CALL_FDR
    out["link_score"].call_rule = f"{call_column} < {CALL_FDR}"
    config = config or ExplainConfig()
    window = model.cis_window or config.cis_window
    out[WITHOUT_MODEL] = without_model(mdata, genes, window, config.state_pcs)
    return out


def genome_links(mdata, genes: list[str], *, seed: int = 0, prior: bool = True) -> LinkScores:
    """``genepeak links`` (``links/genome.py``, default options, all cells; without its distance
    prior when ``prior`` is False) as :class:`LinkScores`: peaks beyond its window score
    ``-inf``; calls are its own."""
    from genepeak.links.genome import LinkOptions, link_genes

    options = LinkOptions(seed=seed, distance_prior=prior)
    result = link_genes(mdata, list(genes), options=options, key_added=None)
    table = result.links
    peaks = mdata.mod["atac"].var_names
    rows = pd.Index(genes).get_indexer(table["gene"].astype(str))
    cols = peaks.get_indexer(table["peak"].astype(str))
    score = np.full((len(genes), len(peaks)), -np.inf)
    score[rows, cols] = np.nan_to_num(table["link_score"].to_numpy(np.float64), nan=-np.inf)
    called = np.zeros(score.shape, bool)
    called[rows, cols] = table["called"].to_numpy(bool)
    rule = f"BH FDR < {result.params['fdr']} over the window's pairs"
    name = GENOME_LINKS if prior else GENOME_NO_PRIOR
    return LinkScores(name, list(genes), peaks, score, called, rule)


def without_model(mdata, genes: list[str], window: int, n_pcs: int) -> LinkScores:
    """``link_score`` with the model's evidence removed: the state is the RNA PCs and the ATAC
    depth alone (``links/state.py``), called as ``state_fdr`` is, inside ``window``."""
    from genepeak.links import state

    in_window = cis_mask(mdata, genes, window)
    z, score = state.scores_without_model(mdata, genes, in_window, n_pcs)
    called = benjamini_hochberg(state.p_values(z, in_window)) < CALL_FDR
    rule = f"BH FDR < {CALL_FDR} over the window's pairs of the table"
    return LinkScores(WITHOUT_MODEL, list(genes), mdata.mod["atac"].var_names, score, called, rule)


def train_gpg(mdata, *, preset: str, seed: int, labels_key: str, n_models: int = 1):
    """What ``genepeak run`` scores links with: ``n_models`` GPGs of the ``small`` or
    ``reference`` preset trained on every cell but the validation cells (``links_model``)."""
    from genepeak.config import preset as preset_configs
    from genepeak.models import GPG

    model_config, train_config = preset_configs("gpg", small=preset == "small")
    train_config.seed, train_config.labels_key = seed, labels_key
    model = GPG(mdata, model_config=model_config, train_config=train_config)
    return model.links_model(n_models)


# --------------------------------------------------------------------------- one data set


def score_links(
    mdata,
    truth,
    *,
    labels_key: str,
    sham_genes: list[str] | None = None,
    model=None,
    explain_config=None,
    methods: tuple[str, ...] = BASELINE_METHODS,
    window: int = LINKPEAKS_WINDOW,
    n_background: int = N_BACKGROUND,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every method on one prepared data set: ``(summary per method, per-driver rows)``.

    Drivers are the truth's genes with a planted peak that are in ``rna.var``; the model's
    methods run when ``model`` is given and ``genepeak.explain.link_scores`` exists.
    """
    from genepeak.explain.validate import read_truth

    truth = read_truth(truth)
    peaks = mdata.mod["atac"].var_names
    known = set(mdata.mod["rna"].var_names)
    drivers = [g for g in pd.unique(truth.loc[truth["effect"] != 0, "gene"]) if g in known]
    if not drivers:
        raise InputError("no gene of the truth table with a planted link is in rna.var_names")
    sham = [g for g in (sham_genes or []) if g in known and g not in set(drivers)]
    genes = drivers + sham
    labels = link_metrics.truth_matrix(truth, drivers, peaks)
    options = dict(labels_key=labels_key, window=window, n_background=n_background, seed=seed)
    options["state_pcs"] = (explain_config or ExplainConfig()).state_pcs  # as link_score's
    timings, results = {}, {}
    for method in methods:
        start = time.perf_counter()
        results.update(score_baselines(mdata, genes, methods=(method,), **options))
        timings[method] = time.perf_counter() - start
    for name, prior in ((GENOME_LINKS, True), (GENOME_NO_PRIOR, False)):
        start = time.perf_counter()
        results[name] = genome_links(mdata, genes, seed=seed, prior=prior)
        timings[name] = time.perf_counter() - start
    if model is not None:
        start = time.perf_counter()
        found = model_scores(model, mdata, genes, labels_key=labels_key, config=explain_config)
        for method in found:
            timings[method] = (time.perf_counter() - start) / len(found)
        results.update(found)
    n = len(drivers)
    summary, per_driver = link_metrics.summarise(
        {m: r.score[:n] for m, r in results.items()}, labels, drivers
    )
    for method, result in results.items():
        for column, value in _call_columns(result.called, labels, len(sham)).items():
            summary.loc[method, column] = value
        summary.loc[method, "call_rule"] = result.call_rule
        summary.loc[method, "seconds"] = round(timings[method], 3)
    summary["n_sham"] = len(sham)
    return summary, per_driver


def _call_columns(called: np.ndarray | None, labels: np.ndarray, n_sham: int) -> dict:
    """A method's calls: of the drivers (``labels``' rows) and the ``n_sham`` sham genes after
    them, and their false-discovery proportion, counting every unplanted call as false."""
    n = labels.shape[0]
    drivers = link_metrics.call_counts(None if called is None else called[:n], labels)
    every_gene_truth = np.vstack([labels, np.zeros((n_sham, labels.shape[1]), bool)])
    every_call = link_metrics.call_counts(called, every_gene_truth)
    return {
        "driver_calls": drivers["calls"],
        "driver_true_calls": drivers.get("true_calls", np.nan),
        "sham_calls": called[n:].sum() if called is not None and n_sham > 0 else np.nan,
        "false_discovery_proportion": every_call.get("false_discovery_proportion", np.nan),
    }


# --------------------------------------------------------------------------- settings


def _simulated_data(
    folder: Path, shape: str, seed: int, link_strength: float, link_profile: str = "reference"
):
    """Simulate and prepare one setting: (mdata, truth path, sham genes or None)."""
    from genepeak.config import PrepareConfig
    from genepeak.prepare.pipeline import prepare
    from genepeak.simulate import simulate

    sim = simulate(
        folder / "simulated",
        shape=shape,
        seed=seed,
        link_strength=link_strength,
        link_profile=link_profile,
    )
    config = PrepareConfig(gene_annotation=str(sim.annotation_path), seed=seed)
    mdata = prepare(sim.out_dir, config)
    sham_path = sim.out_dir / "sham_genes.tsv"
    sham = link_metrics.read_sham_genes(sham_path) if sham_path.is_file() else None
    return mdata, sim.links_path, sham


def _labels_key(mdata, labels_key: str | None) -> str:
    key = labels_key or "leiden"
    if key not in mdata.obs:
        raise InputError(
            f"labels_key {key!r} is not a column of mdata.obs; available: "
            f"{', '.join(map(str, mdata.obs.columns))} (give one with --labels-key)"
        )
    return key


def score_trained(
    mdata, truth, sham, model, setting: dict, *, labels_key: str, explain_config=None
):
    """One setting's summary and per-driver tables for an already trained ``model``."""
    options = ScoringOptions(labels_key=labels_key, explain_config=explain_config)
    return _run_setting(mdata, truth, sham, setting, options, model=model)


def _run_setting(
    mdata, truth, sham, setting: dict, options: ScoringOptions, model=None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score one data set; train GPG first (unless ``model`` is given) for the model's methods."""
    labels_key = _labels_key(mdata, options.labels_key)
    if model is None and options.model_methods:
        start = time.perf_counter()
        n_models = options.explain_config.link_models if options.explain_config else 1
        model = train_gpg(
            mdata,
            preset=setting["preset"],
            seed=setting["seed"],
            labels_key=labels_key,
            n_models=n_models,
        )
        log(f"GPG ({setting['preset']} preset) trained in {time.perf_counter() - start:.1f} s")
    summary, per_driver = score_links(
        mdata,
        truth,
        labels_key=labels_key,
        sham_genes=sham,
        model=model,
        explain_config=options.explain_config,
        window=options.window,
        n_background=options.n_background,
        seed=setting["seed"],
    )
    summary = summary.reset_index().assign(**setting, labels_key=labels_key)
    return _columns_first(
        summary, [*link_metrics.SETTING_COLUMNS, "labels_key", "method"]
    ), _columns_first(
        per_driver.assign(**setting), [*link_metrics.SETTING_COLUMNS, "method", "gene"]
    )


def _columns_first(frame: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    first = [c for c in first if c in frame]  # a setting made elsewhere may lack link_profile
    return frame[first + [c for c in frame.columns if c not in first]]


def benchmark_links(
    out: str | Path,
    *,
    shape: str = "small",
    seeds: tuple[int, ...] | list[int] = (3, 4, 5),
    link_strengths: tuple[float, ...] | list[float] = (1.0,),
    link_profile: str = "reference",
    preset: str | None = None,
    input: str | Path | None = None,
    truth: str | Path | pd.DataFrame | None = None,
    sham_genes: str | Path | list[str] | None = None,
    labels_key: str | None = None,
    model_methods: bool = True,
    explain_config=None,
    window: int = LINKPEAKS_WINDOW,
    n_background: int = N_BACKGROUND,
    keep_data: bool = False,
) -> LinkBenchmarkResult:
    """Score every link method against planted truth and write the benchmark table.

    Parameters
    ----------
    out
        Output folder: ``link_benchmark.tsv``, ``link_benchmark_per_driver.tsv``, ``metrics.json``.
    shape, seeds, link_strengths
        Simulated settings (every seed x strength); ignored with ``input``.
    link_profile
        Where the simulator plants its links: ``reference`` or ``real`` (distances of real
        links; see ``genepeak.simulate.simulate``), recorded in the table's ``link_profile``.
    preset
        GPG preset for the model's methods: ``small`` (default on simulated data) or
        ``reference`` (default with ``input``, as ``genepeak run --input``).
    input, truth, sham_genes
        A prepared ``.h5mu`` with its truth table (``gene``, ``peak``, ``effect``) and optional
        sham genes (TSV with a ``gene`` column, or a list) instead of simulating.
    labels_key
        ``mdata.obs`` column with cell types for the partial correlation (default ``leiden``).
    model_methods
        Train GPG and score its methods when ``genepeak.explain.link_scores`` exists.
    keep_data
        Keep each simulated data set under ``out/link_benchmark_data`` (else a temporary
        folder inside ``out``, removed at the end).
    """
    from genepeak.simulate import LINK_PROFILES

    out = Path(out)
    preset = _check_request(preset, input, truth)
    if link_profile not in LINK_PROFILES:
        raise ConfigError(
            f"link_profile {link_profile!r}: choose one of {', '.join(LINK_PROFILES)}"
        )
    options = ScoringOptions(labels_key, model_methods, explain_config, window, n_background)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = (
        out / "link_benchmark_data"
        if keep_data
        else Path(tempfile.mkdtemp(prefix=".link_benchmark_", dir=out))
    )
    try:
        simulated = (shape, seeds, link_strengths, link_profile)
        settings = _settings(data_dir, simulated, preset, input, truth, sham_genes)
        result = _score_settings(settings, options, out / "link_benchmark_partial.tsv")
    finally:
        if not keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    result.paths = write_benchmark(result, out)
    (out / "link_benchmark_partial.tsv").unlink(missing_ok=True)  # the whole table is written
    return result


def _check_request(preset: str | None, input, truth) -> str:
    """The preset to train (``reference`` for user data, ``small`` for simulated)."""
    preset = preset or ("reference" if input is not None else "small")
    if preset not in PRESETS:
        raise ConfigError(f"preset {preset!r}: choose one of {', '.join(PRESETS)}")
    if (input is None) != (truth is None):
        raise ConfigError(
            "give --input and --truth together (a prepared .h5mu and its truth table)"
        )
    if input is not None and not Path(input).is_file():  # before anything is written
        raise InputError(f"--input {input} does not exist (a prepared .h5mu)")
    return preset


def _score_settings(settings, options: ScoringOptions, partial_path: Path) -> LinkBenchmarkResult:
    """Score every setting in turn, writing the rows so far to ``partial_path`` after each."""
    summaries, drivers, notes = [], [], []
    for setting, load in settings:
        log(f"link benchmark: {setting}")
        seed_everything(setting["seed"])
        mdata, truth_table, sham = load()
        summary, per_driver = _run_setting(mdata, truth_table, sham, setting, options)
        summaries.append(summary)
        drivers.append(per_driver)
        # every finished setting is on disk, so a long run that stops keeps what it measured
        write_tsv(pd.concat(summaries, ignore_index=True), partial_path)
        if sham is None and NO_SHAM_NOTE not in notes:
            notes.append(NO_SHAM_NOTE)
    return LinkBenchmarkResult(
        pd.concat(summaries, ignore_index=True), pd.concat(drivers, ignore_index=True), notes=notes
    )


def _settings(data_dir, simulated, preset, input, truth, sham_genes):
    """(setting, loader) pairs: one per simulated seed x strength, or the one input data set.

    ``simulated`` is ``(shape, seeds, link_strengths, link_profile)``.
    """
    if input is not None:
        import mudata

        path = Path(input)  # _check_request made sure it exists
        sham = sham_genes
        if isinstance(sham, str | Path):
            sham = link_metrics.read_sham_genes(sham)
        setting = {
            "data": str(path),
            "shape": "",
            "seed": 0,
            "link_strength": np.nan,
            "link_profile": "",
            "preset": preset,
        }
        yield setting, lambda: (mudata.read_h5mu(path), truth, sham)
        return
    shape, seeds, link_strengths, link_profile = simulated
    if not seeds:
        raise ConfigError("give at least one simulation seed (--seeds)")
    for strength in link_strengths:
        for seed in seeds:
            setting = {
                "data": "simulated",
                "shape": shape,
                "seed": int(seed),
                "link_strength": float(strength),
                "link_profile": link_profile,
                "preset": preset,
            }
            folder = data_dir / f"{shape}_{link_profile}_seed{seed}_strength{strength:g}"
            yield (
                setting,
                (
                    lambda f=folder, s=int(seed), k=float(strength): _simulated_data(
                        f, shape, s, k, link_profile
                    )
                ),
            )


# --------------------------------------------------------------------------- outputs


def write_benchmark(result: LinkBenchmarkResult, out: Path) -> dict[str, Path]:
    """Write the two TSVs and merge a ``link_benchmark`` section into ``out/metrics.json``."""
    from genepeak.evaluate.result import to_jsonable

    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "table": out / "link_benchmark.tsv",
        "per_driver": out / "link_benchmark_per_driver.tsv",
    }
    write_tsv(result.table, paths["table"])
    write_tsv(result.per_driver, paths["per_driver"])
    metrics_path = out / "metrics.json"
    metrics = {}
    if metrics_path.is_file():
        try:
            metrics = json.loads(metrics_path.read_text())
        except json.JSONDecodeError as err:
            raise InputError(f"{metrics_path} is not valid JSON ({err}); move it away") from err
    metrics["link_benchmark"] = {
        "table": result.table.to_dict(orient="records"),
        "over_seeds": link_metrics.summary_over_seeds(result.table)
        .reset_index()
        .to_dict(orient="records"),
        "notes": result.notes,
    }
    with atomic_path(metrics_path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(metrics), indent=2, allow_nan=False) + "\n")
    paths["metrics"] = metrics_path
    return paths
