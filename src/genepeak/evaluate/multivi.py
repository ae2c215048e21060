"""MultiVI (scvi-tools) as an optional yardstick: same split, scored with the same code.

Install with ``pip install 'genepeak[compare]'``. Without scvi-tools, ``fit_multivi`` returns
``(None, MULTIVI_MISSING)`` and the metrics and report carry that message.

MultiVI is trained on the training cells only (its own early-stopping hold-out is drawn from
them). Translation follows MultiVI's own convention: a cell whose ATAC row is all zeros is
treated as RNA-only, so peaks are predicted from RNA alone (and genes from ATAC alone).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from genepeak.config import EvaluateConfig
from genepeak.evaluate import _data

__all__ = ["MULTIVI_MISSING", "MultiVIBaseline", "fit_multivi", "multivi_available"]

MULTIVI_MISSING = (
    "MultiVI skipped: scvi-tools is not installed. Install the comparison extra with "
    "`pip install 'genepeak[compare]'` to train MultiVI on the same split."
)


def multivi_available() -> bool:
    """True when scvi-tools can be imported."""
    try:
        import scvi  # noqa: F401
    except ImportError:
        return False
    return True


def _counts(adata, rows: np.ndarray) -> sp.csr_matrix:
    matrix = adata.layers["counts"] if "counts" in adata.layers else adata.X
    return sp.csr_matrix(matrix[rows], dtype=np.float32)


def _paired(mdata, cells: np.ndarray, drop: str | None = None):
    """A MuData (modalities in the order rna, atac) of raw counts; ``drop`` zeroes a modality."""
    import anndata as ad
    import mudata as md

    mods = {}
    for mod in ("rna", "atac"):
        adata = mdata.mod[mod]
        counts = _counts(adata, _data.cell_positions(adata, cells, mod))
        if mod == drop:
            counts = sp.csr_matrix(counts.shape, dtype=np.float32)
        part = ad.AnnData(X=counts.copy(), obs={"cell": list(cells)}, var=adata.var[[]].copy())
        part.obs_names = list(cells)
        part.layers["counts"] = counts
        mods[mod] = part
    return md.MuData(mods)


def _epoch_hook_class():
    """A Lightning callback class (imported lazily: scvi-tools brings Lightning's pytorch API)."""
    from lightning.pytorch import Callback

    class EpochHook(Callback):
        def __init__(self, owner: MultiVIBaseline, fn) -> None:
            self.owner, self.fn = owner, fn

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            started = time.perf_counter()
            self.fn(self.owner, trainer.current_epoch + 1)
            self.owner.callback_seconds += time.perf_counter() - started

    return EpochHook


def _epoch_callback(owner: MultiVIBaseline, fn):
    return _epoch_hook_class()(owner, fn)


def _epochs_trained(model) -> int:
    """Epochs MultiVI ran (the length of its per-epoch training history)."""
    history = getattr(model, "history", None) or {}
    for key in ("elbo_train", "train_loss_epoch", "reconstruction_loss_train"):
        if key in history:
            return int(len(history[key]))
    return 0


class MultiVIBaseline:
    """A MultiVI model trained on ``split["train"]``, answering the evaluation API."""

    name = "multivi"
    peak_scale = "probability"
    peak_task = "translation"
    gene_task = "translation"
    latent_keys = ("joint",)

    def __init__(
        self,
        mdata,
        split: Mapping[str, Sequence[str]],
        config: EvaluateConfig | None = None,
        on_epoch_end: Callable[[MultiVIBaseline, int], None] | None = None,
    ) -> None:
        """Train MultiVI; ``on_epoch_end(self, epochs_done)`` runs after every epoch.

        ``train_seconds`` excludes the time spent in ``on_epoch_end``; during training, the
        training time so far is ``time.perf_counter() - train_started - callback_seconds``.
        """
        import scvi

        self.config = config or EvaluateConfig()
        self.split = _data.check_split(split, mdata)
        self.mdata = mdata
        self.genes = np.asarray(mdata.mod["rna"].var_names).astype(str)
        self.peaks = np.asarray(mdata.mod["atac"].var_names).astype(str)
        self.target_sum = float(
            mdata.mod["rna"].uns.get(
                "target_sum", np.median(np.asarray(_counts(mdata.mod["rna"], slice(None)).sum(1)))
            )
        )
        scvi.settings.seed = self.config.seed
        train = self._setup(_paired(mdata, self.split["train"]))
        self.model = scvi.model.MULTIVI(train, n_genes=len(self.genes), n_regions=len(self.peaks))
        # MultiVI's own early stopping (on by default in scvi-tools; set here so a changed
        # default cannot turn it off): at most multivi_epochs, stopping when the validation
        # reconstruction loss stalls for 50 epochs; its validation cells come from the training
        # cells, so genepeak's validation and test cells stay unseen
        self.callback_seconds = 0.0
        callbacks = [] if on_epoch_end is None else [_epoch_callback(self, on_epoch_end)]
        self.train_started = started = time.perf_counter()
        self.model.train(
            max_epochs=self.config.multivi_epochs,
            early_stopping=True,
            accelerator="cpu",
            enable_progress_bar=False,
            callbacks=callbacks,
        )
        self.train_seconds = time.perf_counter() - started - self.callback_seconds
        self.epochs_trained = _epochs_trained(self.model)

    @staticmethod
    def _setup(paired):
        """Register a MuData the way that works in scvi-tools 1.4 (see FINDINGS.md)."""
        import scvi

        scvi.model.MULTIVI.setup_mudata(
            paired,
            rna_layer="counts",
            atac_layer="counts",
            modalities={"rna_layer": "rna", "atac_layer": "atac"},
        )
        return paired

    def _query(self, cells, drop: str | None):
        cells = self.split["test"] if cells is None else np.asarray(cells).astype(str)
        # registering the query adds the fields (e.g. obs['_indices']) that scvi transfers
        return self._setup(_paired(self.mdata, cells, drop=drop))

    @contextmanager
    def _predicting(self):
        """Eval mode and scvi's trained flag for a prediction, even mid-training (curves)."""
        module, trained = self.model.module, self.model.is_trained_
        was_training = module.training
        self.model.is_trained_ = True
        module.eval()
        try:
            yield
        finally:
            module.train(was_training)
            self.model.is_trained_ = trained

    def predict_peaks(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Accessibility probabilities from RNA alone (ATAC zeroed)."""
        query = self._query(cells, drop="atac")
        with self._predicting():
            peaks = self.model.get_normalized_accessibility(query, return_numpy=True)
        return np.asarray(peaks, dtype=np.float32)

    def predict_genes(self, mdata=None, cells=None, n_samples=None) -> np.ndarray:
        """Expression from ATAC alone (RNA zeroed), as log1p counts at the median library."""
        query = self._query(cells, drop="rna")
        # normalised expression sums to one per cell: scale to the median library (rna.X's)
        with self._predicting():
            expr = self.model.get_normalized_expression(query, return_numpy=True)
        expr = np.asarray(expr, dtype=np.float64)
        return np.log1p(expr * self.target_sum).astype(np.float32)

    def latent(self, mdata=None, cells=None, key: str = "joint") -> np.ndarray:
        """The joint latent of paired cells."""
        query = self._query(cells, None)
        with self._predicting():
            return np.asarray(self.model.get_latent_representation(query))


def fit_multivi(
    mdata, split: Mapping[str, Sequence[str]], config: EvaluateConfig | None = None
) -> tuple[MultiVIBaseline | None, str]:
    """Train MultiVI on the training cells, or return ``(None, reason)`` when unavailable."""
    if not multivi_available():
        return None, MULTIVI_MISSING
    try:
        return MultiVIBaseline(mdata, split, config), "MultiVI trained on the training cells"
    except Exception as err:  # an optional yardstick must not sink the run; say why instead
        return None, f"MultiVI skipped: training failed with {type(err).__name__}: {err}"
