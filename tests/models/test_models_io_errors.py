"""Save / load, checkpoints and resume, fit_from_config, and every bad-input error."""

import json
from pathlib import Path

import mudata as md
import numpy as np
import pandas as pd
import pytest
import torch

import genepeak
from genepeak.config import ModelConfig, TrainConfig
from genepeak.errors import ConfigError, InputError, TrainingError
from genepeak.models import GPG, PGP, DualVAE, fit_from_config

FAST = dict(latent_dim=8, hidden=[32], lr=1e-2, batch_size=64, beta_max=0.01)


def test_save_load_identical_outputs(tiny_mdata, tmp_path):
    model = DualVAE(tiny_mdata, epochs=2, alignment="fusion", rna_loss="nb", **FAST).train()
    model.save(tmp_path / "m")
    files = {p.name for p in (tmp_path / "m").iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "genes.txt",
        "peaks.txt",
        "split.json",
        "versions.json",
        "history.csv",
    } <= files
    assert set(json.loads((tmp_path / "m" / "versions.json").read_text())) >= {"torch", "genepeak"}
    loaded = genepeak.load(tmp_path / "m", tiny_mdata)
    assert type(loaded) is DualVAE and loaded.model_config == model.model_config
    np.testing.assert_array_equal(loaded.predict_peaks(), model.predict_peaks())
    np.testing.assert_array_equal(loaded.latent(key="shared"), model.latent(key="shared"))
    torch.manual_seed(3)
    expected = model.predict_genes(n_samples=3)
    torch.manual_seed(3)
    np.testing.assert_array_equal(loaded.predict_genes(n_samples=3), expected)
    assert all(np.array_equal(loaded.split[k], model.split[k]) for k in model.split)
    assert len(loaded.history) == 2


def test_load_refuses_mismatched_features(tiny_mdata, tmp_path):
    GPG(tiny_mdata, epochs=1, **FAST).save(tmp_path / "m")
    fewer = md.MuData({"rna": tiny_mdata.mod["rna"][:, 5:].copy(), "atac": tiny_mdata.mod["atac"]})
    with pytest.raises(
        InputError,
        match=r"5 of 60 genes are not in mdata.mod\['rna'\].var_names \(e.g. 'GENE0', 'GENE1'.*use the data it was trained on",
    ):
        genepeak.load(tmp_path / "m", fewer)
    with pytest.raises(InputError, match="not a saved genepeak model"):
        genepeak.load(tmp_path, tiny_mdata)


def test_predict_on_reordered_features(tiny_mdata):
    model = GPG(tiny_mdata, epochs=1, **FAST)
    expected = model.predict_peaks()
    rna = tiny_mdata.mod["rna"]
    shuffled = md.MuData({"rna": rna[:, ::-1].copy(), "atac": tiny_mdata.mod["atac"]})
    np.testing.assert_allclose(model.predict_peaks(shuffled), expected, rtol=1e-6)


def test_resume_continues_exactly(tiny_mdata, tmp_path):
    full = GPG(tiny_mdata, epochs=4, dropout=0.1, **FAST).train(out_dir=tmp_path / "full")
    GPG(tiny_mdata, epochs=2, dropout=0.1, **FAST).train(out_dir=tmp_path / "cut")  # "interrupted"
    resumed = GPG(tiny_mdata, epochs=4, dropout=0.1, **FAST).train(
        out_dir=tmp_path / "cut", resume=True
    )
    np.testing.assert_allclose(resumed.history["loss"], full.history["loss"], rtol=1e-6)
    for key, value in full.module.state_dict().items():
        torch.testing.assert_close(resumed.module.state_dict()[key], value)
    log = pd.read_csv(tmp_path / "cut" / "training_log.csv")
    assert list(log["epoch"]) == [1, 2, 3, 4]


def test_resume_refuses_other_architecture(tiny_mdata, tmp_path):
    GPG(tiny_mdata, epochs=1, **FAST).train(out_dir=tmp_path)
    with pytest.raises(ConfigError, match="another architecture.*architecture: checkpoint 'gpg'"):
        PGP(tiny_mdata, epochs=2, **FAST).train(out_dir=tmp_path, resume=True)
    with pytest.raises(ConfigError, match="latent_dim"):
        GPG(tiny_mdata, epochs=2, **{**FAST, "latent_dim": 4}).train(out_dir=tmp_path, resume=True)


def test_nan_loss_stops_and_keeps_last_checkpoint(tiny_mdata, tmp_path):
    model = GPG(tiny_mdata, epochs=2, **FAST).train(out_dir=tmp_path)
    good = {k: v.clone() for k, v in model.module.state_dict().items()}
    bad = GPG(tiny_mdata, epochs=4, **{**FAST, "lr": 0.5})
    # a diverging step: from epoch 3 on the encoder emits NaN
    bad.module.enc1.mean.register_forward_hook(lambda mod, inp, out: out * float("nan"))
    with pytest.raises(
        TrainingError, match=r"NaN or infinite at epoch 3 \(lr=0.5\).*lr=0.05.*epoch 2"
    ):
        bad.train(out_dir=tmp_path, resume=True)
    for key, value in bad.module.state_dict().items():  # restored to the last good checkpoint
        torch.testing.assert_close(value, good[key])


