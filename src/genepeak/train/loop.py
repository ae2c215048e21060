"""The single-device training loop, and the epoch bookkeeping shared with the DDP path.

Determinism: the shuffling order, the dropout masks and the reparameterisation noise of every
step are drawn from generators seeded by (seed, epoch, step), so a resumed run continues exactly
like an uninterrupted one and a DDP run sees the same noise as a single process.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from genepeak._utils import atomic_path, log, progress
from genepeak.config import TrainConfig
from genepeak.errors import TrainingError
from genepeak.train.checkpoint import CHECKPOINT_NAME, read_checkpoint, write_checkpoint
from genepeak.train.data import CellData, batch_rows
from genepeak.train.schedule import beta_at

LOG_NAME = "training_log.csv"
#: on the CPU, bf16 autocast pays off once the widest layer has this many weights (measured)
CPU_BF16_MIN_WEIGHTS = 2**20
#: below this many weights in the widest layer, CPU training uses one thread (measured)
CPU_THREADS_MIN_WEIGHTS = 2**18


def resolve_device(name: str) -> torch.device:
    """``auto`` -> ``cuda`` when available, else ``cpu``; anything else as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError(f"device {name!r} was requested but no CUDA GPU is available")
    return device


def resolve_precision(
    precision: str, device: torch.device, module: nn.Module
) -> torch.dtype | None:
    """Autocast dtype for training: ``None`` (float32) or ``torch.bfloat16``.

    ``auto`` uses bf16 on a GPU that supports it, and on the CPU only for wide layers, where
    the bf16 matmul speed-up outweighs the casting cost.
    """
    if precision == "32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if widest_layer(module) >= CPU_BF16_MIN_WEIGHTS else None


def widest_layer(module: nn.Module) -> int:
    """Number of weights of the largest linear layer."""
    return max((m.weight.numel() for m in module.modules() if isinstance(m, nn.Linear)), default=0)


def set_threads(
    config: TrainConfig, device: torch.device, module: nn.Module, quiet: bool = False
) -> int:
    """Set the CPU threads for training and return the previous setting.

    ``num_threads`` when given. Otherwise one thread for small models, and for models with
    wide layers every core that other processes leave idle: on an oversubscribed machine,
    contending threads made training ~10x slower than a single thread (measured).
    """
    previous = torch.get_num_threads()
    if device.type == "cpu":
        threads = config.num_threads
        if threads is None:
            threads = idle_cores() if widest_layer(module) >= CPU_THREADS_MIN_WEIGHTS else 1
        torch.set_num_threads(threads)
        if not quiet:
            log(f"CPU training with {threads} thread(s)")
    return previous


