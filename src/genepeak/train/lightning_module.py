"""Multi-device training under PyTorch Lightning's DDP (``TrainConfig.devices > 1``).

Every process draws the same global batch (same shuffling, same reparameterisation noise as the
single-device loop) and trains on its share of the rows; the loss of each share is weighted so
that the averaged DDP gradient equals the gradient of the whole batch. A DDP run therefore
follows the single-process run up to floating-point summation order.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from torch import nn

from genepeak.config import TrainConfig
from genepeak.train.data import CellData, batch_rows
from genepeak.train.loop import (
    Bookkeeper,
    resolve_device,
    set_threads,
    shuffle_generator,
    start_epoch,
    start_training,
    step_noise,
    warm_up,
)


class _Batches(torch.utils.data.Dataset):
    def __init__(self, batches: list[torch.Tensor]) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.batches[i]


class DistributedTraining(L.LightningModule):
    """Lightning wrapper of a genepeak module: same batches, noise and bookkeeping as ``fit``."""

    def __init__(
        self,
        module: nn.Module,
        train_data: CellData,
        val_data: CellData | None,
        config: TrainConfig,
        optimizer: torch.optim.Optimizer,
        book_args: dict,
    ) -> None:
        super().__init__()
        self.module = module
        self.train_data, self.val_data, self.config = train_data, val_data, config
        self.optimizer = optimizer
        self.book_args = book_args
        self.start_epoch = book_args["state"].epoch
        self.book: Bookkeeper | None = None

    @property
    def epoch(self) -> int:
        return self.start_epoch + self.current_epoch

    def configure_optimizers(self):
        return self.optimizer

    def train_dataloader(self):
        rows = batch_rows(
            len(self.train_data),
            self.config.batch_size,
            True,
            shuffle_generator(self.config.seed, self.epoch),
        )
        return torch.utils.data.DataLoader(_Batches(rows), batch_size=None, shuffle=False)

    def on_train_start(self) -> None:
        self.book = Bookkeeper(
            self.module,
            self.optimizer,
            self.val_data,
            self.config,
            writer=self.trainer.is_global_zero,
            **self.book_args,
        )

    def on_train_epoch_start(self) -> None:
        self.beta = start_epoch(self.optimizer, self.config, self.book.state, self.epoch)
        self.epoch_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.sums: dict[str, torch.Tensor] = {}
        self.started = time.perf_counter()

    def training_step(self, rows: torch.Tensor, step: int) -> torch.Tensor:
        world, rank = self.trainer.world_size, self.trainer.global_rank
        eps = step_noise(self.module, len(rows), self.config.seed, self.epoch, step, self.device)
        share = torch.tensor_split(torch.arange(len(rows)), world)[rank]
        batch = self.train_data.batch(rows[share]).to(self.device)
        parts = self.module.loss(batch, self.beta, eps[:, share.to(self.device)])
        for key, value in parts.items():
            self.sums[key] = self.sums.get(key, 0.0) + value.detach().float() * len(share)
        return parts["loss"] * (len(share) * world / len(rows))

    def on_before_optimizer_step(self, optimizer) -> None:
        warm_up(optimizer, self.epoch_lrs, self.trainer.global_step, self.config.lr_warmup_steps)

    def on_train_epoch_end(self) -> None:
        sums = {k: self.trainer.strategy.reduce(v, reduce_op="sum") for k, v in self.sums.items()}
        stop = self.book.end_epoch(
            self.epoch, self.beta, sums, len(self.train_data), time.perf_counter() - self.started
        )
        if stop:
            self.trainer.should_stop = True


def fit_distributed(
    module: nn.Module,
    train_data: CellData,
    val_data: CellData | None,
    config: TrainConfig,
    out_dir: str | Path | None = None,
    resume: bool = False,
    signature: dict[str, Any] | None = None,
    split: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Train with Lightning on ``config.devices`` devices (strategy ``ddp`` unless set)."""
    device = resolve_device(config.device)
    set_threads(config, device, module)
    optimizer, state, dtype = start_training(module, config, device, out_dir, resume, signature)
    book_args = dict(
        out_dir=out_dir, signature=signature or {}, split=split or {}, state=state, dtype=dtype
    )
    plan = DistributedTraining(module, train_data, val_data, config, optimizer, book_args)
    trainer = L.Trainer(
        accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=config.devices,
        strategy="ddp" if config.strategy == "auto" else config.strategy,
        precision="bf16-mixed" if dtype == torch.bfloat16 else "32-true",
        max_epochs=config.epochs - state.epoch,
        reload_dataloaders_every_n_epochs=1,
        use_distributed_sampler=False,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        enable_progress_bar=not os.environ.get("GENEPEAK_QUIET"),
        default_root_dir=str(out_dir) if out_dir is not None else None,
    )
    if state.epoch >= config.epochs:  # a finished checkpoint: nothing left to train
        return pd.DataFrame(state.history)
    trainer.fit(plan)
    return plan.book.finish()
