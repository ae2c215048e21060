"""The user-facing model class shared by GPG, PGP and DualVAE, and ``load``.

A model owns its configs, the feature names and split it was trained on, and a torch module
(``module_class``) holding the math. It reads inputs from a prepared MuData
(docs/architecture.md) and writes results back into it, scanpy style. ``Model.from_h5mu(path)``
builds the same model on a prepared ``.h5mu`` on disk: only cells, features, labels and the
record are read into memory, and training and prediction read each minibatch from the file.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from genepeak._utils import log, seed_everything
from genepeak.config import ModelConfig, TrainConfig, from_dict, merged, to_dict
from genepeak.errors import ConfigError, InputError
from genepeak.io import prepared
from genepeak.io.annotation import gene_positions
from genepeak.io.peaks import peak_centres
from genepeak.models.io import read_model_dir, write_model_dir
from genepeak.nn.cis import CisLinear, cis_layout
from genepeak.nn.losses import needs_counts, needs_target_sum
from genepeak.train.checkpoint import CHECKPOINT_NAME, read_checkpoint
from genepeak.train.data import (
    Batch,
    CellData,
    RowSubset,
    batch_rows,
    count_nonfinite,
    library_sizes,
)
from genepeak.train.loop import fit, resolve_device, set_threads
from genepeak.train.split import stratified_split

#: structural options: a checkpoint whose values differ belongs to another architecture
SIGNATURE_FIELDS = (
    "architecture",
    "latent_dim",
    "hidden",
    "activation",
    "norm",
    "rna_loss",
    "atac_loss",
    "alignment",
    "genes",
    "cis_window",
)
#: floats per chunk of Monte-Carlo output kept in memory during prediction
PREDICTION_CHUNK = 2**25
#: cells whose input rows are copied out of the data at once for prediction
CELL_CHUNK = 2048
#: what to do when a MuData lacks the model's features
TRAINED_ON = "the model needs them all: use the data it was trained on, prepared the same way"


class Model:
    """Base of GPG, PGP and DualVAE (see docs/architecture.md for the API)."""

    architecture: ClassVar[str] = ""
    module_class: ClassVar[type] = torch.nn.Module
    peak_task: ClassVar[str] = ""
    gene_task: ClassVar[str] = ""
    #: latents every model of the class has (models/registry.py reads them from here)
    LATENT_KEYS: ClassVar[tuple[str, ...]] = ("z1", "z2")
    #: the latent the module reads from genes alone (``cell_state``); None: none is
    gene_latent: ClassVar[str | None] = None

    def __init__(
        self,
        mdata,
        model_config: ModelConfig | None = None,
        train_config: TrainConfig | None = None,
        **overrides: Any,
    ) -> None:
        self._build(mdata, model_config, train_config, overrides, source=None)

    @classmethod
    def from_h5mu(
        cls,
        path: str | Path,
        model_config: ModelConfig | None = None,
        train_config: TrainConfig | None = None,
        **overrides: Any,
    ) -> Model:
        """The model on a prepared ``.h5mu`` on disk, for more cells than memory holds.

        Reads only obs, var and uns (``io.prepared.read_metadata``) into memory; the NaN check
        and median library size stream the matrices in chunks, and ``train`` and the
        predictions read each minibatch's rows of ``X`` / ``layers['counts']`` from the file.
        ``model.mdata`` is that matrix-free MuData; pass a loaded MuData to predict on others.
        Same options, seeds and results as ``cls(mudata.read_h5mu(path), ...)``.
        """
        model = cls.__new__(cls)
        metadata = prepared.read_metadata(path)
        model._build(metadata, model_config, train_config, overrides, source=Path(path))
        return model

    # ------------------------------------------------------------------ construction

    def _build(self, mdata, model_config, train_config, overrides, source) -> None:
        model_config, train_config = _merge_configs(
            self.architecture, model_config, train_config, overrides
        )
        rna = _modality(mdata, "rna", self.architecture)
        genes = _select_genes(rna, model_config.genes)
        peaks = np.asarray(_modality(mdata, "atac", self.architecture).var_names).astype(str)
        self._setup(mdata, model_config, train_config, genes, peaks, source=source)

    def _setup(
        self, mdata, model_config, train_config, genes, peaks, split=None, source=None
    ) -> None:
        self.mdata, self.source = mdata, source
        self.model_config, self.train_config = model_config, train_config
        self.genes, self.peaks = np.asarray(genes).astype(str), np.asarray(peaks).astype(str)
        _check_latent_size(model_config.latent_dim, len(self.genes), len(self.peaks))
        _check_finite(mdata, self._needs_counts, source)
        seed_everything(train_config.seed)
        target_sums = {
            f"{kind}_target_sum": _median_library(
                mdata, name, features, needs_target_sum(loss), source
            )
            for kind, name, features, loss in (
                ("gene", "rna", self.genes, model_config.rna_loss),
                ("peak", "atac", self.peaks, model_config.atac_loss),
            )
        }
        self.module = self.module_class(
            len(self.genes),
            len(self.peaks),
            model_config,
            **target_sums,
            **self._cis_kwargs(mdata),
        )
        self.split = split if split is not None else self._make_split(mdata)
        self.history = pd.DataFrame()

    def _cis_kwargs(self, mdata) -> dict[str, Any]:
        """The cis layer's layout from the features' genomic positions, when configured."""
        window = self.model_config.cis_window
        # the chain's source modality feeds its stage-1 cis layer; a module without one has none
        cis_source = getattr(self.module_class, "source", None)
        if not window or cis_source is None:
            return {}
        genes = _gene_positions(mdata, self.genes)
        peaks = _peak_positions(mdata, self.peaks)
        source, target = (genes, peaks) if cis_source == "rna" else (peaks, genes)
        layout = cis_layout(*source, *target, window)
        if layout.n_pairs == 0:
            log(f"cis layer: no gene-peak pair within {window} bp; the layer is left out")
            return {}
        log(f"cis layer: {layout.n_pairs} gene-peak pairs within {window:,} bp")
        return {"cis_layout": layout}

    def _make_split(self, mdata) -> dict[str, np.ndarray]:
        key = self.train_config.labels_key
        labels = mdata.obs[key].to_numpy() if key in mdata.obs else None
        if labels is None:
            log(f"mdata.obs has no {key!r} column: the split is not stratified")
        return stratified_split(
            np.asarray(mdata.obs_names),
            labels,
            self.train_config.val_fraction,
            self.train_config.test_fraction,
            self.train_config.seed,
        )

    @property
    def _needs_counts(self) -> tuple[bool, bool]:
        """Whether the RNA / ATAC losses train against raw counts."""
        return needs_counts(self.model_config.rna_loss), needs_counts(self.model_config.atac_loss)

    @property
    def latent_keys(self) -> tuple[str, ...]:
        """Names of this model's latents (``model.latent(key=...)``, ``write_results``)."""
        return self.LATENT_KEYS

    @property
    def cis_window(self) -> int:
        """Window (bp) of stage 1's cis layer; 0 when the model has none."""
        cis = getattr(self.module, "cis", None)
        return int(self.model_config.cis_window) if cis is not None else 0

    @property
    def peak_scale(self) -> str:
        """``probability`` with a Bernoulli peak head, else ``log1p``."""
        return self.module.peak_head.scale

    @property
    def signature(self) -> dict[str, Any]:
        config = to_dict(self.model_config)
        out = {key: config[key] for key in SIGNATURE_FIELDS}
        out.update(n_genes=len(self.genes), n_peaks=len(self.peaks))
        return out

    def __repr__(self) -> str:
        cfg = self.model_config
        return (
            f"{type(self).__name__}({len(self.genes)} genes x {len(self.peaks)} peaks, "
            f"hidden={cfg.hidden}, latent={cfg.latent_dim}, trained epochs={len(self.history)})"
        )

    # ------------------------------------------------------------------ training

    def train(self, out_dir: str | Path | None = None, resume: bool = False) -> Model:
        """Train on the ``train`` cells; validation cells drive early stopping.

        Parameters
        ----------
        out_dir
            Folder for per-epoch checkpoints, ``training_log.csv`` and the final saved model.
        resume
            Continue from ``out_dir/checkpoint.pt`` (refused when it is of another architecture).
        """
        self.train_config = within_budget(self.train_config, len(self.split["train"]))
        config = self.train_config
        checkpoint = Path(out_dir) / CHECKPOINT_NAME if out_dir is not None else None
        if resume and checkpoint is not None and checkpoint.exists():
            saved = read_checkpoint(checkpoint, self.signature)["split"]
            self.split = {k: np.asarray(v, dtype=str) for k, v in saved.items()}
        device = resolve_device(config.device)
        if config.devices > 1:
            device = torch.device("cpu")  # each DDP process moves its own batches to its device
        train_data = self._cell_data(self.mdata, self.split["train"], device, counts=True)
        val_data = None
        if len(self.split["val"]):
            val_data = self._cell_data(self.mdata, self.split["val"], device, counts=True)
        split = {k: list(map(str, v)) for k, v in self.split.items()}
        log(
            f"training {type(self).__name__} on {len(train_data)} cells "
            f"({len(self.genes)} genes, {len(self.peaks)} peaks) on {device}"
        )
        if config.devices > 1:
            from genepeak.train.lightning_module import fit_distributed

            history = fit_distributed(
                self.module,
                train_data,
                val_data,
                config,
                out_dir=out_dir,
                resume=resume,
                signature=self.signature,
                split=split,
            )
        else:
            history = fit(
                self.module, train_data, val_data, config, out_dir, resume, self.signature, split
            )
        self.history = history
        self.module.zero_grad(set_to_none=True)  # the last step's gradients: a model's size
        if out_dir is not None:
            self.save(out_dir)
        return self

    # ------------------------------------------------------------------ results

    def latent(self, mdata=None, cells=None, key: str | None = None) -> np.ndarray:
        """Posterior means ``(cells, latent_dim)`` of latent ``key`` (default: the first)."""
        key = key or self.latent_keys[0]
        if key not in self.latent_keys:
            raise InputError(
                f"unknown latent {key!r}; this model has {', '.join(self.latent_keys)}"
            )
        return self._apply(lambda g, p, k: self.module.latent(g, p, key), mdata, cells, None)

    def predict_peaks(self, mdata=None, cells=None, n_samples: int | None = None) -> np.ndarray:
        """Peaks on the input scale (``peak_scale``); ``(K, cells, peaks)`` with ``n_samples=K``."""
        return self._apply(self.module.predict_peaks, mdata, cells, n_samples, len(self.peaks))

    def predict_genes(self, mdata=None, cells=None, n_samples: int | None = None) -> np.ndarray:
        """Genes on the log1p input scale; ``(K, cells, genes)`` with ``n_samples=K``."""
        return self._apply(self.module.predict_genes, mdata, cells, n_samples, len(self.genes))

    def peaks_from_genes(self, x_genes, n_samples: int | None = None) -> np.ndarray:
        """Peaks predicted from gene values in model input space ``(cells, len(model.genes))``."""
        if x_genes.shape[-1] != len(self.genes):
            raise InputError(
                f"x_genes has {x_genes.shape[-1]} columns; the model expects "
                f"{len(self.genes)} (model.genes, in order)"
            )
        if sp.issparse(x_genes):
            matrix = sp.csr_matrix(x_genes, dtype=np.float32)
            finite = np.isfinite(matrix.data).all()
            data = CellData(
                matrix, sp.csr_matrix((matrix.shape[0], 0), dtype=np.float32), device=self._device
            )
        else:  # dense rows (perturbation): batches straight from the array, no CSR round trip
            rows = np.ascontiguousarray(x_genes, dtype=np.float32)
            finite = np.isfinite(rows).all()
            data = _DenseRows(rows, self._device)
        if not finite:
            raise InputError("x_genes contains NaN or infinite values")
        return self._batched(
            data, lambda g, p, k: self.module.peaks_from_genes(g, k), n_samples, len(self.peaks)
        )

    def for_links(self, seed: int | None = None) -> Model:
        """The same model, untrained, on every cell but its validation cells (``seed``: its
        training seed, default this model's).

        Link scores need no held-out translation cells, so the test cells teach the model too;
        the validation cells stay for early stopping. On tuning seeds 0-2 (small shape) this
        raised the previous link score's (the cis weights') pooled AUPRC from .625 / .588 / .636
        to .633 / .640 / .646 at link strength 0.5, and from .720 / .709 / .740 to .738 / .743 /
        .744 at 1.0; for the state-adjusted score it was not measured again.
        """
        seed = self.train_config.seed if seed is None else seed
        configs = dict(
            model_config=dataclasses.replace(self.model_config),
            train_config=dataclasses.replace(self.train_config, test_fraction=0.0, seed=seed),
        )
        if self.source is not None:
            model = type(self).from_h5mu(self.source, **configs)
        else:
            model = type(self)(self.mdata, **configs)
        train = np.concatenate([self.split["train"], self.split["test"]])
        model.split = {"train": train, "val": self.split["val"], "test": train[:0]}
        return model

    def links_model(self, n_models: int = 1):
        """What link scores perturb: ``n_models`` of :meth:`for_links` trained with seeds
        ``seed, seed + 100, ...``; one model alone, or their :class:`MeanEnsemble`."""
        from genepeak.models.ensemble import MeanEnsemble

        seed = self.train_config.seed
        members = [self.for_links(seed + 100 * k).train() for k in range(max(n_models, 1))]
        return members[0] if len(members) == 1 else MeanEnsemble(members)

    def cell_state(self, x_genes) -> np.ndarray | None:
        """Posterior means of the latent read from genes alone (``gene_latent``) for dense gene
        rows in model input space, ``(rows, latent_dim)``; None when no latent is (PGP's
        latent path starts from the peaks)."""
        if self.gene_latent is None:
            return None
        rows = _DenseRows(np.ascontiguousarray(x_genes, dtype=np.float32), self._device)
        fn = lambda g, p, k: self.module.latent(g, None, self.gene_latent)  # noqa: E731
        return self._batched(rows, fn, None, self.model_config.latent_dim)

    def write_results(self, mdata=None, key_added: str | None = None) -> list[str]:
        """Store every latent's posterior means (all cells) in ``mdata.obsm``, scanpy style.

        Parameters
        ----------
        mdata
            The MuData to write into (default: the one the model was built on).
        key_added
            Name between ``X_`` and the latent key: ``.obsm['X_<key_added>_<latent>']``.
            Default: the architecture, e.g. ``X_gpg_z1``, ``X_gpg_z2``, ``X_dual_rna``.

        Returns
        -------
        The ``.obsm`` keys written, in ``latent_keys`` order.
        """
        mdata = self.mdata if mdata is None else mdata
        prefix = self.architecture if key_added is None else key_added
        written = []
        for key in self.latent_keys:
            mdata.obsm[f"X_{prefix}_{key}"] = self.latent(mdata, key=key)
            written.append(f"X_{prefix}_{key}")
        return written

    # ------------------------------------------------------------------ saving

    def save(self, path: str | Path) -> Path | None:
        """Write weights, configs, feature names, split, history and versions into ``path``."""
        if _distributed_rank() != 0:
            return None  # under DDP only the first process writes
        config = {
            "architecture": self.architecture,
            "model": to_dict(self.model_config),
            "train": to_dict(self.train_config),
        }
        return write_model_dir(
            path, self.module.state_dict(), config, self.genes, self.peaks, self.split, self.history
        )

    # ------------------------------------------------------------------ helpers

    @property
    def _device(self) -> torch.device:
        return next(self.module.parameters()).device

    def _apply(self, fn, mdata, cells, n_samples, n_out: int = 0) -> np.ndarray:
        """``fn`` over ``cells``, whose inputs are copied out of ``mdata`` ``CELL_CHUNK`` cells
        at a time (never every requested cell's rows at once)."""
        mdata = self.mdata if mdata is None else mdata
        names = np.asarray(mdata.obs_names)[prepared.cell_rows(mdata.obs_names, cells)]
        n_out = n_out or self.model_config.latent_dim
        parts = [
            self._batched(
                self._cell_data(mdata, names[lo : lo + CELL_CHUNK], self._device, counts=False),
                fn,
                n_samples,
                n_out,
            )
            for lo in range(0, max(len(names), 1), CELL_CHUNK)  # no cells: one empty chunk
        ]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts, axis=0 if n_samples is None else 1)

    def _row_width(self, n_out: int) -> int:
        """Floats one cell occupies in a prediction pass: the widest output, or a cis layer's
        per-cell products (``nn/cis.py``) where they are wider."""
        cis = sum(
            int(m.mask.shape[0]) * (int(m.mask.shape[1]) + int(m.mask.shape[2]))
            for m in self.module.modules()
            if isinstance(m, CisLinear)
        )
        return max(n_out, len(self.genes), len(self.peaks), cis)

    @torch.no_grad()
    def _batched(self, data: CellData, fn, n_samples, n_out: int) -> np.ndarray:
        if n_samples is not None and n_samples < 1:
            raise InputError(f"n_samples must be a positive integer or None, got {n_samples}")
        width = self._row_width(n_out) * (n_samples or 1)
        batch_size = int(np.clip(PREDICTION_CHUNK // width, 1, 4096))
        was_training = self.module.training
        self.module.eval()
        out = None  # filled batch by batch: a list of batches and their concatenation held
        # the output twice (0.31 GiB more for PBMC-10k test cells x peaks)
        axis = 0 if n_samples is None else 1
        previous_threads = set_threads(self.train_config, self._device, self.module, quiet=True)
        try:
            # Stochastic passes draw from torch's global generator (seed it once, e.g. with
            # genepeak._utils.seed_everything): re-seeding here would repeat the same noise in
            # every call and every chunk, making Monte-Carlo samples dependent.
            for rows in batch_rows(len(data), batch_size, shuffle=False):
                batch = data.batch(rows)
                part = fn(batch.genes, batch.peaks, n_samples).float().cpu().numpy()
                if out is None:
                    shape = list(part.shape)
                    shape[axis] = len(data)
                    out = np.empty(shape, dtype=np.float32)
                where = [slice(None)] * out.ndim
                where[axis] = slice(int(rows[0]), int(rows[0]) + part.shape[axis])
                out[tuple(where)] = part
        finally:
            torch.set_num_threads(previous_threads)
            self.module.train(was_training)
        if out is None:
            shape = (0, n_out) if n_samples is None else (n_samples, 0, n_out)
            return np.zeros(shape, dtype=np.float32)
        return out

    def _cell_data(self, mdata, cells, device, counts: bool) -> CellData:
        rna = _modality(mdata, "rna", self.architecture)
        atac = _modality(mdata, "atac", self.architecture)
        rows = prepared.cell_rows(mdata.obs_names, cells)
        need_gene_counts, need_peak_counts = self._needs_counts if counts else (False, False)
        if self.source is not None and mdata is self.mdata:  # rows read per batch from the file
            names = np.asarray(mdata.obs_names)[rows]
            need = (need_gene_counts, need_peak_counts)
            return CellData.from_h5mu(
                self.source, names, self.genes, self.peaks, counts=need, device=device
            )
        gene_cols = prepared.feature_columns(rna, self.genes, "rna", TRAINED_ON)
        peak_cols = prepared.feature_columns(atac, self.peaks, "atac", TRAINED_ON)
        return CellData(
            _rows_of(rna.X, rows, gene_cols),
            _rows_of(atac.X, rows, peak_cols),
            _counts_block(rna, "rna", rows, gene_cols) if need_gene_counts else None,
            _counts_block(atac, "atac", rows, peak_cols) if need_peak_counts else None,
            device=device,
        )


class _DenseRows:
    """Dense gene rows served as batches (``genes``; no peaks), like :class:`CellData`."""

    def __init__(self, rows: np.ndarray, device: torch.device) -> None:
        self.rows, self.device = rows, device

    def __len__(self) -> int:
        return self.rows.shape[0]

    def batch(self, rows) -> Batch:
        index = rows.numpy() if isinstance(rows, torch.Tensor) else np.asarray(rows)
        genes = torch.from_numpy(self.rows[index]).to(self.device)
        return Batch(genes=genes, peaks=genes.new_zeros((len(genes), 0)))


# ---------------------------------------------------------------------- load


def within_budget(config, n_train: int):
    """``config`` with its epochs capped by ``max_cell_passes`` over ``n_train`` cells (and the
    KL warm-up shortened in proportion); unchanged without a budget."""
    from dataclasses import replace

    from genepeak.config import MIN_BUDGET_EPOCHS

    if config.max_cell_passes is None or n_train <= 0:
        return config
    epochs = max(MIN_BUDGET_EPOCHS, -(-config.max_cell_passes // n_train))
    if epochs >= config.epochs:
        return config
    warmup = round(config.beta_warmup_epochs * epochs / config.epochs)
    log(
        f"cell-pass budget {config.max_cell_passes:,}: {epochs} epochs of {n_train:,} cells "
        f"(of {config.epochs}), KL warm-up {warmup}"
    )
    return replace(config, epochs=epochs, beta_warmup_epochs=warmup)


def load(path: str | Path, mdata) -> Model:
    """Load a saved model and attach it to ``mdata`` (which must hold its genes and peaks).

    ``mdata`` may be the path of a prepared ``.h5mu``: the model then reads rows from the
    file, as one built with ``Model.from_h5mu``.
    """
    from genepeak.models.registry import REGISTRY

    source = None
    if isinstance(mdata, str | os.PathLike):
        source, mdata = Path(mdata), prepared.read_metadata(mdata)

    saved = read_model_dir(path)
    architecture = saved["config"].get("architecture")
    if architecture not in REGISTRY:
        raise InputError(f"{path}/config.json: unknown architecture {architecture!r}")
    cls = REGISTRY[architecture].model_class
    model_config = from_dict(ModelConfig, saved["config"]["model"], where=f"{path}/config.json")
    train_config = from_dict(TrainConfig, saved["config"]["train"], where=f"{path}/config.json")
    rna = _modality(mdata, "rna", architecture)
    atac = _modality(mdata, "atac", architecture)
    prepared.feature_columns(rna, saved["genes"], "rna", TRAINED_ON)
    prepared.feature_columns(atac, saved["peaks"], "atac", TRAINED_ON)
    split = saved["split"]
    if not np.isin(np.concatenate(list(split.values())), np.asarray(mdata.obs_names)).all():
        log("the saved split names cells absent from this MuData; pass cells= explicitly")
    model = cls.__new__(cls)
    model._setup(mdata, model_config, train_config, saved["genes"], saved["peaks"], split, source)
    model.module.load_state_dict(saved["weights"])
    model.history = saved["history"]
    return model


# ---------------------------------------------------------------------- input checks


def _merge_configs(architecture, model_config, train_config, overrides):
    """The given configs (None: defaults) with keyword ``overrides`` routed to their config."""
    model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    model_options, train_options = {}, {}
    for key, value in overrides.items():
        if key in model_fields:
            model_options[key] = value
        elif key in train_fields:
            train_options[key] = value
        else:
            close = difflib.get_close_matches(key, sorted(model_fields | train_fields), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown option {key!r} (neither a ModelConfig nor a TrainConfig field).{hint}"
            )
    given = model_config.architecture if model_config is not None else architecture
    given = model_options.get("architecture", given)
    if given != architecture:
        log(f"model_config.architecture={given!r} ignored: this is {architecture}")
    model_options["architecture"] = architecture
    return merged(ModelConfig, model_config, model_options), merged(
        TrainConfig, train_config, train_options
    )


def _modality(mdata, name: str, architecture: str):
    mods = getattr(mdata, "mod", None)
    if mods is None or name not in mods:
        present = ", ".join(mods) if mods is not None else "none (not a MuData)"
        raise InputError(
            f"the {architecture.upper()} model needs the {name!r} modality in the MuData; "
            f"found: {present}. Prepare the data with genepeak.prepare (docs/architecture.md)."
        )
    return mods[name]


def _select_genes(rna, gene_set: str) -> np.ndarray:
    if gene_set == "all":
        return np.asarray(rna.var_names).astype(str)
    if "highly_variable" not in rna.var:
        raise InputError(
            "genes='hvg' needs rna.var['highly_variable']; run genepeak.prepare "
            "(or sc.pp.highly_variable_genes) first, or use genes='all'"
        )
    mask = rna.var["highly_variable"].to_numpy().astype(bool)
    if not mask.any():
        raise InputError("rna.var['highly_variable'] marks no gene; use genes='all'")
    return np.asarray(rna.var_names[mask]).astype(str)


def _gene_positions(mdata, genes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return gene_positions(_modality(mdata, "rna", "cis layer").var, genes)


def _peak_positions(mdata, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return peak_centres(_modality(mdata, "atac", "cis layer").var, peaks)


def _check_latent_size(latent_dim: int, n_genes: int, n_peaks: int) -> None:
    smallest = min(n_genes, n_peaks)
    if latent_dim > smallest:
        which = "genes" if n_genes <= n_peaks else "peaks"
        raise ConfigError(
            f"latent_dim={latent_dim} is larger than the input ({smallest} {which}); "
            f"choose latent_dim <= {smallest}"
        )


def _check_finite(mdata, needs_counts: tuple[bool, bool], source: Path | None = None) -> None:
    """InputError when a matrix training reads holds NaN / inf (``source``: read in chunks)."""
    layers = [("rna", "X"), ("atac", "X")]
    layers += [("rna", "counts")] if needs_counts[0] else []
    layers += [("atac", "counts")] if needs_counts[1] else []
    for name, layer in layers:
        where = "X" if layer == "X" else "layers['counts']"
        if source is not None:
            n_bad, what = count_nonfinite(source, name, layer), f"{source}: mod['{name}'].{where}"
        else:
            adata = mdata.mod[name]
            matrix = adata.X if layer == "X" else prepared.counts(adata, name)
            values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
            n_bad, what = int((~np.isfinite(values)).sum()), f"mdata.mod['{name}'].{where}"
        if n_bad:
            raise InputError(
                f"{what} contains {n_bad} NaN or "
                "infinite values; fix or remove those cells/features before training"
            )


def _median_library(mdata, name: str, features, needed: bool, source: Path | None = None) -> float:
    """Median library size over ``features`` (``source``: counts streamed in row chunks)."""
    if not needed:
        return 1.0
    if source is not None:
        totals = library_sizes(source, name, features)
    else:
        adata = mdata.mod[name]
        cols = prepared.feature_columns(adata, features, name)
        totals = np.asarray(sp.csr_matrix(prepared.counts(adata, name))[:, cols].sum(1)).ravel()
    return float(max(np.median(totals), 1.0))


def _rows_of(matrix, rows: np.ndarray, cols: np.ndarray):
    """``rows`` x ``cols`` of ``matrix`` for :class:`CellData`: read in place
    (:class:`~genepeak.train.data.RowSubset`) when it is a float32 CSR matrix and ``cols`` are
    all its columns in order, else a copy."""
    in_place = sp.isspmatrix_csr(matrix) and matrix.dtype == np.float32
    if in_place and prepared.every_column(cols, matrix.shape[1]):
        return RowSubset(matrix, rows)
    return prepared.sparse_block(matrix, rows, cols)


def _counts_block(adata, modality: str, rows: np.ndarray, cols: np.ndarray):
    return _rows_of(prepared.counts(adata, modality), rows, cols)


def _distributed_rank() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", 0)))
