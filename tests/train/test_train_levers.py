"""Early stopping with the best weights kept, learning-rate schedules, AdamW, checkpoints."""

import math

import numpy as np
import pytest
import torch

from genepeak.config import TrainConfig
from genepeak.models import GPG
from genepeak.train.loop import Bookkeeper, TrainState, make_optimizer
from genepeak.train.schedule import lr_factor_at, validation_objective

FAST = dict(latent_dim=8, hidden=[32], batch_size=64, beta_max=0.05, beta_warmup_epochs=4)


def _state(model):
    return {k: v.clone() for k, v in model.module.state_dict().items()}


def test_best_weights_are_those_of_the_best_epoch(tiny_mdata):
    # a high learning rate overfits the tiny data: the validation objective turns up
    settings = dict(FAST, lr=3e-2, epochs=12)
    model = GPG(tiny_mdata, early_stopping_patience=None, **settings).train()
    history = model.history
    best = history.attrs["best_epoch"]
    assert best == int(history["val_objective"].idxmin()) + 1
    assert 1 < best < 12, "the test needs a minimum inside the budget"
    assert len(history) == 12  # no early stopping: the whole budget ran
    # the same seeded run cut at the best epoch ends on exactly these weights
    cut = GPG(
        tiny_mdata, early_stopping_patience=None, restore_best=False, **{**settings, "epochs": best}
    )
    cut.train()
    for key, value in _state(cut).items():
        torch.testing.assert_close(model.module.state_dict()[key], value, rtol=0, atol=0)
    last = GPG(tiny_mdata, early_stopping_patience=None, restore_best=False, **settings).train()
    assert not torch.equal(last.module.enc1.mean.weight, model.module.enc1.mean.weight)
    assert last.history.attrs["best_epoch"] == 12


def test_early_stopping_stops_patience_epochs_after_the_best(tiny_mdata):
    model = GPG(tiny_mdata, early_stopping_patience=3, lr=3e-2, epochs=40, **FAST).train()
    history = model.history
    best = history.attrs["best_epoch"]
    assert len(history) == best + 3 < 40
    assert history["val_objective"].iloc[best:].min() >= history["val_objective"].iloc[best - 1]


def test_validation_objective_puts_every_epoch_at_the_final_beta(tiny_mdata):
    model = GPG(tiny_mdata, epochs=6, lr=1e-2, **FAST).train()
    h = model.history
    kl = h["val_kl_z1"] + h["val_kl_z2"]
    expected = h["val_loss"] + (0.05 - h["beta"]) * kl
    np.testing.assert_allclose(h["val_objective"], expected, rtol=1e-12)
    assert h["beta"].iloc[0] == 0.0 and h["val_objective"].iloc[0] > h["val_loss"].iloc[0]
    row = {"val_loss": 10.0, "val_kl_a": 2.0, "val_kl_b": 1.0, "val_rec": 7.0}
    assert validation_objective(row, beta=0.1, beta_max=0.5) == pytest.approx(11.2)


