"""Config validation: unknown keys, types, ranges and choices give clear messages."""

import pytest

from genepeak.config import (
    ModelConfig,
    PrepareConfig,
    RunConfig,
    TrainConfig,
    from_dict,
    load_config,
    preset,
    to_dict,
)
from genepeak.errors import ConfigError


def test_defaults_follow_reference_design():
    prep = PrepareConfig()
    assert (prep.max_pct_mt, prep.max_pct_ribo, prep.min_genes_per_cell) == (25.0, 15.0, 100)
    assert (prep.n_top_genes, prep.n_pcs, prep.n_neighbors, prep.min_peak_fraction) == (
        2000,
        50,
        15,
        0.03,
    )
    model, train = preset("gpg")
    assert (model.latent_dim, model.hidden, model.activation) == (256, [1024], "tanh")
    # GPG lr is 1e-3, not the design's 1e-4: chosen on validation loss (config.PRESETS)
    assert (train.epochs, train.lr, train.beta_max, train.beta_warmup_epochs) == (30, 1e-3, 0.1, 20)
    assert preset("pgp")[1].lr == 2e-4
    dual_model, dual_train = preset("dual")
    assert (dual_model.hidden, dual_model.atac_loss, dual_train.epochs) == (
        [2048],
        "weighted_mse",
        100,
    )


def test_unknown_key_suggests_closest():
    with pytest.raises(
        ConfigError, match=r"unknown option 'latnet_dim'.*Did you mean 'latent_dim'"
    ):
        from_dict(ModelConfig, {"latnet_dim": 8})


def test_wrong_type_and_range_and_choice():
    with pytest.raises(ConfigError, match=r"TrainConfig.epochs: expected an integer, got 'ten'"):
        from_dict(TrainConfig, {"epochs": "ten"})
    with pytest.raises(ConfigError, match=r"lr: -0.1 is below the minimum 0"):
        from_dict(TrainConfig, {"lr": -0.1})
    with pytest.raises(
        ConfigError, match=r"activation: 'swish' is not valid; choose one of: relu, "
    ):
        from_dict(ModelConfig, {"activation": "swish"})
    with pytest.raises(ConfigError, match=r"hidden: expected a non-empty list"):
        from_dict(ModelConfig, {"hidden": []})
    with pytest.raises(ConfigError, match=r"expected true or false"):
        from_dict(PrepareConfig, {"run_scrublet": "yes"})


def test_nested_run_config_round_trip(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "shape: tiny\nmodels:\n  gpg: {latent_dim: 8, hidden: [16, 8]}\n"
        "train:\n  gpg: {epochs: 3, batch_size: null}\nprepare: {max_pct_mt: 20}\n"
    )
    config = load_config(RunConfig, path)
    assert config.prepare.max_pct_mt == 20.0
    assert from_dict(RunConfig, to_dict(config)) == config


def test_run_sections_merge_over_the_preset_and_are_validated(tmp_path):
    from genepeak.pipeline import _model_configs

    config = from_dict(
        RunConfig,
        {"seed": 4, "models": {"gpg": {"latent_dim": 8}}, "train": {"pgp": {"epochs": 3}}},
    )
    configs = _model_configs(config)
    small_gpg, small_pgp_train = preset("gpg", small=True)[0], preset("pgp", small=True)[1]
    gpg_model, gpg_train = configs["gpg"]
    assert gpg_model.latent_dim == 8 and gpg_model.hidden == small_gpg.hidden  # merged
    assert configs["pgp"][1].epochs == 3 and configs["pgp"][1].lr == small_pgp_train.lr
    assert gpg_train.seed == configs["dual"][1].seed == 4
    assert configs["dual"][0] == preset("dual", small=True)[0]  # untouched preset
    bad = from_dict(RunConfig, {"models": {"gpg": {"latnet_dim": 8}}})
    with pytest.raises(ConfigError, match=r"models.gpg: unknown option 'latnet_dim'"):
        _model_configs(bad)
    with pytest.raises(ConfigError, match=r"models: unknown architecture 'vae'"):
        _model_configs(from_dict(RunConfig, {"models": {"vae": {}}}))


def test_missing_or_malformed_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(RunConfig, tmp_path / "nope.yaml")
    (tmp_path / "x.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(RunConfig, tmp_path / "x.yaml")


def test_run_presets_fast_by_default_and_thesis_by_name():
    from genepeak.pipeline import _model_configs

    fast = _model_configs(RunConfig())
    thesis = _model_configs(from_dict(RunConfig, {"preset": "thesis"}))
    assert fast["dual"][0].hidden == preset("dual", small=True)[0].hidden
    assert fast["gpg"][1].max_cell_passes == 40_000
    assert thesis["dual"][0].hidden == preset("dual")[0].hidden == [2048]
    assert thesis["dual"][1].max_cell_passes is None  # the reference design's epochs
    with pytest.raises(ConfigError, match="preset"):
        from_dict(RunConfig, {"preset": "quick"})


def test_a_diverged_model_is_trained_again_at_a_third_of_the_rate(tmp_path):
    from genepeak.config import TrainConfig
    from genepeak.errors import DivergedError
    from genepeak.pipeline import _fit_once

    rates = []

    class Flaky:
        def __init__(self, path, train_config):
            self.path, self.lr = path, train_config.lr

        @classmethod
        def from_h5mu(cls, path, model_config, train_config):
            return cls(path, train_config)

        def train(self, out_dir):
            rates.append(self.lr)
            if len(rates) == 1:
                raise DivergedError("the training loss became NaN")
            return self

    configs = (None, TrainConfig(lr=3e-3))
    model = _fit_once(Flaky, tmp_path / "prepared.h5mu", None, configs, tmp_path)
    assert rates == [3e-3, pytest.approx(1e-3)] and model.lr == pytest.approx(1e-3)
    assert model.path == tmp_path / "prepared.h5mu"  # trained from the prepared file
