"""A cell-pass budget caps the epochs (and the KL warm-up) of a training run."""

from __future__ import annotations

from genepeak.config import MIN_BUDGET_EPOCHS, TrainConfig
from genepeak.models.base import within_budget


def test_budget_caps_epochs_and_warmup():
    config = TrainConfig(epochs=30, beta_warmup_epochs=10, max_cell_passes=20_000)
    capped = within_budget(config, 2_000)
    assert capped.epochs == 10 and capped.beta_warmup_epochs == 3
    assert config.epochs == 30  # the caller's config is not changed


def test_budget_never_goes_below_the_floor_nor_above_the_epochs():
    config = TrainConfig(epochs=30, max_cell_passes=1_000)
    assert within_budget(config, 10_000).epochs == MIN_BUDGET_EPOCHS
    assert within_budget(TrainConfig(epochs=8, max_cell_passes=10**9), 500).epochs == 8
    assert within_budget(TrainConfig(epochs=8), 500).epochs == 8  # no budget
