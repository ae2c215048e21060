"""KL weight schedule: linear warm-up from beta_min to beta_max."""

from __future__ import annotations


def beta_at(epoch: int, beta_min: float, beta_max: float, warmup_epochs: int) -> float:
    """KL weight of 0-based ``epoch``: ``beta_min`` at epoch 0, ``beta_max`` from ``warmup_epochs`` on.

    In between it grows linearly: ``beta_min + (beta_max - beta_min) * epoch / warmup_epochs``.
    """
    if warmup_epochs <= 0 or epoch >= warmup_epochs:
        return float(beta_max)
    return float(beta_min + (beta_max - beta_min) * epoch / warmup_epochs)