def test_cosine_schedule_values_and_the_lr_column(tiny_mdata):
    assert lr_factor_at("cosine", 0, 5, 0.1) == 1.0
    assert lr_factor_at("cosine", 2, 5, 0.1) == pytest.approx(0.55)
    assert lr_factor_at("cosine", 4, 5, 0.1) == pytest.approx(0.1)
    assert lr_factor_at("constant", 3, 5, 0.1) == lr_factor_at("plateau", 3, 5, 0.1) == 1.0
    model = GPG(tiny_mdata, epochs=5, lr=1e-2, lr_schedule="cosine", lr_min_factor=0.1, **FAST)
    lrs = model.train().history["lr"].to_numpy()
    expected = [1e-2 * lr_factor_at("cosine", e, 5, 0.1) for e in range(5)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_plateau_schedule_halves_after_patience_stalled_epochs():
    module = torch.nn.Linear(2, 1)
    config = TrainConfig(lr_schedule="plateau", lr_plateau_patience=2, lr_plateau_factor=0.5)
    state = TrainState()
    book = Bookkeeper(
        module, make_optimizer(module, config), None, config, None, {}, {}, state, None
    )
    scales = []
    for epoch, value in enumerate([5.0, 4.0, 4.5, 4.2, 3.0, 3.5, 3.1, 3.2], start=1):
        book._plateau({"epoch": epoch, "val_objective": value})
        scales.append(state.lr_scale)
    assert scales == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_resume_is_exact_with_plateau_schedule_and_early_stopping(tiny_mdata, tmp_path):
    settings = dict(
        FAST, lr=3e-2, epochs=10, dropout=0.1, lr_schedule="plateau", lr_plateau_patience=1
    )
    full = GPG(tiny_mdata, **settings).train(out_dir=tmp_path / "full")
    GPG(tiny_mdata, **{**settings, "epochs": 4}).train(out_dir=tmp_path / "cut")
    resumed = GPG(tiny_mdata, **settings).train(out_dir=tmp_path / "cut", resume=True)
    assert full.history["lr"].nunique() > 1  # the plateau schedule acted
    np.testing.assert_array_equal(resumed.history["lr"], full.history["lr"])
    np.testing.assert_allclose(
        resumed.history["val_objective"], full.history["val_objective"], rtol=1e-6
    )
    assert resumed.history.attrs["best_epoch"] == full.history.attrs["best_epoch"]
    for key, value in full.module.state_dict().items():
        torch.testing.assert_close(resumed.module.state_dict()[key], value)


def test_adamw_decays_weights_apart_from_the_gradient():
    results = {}
    for name in ("adam", "adamw"):
        parameter = torch.nn.Parameter(torch.ones(3))
        holder = torch.nn.Module()
        holder.p = parameter
        optimizer = make_optimizer(holder, TrainConfig(optimizer=name, lr=0.1, weight_decay=0.5))
        parameter.grad = torch.zeros(3)
        optimizer.step()
        results[name] = parameter.detach().clone()
    torch.testing.assert_close(results["adamw"], torch.full((3,), 0.95))  # p -= lr * wd * p
    # Adam's L2 term is a gradient of wd * p, normalised by Adam: a full lr step
    torch.testing.assert_close(results["adam"], torch.full((3,), 0.9))


def test_checkpoints_every_n_epochs_or_by_time(tiny_mdata, tmp_path, monkeypatch):
    import genepeak.train.loop as loop

    writes = []
    monkeypatch.setattr(loop, "write_checkpoint", lambda path, state: writes.append(state["epoch"]))
    GPG(
        tiny_mdata, epochs=5, checkpoint_every=2, early_stopping_patience=None, **FAST, lr=1e-2
    ).train(out_dir=tmp_path / "a")
    assert writes == [2, 4, 5]
    writes.clear()
    GPG(tiny_mdata, epochs=5, early_stopping_patience=None, **FAST, lr=1e-2).train(
        out_dir=tmp_path / "b"
    )
    assert writes == [5]  # default: at most one per CHECKPOINT_SECONDS, and the last epoch
    assert math.isfinite(loop.CHECKPOINT_SECONDS) and loop.CHECKPOINT_SECONDS >= 60


def test_auto_precision_uses_bf16_on_the_cpu_only_with_native_bf16(monkeypatch):
    import genepeak.train.loop as loop

    real_check = loop.cpu_has_native_bf16
    wide = torch.nn.Linear(1024, 1025)  # above CPU_BF16_MIN_WEIGHTS
    narrow = torch.nn.Linear(16, 16)
    cpu = torch.device("cpu")
    monkeypatch.setattr(loop, "cpu_has_native_bf16", lambda: True)
    assert loop.resolve_precision("auto", cpu, wide) is torch.bfloat16
    assert loop.resolve_precision("auto", cpu, narrow) is None
    monkeypatch.setattr(loop, "cpu_has_native_bf16", lambda: False)
    assert loop.resolve_precision("auto", cpu, wide) is None  # emulated bf16 is ~500x slower
    assert loop.resolve_precision("bf16", cpu, narrow) is torch.bfloat16  # asked for: given
    assert loop.resolve_precision("32", cpu, wide) is None
    assert isinstance(real_check(), bool)
