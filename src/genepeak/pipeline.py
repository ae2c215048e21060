"""``genepeak run``: simulate (or read) -> prepare -> links -> train -> evaluate -> explain ->
report."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from genepeak._utils import (
    atomic_path,
    log,
    peak_rss_gib,
    release_freed_memory,
    seed_everything,
)
from genepeak.config import (
    ARCHITECTURES,
    ModelConfig,
    RunConfig,
    TrainConfig,
    from_dict,
    load_yaml,
    merged,
    preset,
    to_dict,
)
from genepeak.errors import ConfigError
from genepeak.io import prepared

#: prepared files with at most this many stored matrix values are trained in memory: reading
#: each minibatch from the file made training 20 % slower at 3,000 cells (docs/speed.md);
#: larger ones stream (PBMC-10k shape: 181 M values, 1.4 GiB held beside training otherwise)
IN_MEMORY_MAX_VALUES = 60_000_000

#: the packages whose versions the report lists
RUN_PACKAGES = ("genepeak", "torch", "numpy", "scanpy", "anndata", "mudata", "scikit-learn")


@dataclass
class RunResult:
    """What ``run`` produced: paths of the report and metrics, the models, the timings."""

    out_dir: Path
    report_path: Path
    metrics_path: Path
    models: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class _Stopwatch:
    def __init__(self, n_steps: int) -> None:
        self.n_steps, self.step, self.timings = n_steps, 0, {}

    def start(self, name: str) -> None:
        release_freed_memory()  # each step starts from what the run still holds
        self.step += 1
        self.name, self.t0 = name, time.perf_counter()
        log(f"[{self.step}/{self.n_steps}] {name} ...")

    def stop(self, detail: str = "") -> None:
        seconds = time.perf_counter() - self.t0
        self.timings[self.name] = round(seconds, 2)
        rss = peak_rss_gib()
        memory = f", peak RSS so far {rss:.2f} GiB" if rss is not None else ""
        message = f"[{self.step}/{self.n_steps}] {self.name} done in {seconds:.1f} s{memory}"
        log(f"{message} {detail}".rstrip())


def _model_configs(config: RunConfig) -> dict[str, tuple[ModelConfig, TrainConfig]]:
    """The three architectures' configs: each preset with the run config's options merged over."""
    for section in ("models", "train"):
        unknown = set(getattr(config, section)) - set(ARCHITECTURES)
        if unknown:
            raise ConfigError(
                f"{section}: unknown architecture {sorted(unknown)[0]!r}; "
                f"valid: {', '.join(ARCHITECTURES)}"
            )
    configs = {}
    for name in ARCHITECTURES:
        model_preset, train_preset = preset(name, small=config.preset == "fast")
        model_config = merged(ModelConfig, model_preset, config.models.get(name), f"models.{name}")
        if model_config.architecture != name:
            raise ConfigError(
                f"models.{name}.architecture is {model_config.architecture!r}; "
                f"it must be {name!r} (or left out)"
            )
        train_config = merged(TrainConfig, train_preset, config.train.get(name), f"train.{name}")
        train_config.seed = config.seed
        configs[name] = (model_config, train_config)
    return configs


def _preset_note(name: str) -> str:
    """Which presets trained the models, for the report."""
    if name == "thesis":
        return "thesis: the reference design's widths, learning rates and epochs"
    return "fast: small widths, epochs capped by a cell-pass budget (docs/speed.md)"


def _labels_note(labels_key: str, simulated: bool) -> str:
    """What the reference labels are, for the report."""
    if labels_key == "leiden":
        return (
            "leiden: Leiden clusters of the RNA, computed during preparation on all cells "
            "(test cells included) before the train / validation / test split; latent scores "
            "against them measure agreement with RNA structure, not with known cell types"
        )
    if simulated and labels_key == "cell_type":
        return "cell_type: the simulator's true cell types (cell_types.tsv)"
    return f"{labels_key} (from the input)"


def run(config: RunConfig | None = None) -> RunResult:
    """Run the whole genepeak path and write ``report.html`` and ``metrics.json``.

    Parameters
    ----------
    config
        Every option of the run; the default simulates the built-in dataset. It is not
        changed: the run works on a copy.

    Returns
    -------
    RunResult with the paths written and the trained models.
    """
    config = copy.deepcopy(config or RunConfig())
    seed_everything(config.seed)
    model_configs = _model_configs(config)  # validated before any heavy work
    for section in (config.prepare, config.evaluate, config.explain):
        section.seed = config.seed
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    clock = _Stopwatch(7 if config.run_explain else 5)
    source, truth_path = _data(config, out, clock)
    mdata, labels_key, qc_figures = _prepare(config, source, out, clock)
    links = None
    if config.run_explain:  # links need no model: scored before training, beside less memory
        prepared.share_index_arrays(mdata)
        clock.start("gene -> peak links (every HVG, per cell type; no model needed)")
        links = _links(mdata, labels_key, config, out, truth_path)
        clock.stop()
    del mdata  # training streams prepared.h5mu (the step's start frees it: release_freed_memory)
    trained, mdata = _train(out / "prepared.h5mu", model_configs, labels_key, out, clock)
    if links is not None:  # results.h5mu carries the links as genepeak links stores them
        from genepeak.links.genome import store

        store(mdata, "genepeak_links", links[0])

    clock.start("evaluate on held-out cells")
    from genepeak.evaluate import evaluate

    evaluation = evaluate(mdata, trained, config.evaluate, labels_key=labels_key)
    metrics_path = out / "metrics.json"
    evaluation.to_json(metrics_path)
    clock.stop()

    explained = None
    if config.run_explain:
        explained = _explain(trained["gpg"], mdata, config, out, truth_path, clock)
        _add_to_metrics(metrics_path, "links", _links_metrics(*links))

    clock.start("report")
    report_path = _report(
        config,
        source,
        mdata,
        labels_key,
        clock,
        trained=trained,
        evaluation=evaluation,
        qc_figures=qc_figures,
        explained=explained,
        links=links,
    )
    with atomic_path(out / "results.h5mu") as tmp:
        mdata.write(tmp)
    clock.stop()
    with atomic_path(out / "timings.json") as tmp:
        tmp.write_text(json.dumps(clock.timings, indent=2))
    log(f"report: {report_path}")
    return RunResult(out, report_path, metrics_path, trained, clock.timings)


def _data(config: RunConfig, out: Path, clock: _Stopwatch) -> tuple[Path | str, Path | None]:
    """Step 1: the input, or the simulated data set (its annotation and true cell types are
    then the preparation's, unless the config names others). Returns (source, truth path)."""
    clock.start("data")
    if config.input is not None:
        clock.stop(f"({config.input})")
        return config.input, None
    from genepeak.simulate import simulate

    sim = simulate(out / "simulated_data", shape=config.shape, seed=config.seed)
    if config.prepare.gene_annotation is None:
        config.prepare.gene_annotation = str(sim.annotation_path)
    if config.prepare.labels_file is None:
        # the simulator's true cell types are the reference labels of latent scoring
        config.prepare.labels_file = str(sim.labels_path)
    clock.stop(
        f"(simulated {config.shape}: {sim.n_cells} cells, {sim.n_genes} genes, {sim.n_peaks} peaks)"
    )
    return sim.out_dir, sim.links_path


def _prepare(config: RunConfig, source, out: Path, clock: _Stopwatch):
    """Step 2: prepare and write ``prepared.h5mu`` and the QC figures.

    Returns (mdata, labels key, QC figure paths).
    """
    from genepeak.outputs import write_prepare_figures
    from genepeak.prepare.pipeline import prepare

    clock.start("prepare")
    labels_key = config.labels_key or config.prepare.labels_key
    if config.input is None and config.labels_key is None and labels_key == "leiden":
        labels_key = "cell_type"  # from the simulator's cell_types.tsv (labels_file)
    mdata = prepare(source, config.prepare, out=out / "prepared.h5mu", labels_key=labels_key)
    qc_figures = write_prepare_figures(mdata, out / "figures" / "qc")
    clock.stop(
        f"({mdata.n_obs} cells, {mdata.mod['rna'].n_vars} genes, {mdata.mod['atac'].n_vars} peaks)"
    )
    return mdata, labels_key, qc_figures


def _train(prepared_path: Path, model_configs: dict, labels_key: str, out: Path, clock):
    """Train each architecture into ``models/<name>``. A file of more than
    ``IN_MEMORY_MAX_VALUES`` stored values is streamed: each minibatch is read from
    ``prepared_path`` (``Model.from_h5mu``; the matrices are not held beside the models'
    weights and optimiser state) and the data are read back afterwards; a smaller one is read
    once and trained in memory (the same losses, faster). Every model's latents go into
    ``.obsm``. Returns ``({name: model}, mdata)``."""
    from genepeak.models.fit import record_data_path
    from genepeak.models.registry import REGISTRY
    from genepeak.report.training import plot_loss_curve

    clock.start("train GPG, PGP and Dual VAE")
    mdata = None
    if prepared.stored_values(prepared_path) <= IN_MEMORY_MAX_VALUES:
        mdata = prepared.read(prepared_path, "prepared data")
    trained, latents = {}, {}
    for name, (model_config, train_config) in model_configs.items():
        train_config.labels_key = labels_key
        model_dir = out / "models" / name
        model = _fit_once(
            REGISTRY[name].model_class,
            prepared_path,
            mdata,
            (model_config, train_config),
            model_dir,
        )
        record_data_path(model_dir, prepared_path)
        plot_loss_curve(model.history, model_dir / "loss_curve.png")
        for key in model.write_results():
            latents[key] = model.mdata.obsm[key]
        trained[name] = model
    if mdata is None:
        mdata = prepared.read(prepared_path, "prepared data")
    prepared.share_index_arrays(mdata)  # read only from here on
    for key, values in latents.items():
        mdata.obsm[key] = values
    clock.stop()
    return trained, mdata


def _fit_once(model_cls, prepared_path: Path, mdata, configs: tuple, model_dir: Path):
    """Train one model on ``mdata``, or streamed from ``prepared_path`` when it is None; if
    its loss diverges (NaN), train it once more from the start at a third of the learning
    rate, and say so. A preset's rate can be too high for a much wider input than it was
    chosen on: the fast GPG's 3e-3 diverged at 25,386 genes x 44,949 peaks."""
    from dataclasses import replace

    from genepeak.errors import DivergedError

    model_config, train_config = configs

    def fit(config):
        if mdata is None:
            return model_cls.from_h5mu(prepared_path, model_config, config).train(out_dir=model_dir)
        return model_cls(mdata, model_config, config).train(out_dir=model_dir)

    try:
        return fit(train_config)
    except DivergedError as err:
        lower = replace(train_config, lr=train_config.lr / 3)
        log(f"{model_cls.__name__}: {err}; trained again from the start at lr={lower.lr:g}")
        return fit(lower)


def _explain(model, mdata, config: RunConfig, out: Path, truth_path, clock):
    """Step 6: the design experiments (perturbations of the trained GPG)."""
    from genepeak import outputs
    from genepeak.explain import explain

    clock.start("explain (perturbation)")
    explained = explain(model, mdata, config.explain, truth=truth_path)
    outputs.write_explain(explained, out / "explain", config.explain.top_k)
    clock.stop()
    return explained


def _report(
    config: RunConfig,
    source,
    mdata,
    labels_key: str,
    clock: _Stopwatch,
    *,
    trained: dict,
    evaluation,
    qc_figures,
    explained,
    links,
) -> Path:
    """The last step: ``report.html`` with every section and the run's parameters."""
    from genepeak.models.io import versions
    from genepeak.report.html import write_run_report

    simulated = config.input is None
    params = to_dict(config)
    params["models"] = {n: to_dict(m.model_config) for n, m in trained.items()}
    params["train"] = {n: to_dict(m.train_config) for n, m in trained.items()}
    data_summary = {
        "source": "built-in simulator" if simulated else str(source),
        "cells": mdata.n_obs,
        "genes": mdata.mod["rna"].n_vars,
        "peaks": mdata.mod["atac"].n_vars,
        "model preset": _preset_note(config.preset),
        "reference labels": _labels_note(labels_key, simulated),
        "label categories": int(mdata.obs[labels_key].nunique()),
    }
    return write_run_report(
        Path(config.out) / "report.html",
        data_summary=data_summary,
        qc_figures=qc_figures,
        evaluation=evaluation,
        models=trained,
        explain=explained,
        params=params,
        versions=versions(RUN_PACKAGES),
        timings=clock.timings,
        qc_rules=prepared.record(mdata).get("qc_rules"),
        links=None if links is None else _links_body(*links, mdata, labels_key),
    )


def _links(mdata, labels_key: str, config: RunConfig, out: Path, truth_path):
    """``genepeak links`` on every HVG, over all cells and within each group of ``labels_key``
    (groups too small to test are skipped), written to ``links/``; on simulated data also
    scored against the planted truth beside every baseline (``links/link_benchmark.tsv``).
    Returns ``(LinkResult, benchmark table or None)``."""
    from genepeak import benchmark
    from genepeak.links import metrics as link_metrics
    from genepeak.links.genome import LinkOptions, link_genes
    from genepeak.outputs import write_links, write_tsv

    options = LinkOptions(seed=config.seed, skip_small_groups=True)
    result = link_genes(mdata, "hvg", groupby=labels_key, options=options, key_added=None)
    folder = write_links(result, mdata, out / "links", groupby=labels_key)
    if truth_path is None:
        return result, None
    sham_path = Path(truth_path).parent / "sham_genes.tsv"
    sham = link_metrics.read_sham_genes(sham_path) if sham_path.is_file() else None
    table, per_driver = benchmark.score_links(
        mdata, truth_path, labels_key=labels_key, sham_genes=sham, seed=config.seed
    )
    setting = {"data": "built-in", "shape": config.shape, "seed": config.seed}
    setting |= {"link_strength": 1.0, "preset": "none", "labels_key": labels_key}
    table = table.reset_index().assign(**setting)
    write_tsv(per_driver.assign(**setting), folder / "link_benchmark_per_driver.tsv")
    write_tsv(table, folder / "link_benchmark.tsv")
    return result, table


def _links_body(result, benchmark_table, mdata, labels_key: str) -> str:
    """The report's links section: calls, pictures and (simulated data) the benchmark."""
    from genepeak.benchmark import MODEL_COLUMNS
    from genepeak.report.links import link_benchmark_html, links_html

    body = links_html(result, mdata, labels_key)
    if benchmark_table is not None:
        body += "<h3>Against planted truth</h3>" + link_benchmark_html(
            benchmark_table, MODEL_COLUMNS
        )
    return body


def _links_metrics(result, benchmark_table) -> pd.DataFrame:
    """What ``metrics.json`` keeps of the links: the benchmark table, else calls per group."""
    from genepeak.report.links import calls_table

    return benchmark_table if benchmark_table is not None else calls_table(result)


def _add_to_metrics(path: Path, key: str, table: pd.DataFrame | None) -> None:
    """Add a table (as records) to ``metrics.json`` under ``key``."""
    if table is None:
        return
    from genepeak.evaluate.result import to_jsonable

    metrics = json.loads(path.read_text())
    metrics[key] = to_jsonable(table.to_dict(orient="records"))
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))


def run_from_cli(
    out: str | None = None,
    input: str | None = None,
    config_path: str | None = None,
    labels_key: str | None = None,
    shape: str | None = None,
    seed: int | None = None,
    preset: str | None = None,
) -> RunResult:
    """Build a RunConfig from a YAML file and command-line options, then ``run`` it."""
    data = load_yaml(config_path) if config_path else {}
    for key, value in (
        ("out", out),
        ("input", input),
        ("labels_key", labels_key),
        ("shape", shape),
        ("seed", seed),
        ("preset", preset),
    ):
        if value is not None:
            data[key] = value
    where = config_path or "command line"
    return run(from_dict(RunConfig, data, where=str(where)))
