"""Schedules: the KL weight's linear warm-up and the learning rate's decay."""

from __future__ import annotations

import math


def beta_at(epoch: int, beta_min: float, beta_max: float, warmup_epochs: int) -> float:
    """KL weight of 0-based ``epoch``: ``beta_min`` at epoch 0, ``beta_max`` from ``warmup_epochs`` on.

    In between it grows linearly: ``beta_min + (beta_max - beta_min) * epoch / warmup_epochs``.
    """
    if warmup_epochs <= 0 or epoch >= warmup_epochs:
        return float(beta_max)
    return float(beta_min + (beta_max - beta_min) * epoch / warmup_epochs)


def lr_factor_at(schedule: str, epoch: int, epochs: int, min_factor: float) -> float:
    """Factor on the base learning rate at 0-based ``epoch`` of a budget of ``epochs``.

    ``constant`` and ``plateau`` (whose reductions depend on the validation history and are
    kept by the training state): 1. ``cosine``: half a cosine from 1 at epoch 0 down to
    ``min_factor`` at the last epoch of the budget.
    """
    if schedule != "cosine" or epochs <= 1:
        return 1.0
    progress = min(epoch, epochs - 1) / (epochs - 1)
    return float(min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def warmup_factor(step: int, warmup_steps: int) -> float:
    """Factor on the learning rate at 0-based optimiser ``step``: a linear ramp from
    ``1 / warmup_steps`` to 1 over the first ``warmup_steps`` steps (0: none). Adam's first steps
    move every weight by about the learning rate whatever its gradient, so a layer reading
    tens of thousands of features can jump far before the moments settle."""
    if warmup_steps <= 0 or step >= warmup_steps:
        return 1.0
    return (step + 1) / warmup_steps


def validation_objective(row: dict[str, float], beta: float, beta_max: float) -> float:
    """Validation loss at the final KL weight: ``val_loss + (beta_max - beta) * sum(val_kl_*)``.

    During the KL warm-up the loss of each epoch weighs the KL by that epoch's ``beta``; this
    puts every epoch on the scale of the objective training ends on, so early stopping and the
    best-epoch choice compare like with like. Loss parts named ``kl*`` are the KL terms (the
    convention of every genepeak module's ``loss``).
    """
    kl = sum(value for key, value in row.items() if key.startswith("val_kl"))
    return float(row["val_loss"] + (beta_max - beta) * kl)