def idle_cores() -> int:
    """Cores not busy with other processes (the 1-minute load average counts this one too)."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not available on this platform
        return cores
    return int(max(1, min(cores, round(cores - load + 1))))


def shuffle_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def step_noise(
    module: nn.Module, n_rows: int, seed: int, epoch: int, step: int, device: torch.device
) -> torch.Tensor:
    """Standard-normal noise ``(n_latents, n_rows, latent_dim)`` for one global batch."""
    generator = torch.Generator(device=device)
    generator.manual_seed((seed * 1_000_003 + epoch * 100_003 + step * 7 + 1) % (2**62))
    shape = (module.n_latents, n_rows, module.latent_dim)
    return torch.randn(shape, generator=generator, device=device)


def autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(
        device_type=device.type, dtype=dtype or torch.float32, enabled=dtype is not None
    )


@torch.no_grad()
def evaluate_loss(
    module: nn.Module,
    data: CellData,
    batch_size: int | None,
    beta: float,
    seed: int,
    epoch: int,
    dtype: torch.dtype | None,
) -> dict[str, float]:
    """Mean loss parts over ``data`` (eval mode, seeded noise), weighted by batch size."""
    was_training = module.training
    module.eval()
    device = next(module.parameters()).device
    sums: dict[str, float] = {}
    for step, rows in enumerate(batch_rows(len(data), batch_size, shuffle=False)):
        batch = data.batch(rows).to(device)
        eps = step_noise(module, len(rows), seed + 1, 0, step, device)  # same noise each epoch
        with autocast(device, dtype):
            parts = module.loss(batch, beta, eps)
        for key, value in parts.items():
            sums[key] = sums.get(key, 0.0) + float(value) * len(rows)
    module.train(was_training)
    return {key: value / len(data) for key, value in sums.items()}


@dataclass
class TrainState:
    """What a checkpoint restores: progress, history and early-stopping memory."""

    epoch: int = 0  # epochs completed
    history: list[dict[str, float]] = field(default_factory=list)
    best_val: float = math.inf
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0


class Bookkeeper:
    """End-of-epoch work shared by both training paths.

    NaN check, validation loss, history, CSV/TensorBoard log, checkpoint, early stopping.
    """

    def __init__(
        self,
        module: nn.Module,
        optimizer: torch.optim.Optimizer,
        val_data: CellData | None,
        config: TrainConfig,
        out_dir: str | Path | None,
        signature: dict[str, Any],
        split: dict[str, list[str]],
        state: TrainState,
        dtype: torch.dtype | None,
        writer: bool = True,
    ) -> None:
        self.module, self.optimizer, self.val_data = module, optimizer, val_data
        self.config, self.signature, self.split, self.state = config, signature, split, state
        self.dtype, self.writer = dtype, writer
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.tensorboard = _tensorboard(self.out_dir) if (self.out_dir and writer) else None

    @property
    def checkpoint_path(self) -> Path | None:
        return self.out_dir / CHECKPOINT_NAME if self.out_dir else None

    def end_epoch(
        self, epoch: int, beta: float, sums: dict[str, torch.Tensor], n_cells: int, seconds: float
    ) -> bool:
        """Record epoch ``epoch`` (0-based); return True when early stopping says stop."""
        row: dict[str, float] = {"epoch": epoch + 1, "beta": beta}
        row.update({key: float(value) / n_cells for key, value in sums.items()})
        if not math.isfinite(row["loss"]):
            self._fail_nan(epoch)
        if self.val_data is not None and len(self.val_data):
            val = evaluate_loss(
                self.module,
                self.val_data,
                self.config.batch_size,
                beta,
                self.config.seed,
                epoch,
                self.dtype,
            )
            row.update({f"val_{key}": value for key, value in val.items()})
        row["seconds"] = seconds
        self.state.history.append(row)
        self.state.epoch = epoch + 1
        stop = self._early_stopping(row)
        if self.writer and self.out_dir is not None:
            self._write_log(row)
            last = self.state.epoch == self.config.epochs or stop
            if self.state.epoch % self.config.checkpoint_every == 0 or last:
                write_checkpoint(self.checkpoint_path, self.checkpoint_state())
        return stop

    def finish(self) -> pd.DataFrame:
        """Restore the best weights when early stopping was on; return the history."""
        if self.config.early_stopping_patience and self.state.best_state is not None:
            self.module.load_state_dict(self.state.best_state)
        if self.tensorboard is not None:
            self.tensorboard.close()
        return pd.DataFrame(self.state.history)

    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "signature": self.signature,
            "epoch": self.state.epoch,
            "module": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "history": self.state.history,
            "best_val": self.state.best_val,
            "best_state": self.state.best_state,
            "bad_epochs": self.state.bad_epochs,
            "split": self.split,
        }

    def _early_stopping(self, row: dict[str, float]) -> bool:
        patience = self.config.early_stopping_patience
        if not patience or "val_loss" not in row:
            return False
        if row["val_loss"] < self.state.best_val:
            self.state.best_val = row["val_loss"]
            self.state.best_state = {
                k: v.detach().clone() for k, v in self.module.state_dict().items()
            }
            self.state.bad_epochs = 0
            return False
        self.state.bad_epochs += 1
        if self.state.bad_epochs >= patience:
            log(
                f"early stopping after epoch {row['epoch']}: validation loss has not improved "
                f"for {patience} epochs (best {self.state.best_val:.4g})"
            )
            return True
        return False

    def _write_log(self, row: dict[str, float]) -> None:
        with atomic_path(self.out_dir / LOG_NAME) as tmp:
            pd.DataFrame(self.state.history).to_csv(tmp, index=False)
        if self.tensorboard is not None:
            for key, value in row.items():
                if key != "epoch":
                    self.tensorboard.add_scalar(key, value, int(row["epoch"]))

    def _fail_nan(self, epoch: int) -> None:
        lr = self.config.lr
        path = self.checkpoint_path
        if path is not None and path.exists():
            state = read_checkpoint(path, self.signature)
            self.module.load_state_dict(state["module"])
            kept = f"the last good checkpoint ({path}, epoch {state['epoch']}) is kept and restored"
        else:
            kept = "no checkpoint was written (train with an output folder to keep one)"
        raise TrainingError(
            f"the training loss became NaN or infinite at epoch {epoch + 1} (lr={lr:g}); "
            f"try a lower learning rate, e.g. lr={lr / 10:g}; {kept}"
        )


def _tensorboard(out_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    return SummaryWriter(str(out_dir / "tensorboard"))


def restore(
    module: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    out_dir: str | Path | None,
    resume: bool,
    signature: dict[str, Any],
) -> TrainState:
    """Load the checkpoint of ``out_dir`` into module/optimizer when resuming."""
    path = Path(out_dir) / CHECKPOINT_NAME if out_dir is not None else None
    if not resume or path is None or not path.exists():
        if resume:
            log("no checkpoint to resume from; training from the start")
        return TrainState()
    state = read_checkpoint(path, signature)
    module.load_state_dict(state["module"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    log(f"resuming from {path} after epoch {state['epoch']}")
    return TrainState(
        epoch=state["epoch"],
        history=list(state["history"]),
        best_val=state["best_val"],
        best_state=state["best_state"],
        bad_epochs=state["bad_epochs"],
    )


def make_optimizer(module: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam; the fused kernel where available (its step was 2-3x faster on the reference GPG)."""
    params = list(module.parameters())
    try:
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError):  # a device without a fused Adam kernel
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def fit(
    module: nn.Module,
    train_data: CellData,
    val_data: CellData | None,
    config: TrainConfig,
    out_dir: str | Path | None = None,
    resume: bool = False,
    signature: dict[str, Any] | None = None,
    split: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Train ``module`` on one device with Adam; return the per-epoch history.

    ``module`` must provide ``loss(batch, beta, eps) -> dict`` (with key ``"loss"``),
    ``n_latents`` and ``latent_dim``. Data must already live on the training device.
    """
    device = train_data.device
    module.to(device)
    previous_threads = set_threads(config, device, module)
    try:
        return _fit(module, train_data, val_data, config, out_dir, resume, signature, split, device)
    finally:
        torch.set_num_threads(previous_threads)


def _fit(module, train_data, val_data, config, out_dir, resume, signature, split, device):
    optimizer = make_optimizer(module, config)
    signature = signature or {}
    state = restore(module, optimizer, out_dir, resume, signature)
    dtype = resolve_precision(config.precision, device, module)
    book = Bookkeeper(
        module, optimizer, val_data, config, out_dir, signature, split or {}, state, dtype
    )
    bar = progress(
        range(state.epoch, config.epochs), desc="training", total=config.epochs - state.epoch
    )
    for epoch in bar:
        beta = beta_at(epoch, config.beta_min, config.beta_max, config.beta_warmup_epochs)
        torch.manual_seed(config.seed + epoch)  # dropout masks
        module.train()
        start = time.perf_counter()
        sums: dict[str, torch.Tensor] = {}
        rows_per_step = batch_rows(
            len(train_data), config.batch_size, True, shuffle_generator(config.seed, epoch)
        )
        for step, rows in enumerate(rows_per_step):
            batch = train_data.batch(rows)
            eps = step_noise(module, len(rows), config.seed, epoch, step, device)
            with autocast(device, dtype):
                parts = module.loss(batch, beta, eps)
            optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            optimizer.step()
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + value.detach().float() * len(rows)
        stop = book.end_epoch(epoch, beta, sums, len(train_data), time.perf_counter() - start)
        last = book.state.history[-1]
        bar.set_postfix({k: f"{v:.4g}" for k, v in last.items() if k in ("loss", "val_loss")})
        if stop:
            break
    return book.finish()