def test_early_stopping(tiny_mdata):
    model = GPG(tiny_mdata, epochs=20, early_stopping_patience=2, **{**FAST, "lr": 0.0}).train()
    assert len(model.history) == 3  # no improvement after epoch 1 with a frozen model


@pytest.fixture
def fit_config(tiny_mdata, tmp_path):
    """A ``genepeak train`` mapping on the tiny data written to disk (small-pgp preset)."""
    path = tmp_path / "data.h5mu"
    tiny_mdata.write(path)
    return {
        "data": str(path),
        "out": str(tmp_path / "model"),
        "preset": "small-pgp",
        "model": {"latent_dim": 8, "hidden": [16]},
        "train": {"epochs": 2, "batch_size": 64},
    }


def test_fit_from_config(tiny_mdata, tmp_path, fit_config):
    config = fit_config
    model = fit_from_config(config)
    assert isinstance(model, PGP) and model.model_config.activation == "tanh"
    assert model.train_config.lr == 1e-3 and model.train_config.epochs == 2
    assert (tmp_path / "model" / "checkpoint.pt").exists()
    loaded = genepeak.load(tmp_path / "model", tiny_mdata)
    np.testing.assert_array_equal(loaded.predict_genes(), model.predict_genes())
    with pytest.raises(ConfigError, match="unknown key 'epochs'"):
        fit_from_config({**config, "epochs": 3})
    with pytest.raises(ConfigError, match="latnt_dim.*Did you mean 'latent_dim'"):
        fit_from_config({**config, "model": {"latnt_dim": 3}})
    with pytest.raises(ConfigError, match="preset.*small-gpg"):
        fit_from_config({**config, "preset": "tiny"})
    with pytest.raises(InputError, match="does not exist"):
        fit_from_config({**config, "data": str(tmp_path / "missing.h5mu")})
    with pytest.raises(ConfigError, match="stream: expected true or false"):
        fit_from_config({**config, "stream": "yes"})


def test_fit_from_config_streams_from_the_file(tmp_path, fit_config):
    config = {**fit_config, "preset": "small-gpg"}
    streamed = fit_from_config({**config, "stream": True})
    assert streamed.source == Path(config["data"]) and streamed.mdata.mod["rna"].X is None
    memory = fit_from_config({**config, "out": str(tmp_path / "memory")})
    assert memory.source is None
    test = memory.split["test"]
    np.testing.assert_array_equal(
        streamed.predict_peaks(cells=test), memory.predict_peaks(cells=test)
    )


def test_config_errors(tiny_mdata):
    with pytest.raises(ConfigError, match="Did you mean 'latent_dim'"):
        GPG(tiny_mdata, latent_size=4)
    with pytest.raises(ConfigError, match="activation.*choose one of: relu"):
        GPG(tiny_mdata, activation="swish")
    with pytest.raises(ConfigError, match="expected an integer"):
        GPG(tiny_mdata, epochs="ten")
    with pytest.raises(ConfigError, match=r"latent_dim=70 is larger than the input \(60 genes\)"):
        GPG(tiny_mdata, latent_dim=70)
    model = PGP(
        tiny_mdata,
        model_config=ModelConfig(latent_dim=4, hidden=[8]),
        train_config=TrainConfig(epochs=1),
        lr=0.5,
    )
    assert model.model_config.architecture == "pgp" and model.train_config.lr == 0.5


def test_input_errors(tiny_mdata):
    rna_only = md.MuData({"rna": tiny_mdata.mod["rna"]})
    with pytest.raises(InputError, match="needs the 'atac' modality.*found: rna"):
        DualVAE(rna_only)
    with pytest.raises(InputError, match="highly_variable"):
        del tiny_mdata.mod["rna"].var["highly_variable"]
        GPG(tiny_mdata, genes="hvg")
    tiny_mdata.mod["atac"].X.data[3] = np.nan
    with pytest.raises(InputError, match=r"mod\['atac'\].X contains 1 NaN"):
        GPG(tiny_mdata, **FAST)
    tiny_mdata.mod["atac"].X.data[3] = 0.5
    tiny_mdata.mod["rna"].layers["counts"].data[0] = np.inf
    GPG(tiny_mdata, **FAST)  # MSE losses do not read the counts
    with pytest.raises(InputError, match=r"layers\['counts'\] contains 1 NaN"):
        GPG(tiny_mdata, rna_loss="nb", **FAST)
    del tiny_mdata.mod["rna"].layers["counts"]
    with pytest.raises(InputError, match=r"mod\['rna'\].layers has no 'counts'.*count likelihood"):
        GPG(tiny_mdata, rna_loss="nb", **FAST)
    model = GPG(tiny_mdata, **FAST)
    with pytest.raises(InputError, match="not in mdata.obs_names"):
        model.predict_peaks(cells=["nope"])
    with pytest.raises(InputError, match="expects 60"):
        model.peaks_from_genes(np.zeros((3, 59)))


def test_no_pickles_in_saved_model(tiny_mdata, tmp_path):
    GPG(tiny_mdata, epochs=1, **FAST).train(out_dir=tmp_path)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1 and state["signature"]["architecture"] == "gpg"
