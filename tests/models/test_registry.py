"""The architecture registry: one entry per name config validates, and every user of it agrees."""

from __future__ import annotations

import pytest

from genepeak import config
from genepeak.errors import ConfigError
from genepeak.models import MODEL_CLASSES, DualVAE
from genepeak.models.fit import PRESET_NAMES, configs_from_mapping
from genepeak.models.registry import REGISTRY, architecture, preset_by_name


def test_registry_covers_exactly_the_architectures_config_validates():
    assert tuple(REGISTRY) == config.ARCHITECTURES
    for name, entry in REGISTRY.items():
        assert entry.model_class.architecture == name
        assert MODEL_CLASSES[name] is entry.model_class
    assert [a.display_name for a in REGISTRY.values()] == ["GPG", "PGP", "DualVAE"]
    assert REGISTRY["dual"].latent_keys == ("rna", "atac") == DualVAE.LATENT_KEYS
    assert REGISTRY["gpg"].latent_keys == ("z1", "z2")


def test_preset_names_come_from_the_registry():
    assert PRESET_NAMES == ("gpg", "pgp", "dual", "small-gpg", "small-pgp", "small-dual")
    model, train = preset_by_name("small-pgp")
    assert (model.architecture, model.hidden, train.lr) == ("pgp", [256], 1e-3)
    with pytest.raises(ConfigError, match="choose one of: gpg, pgp, dual, small-gpg"):
        preset_by_name("medium-gpg")
    with pytest.raises(ConfigError, match="valid: gpg, pgp, dual"):
        architecture("vae")


def test_one_merge_of_preset_and_options():
    model, train = configs_from_mapping(
        {"preset": "small-gpg", "model": {"latent_dim": 8}, "train": {"epochs": 2}}
    )
    assert (model.latent_dim, model.hidden, train.epochs, train.lr) == (8, [512], 2, 3e-3)
    base = config.ModelConfig(latent_dim=16)
    assert config.merged(config.ModelConfig, base, {"dropout": 0.5}).latent_dim == 16
    assert base.dropout == 0.0  # the base config is not changed
    with pytest.raises(ConfigError, match="model: expected a mapping of options"):
        configs_from_mapping({"model": [1]})
    with pytest.raises(ConfigError, match=r"models.gpg.latent_dim: expected an integer"):
        config.merged(config.ModelConfig, None, {"latent_dim": "x"}, "models.gpg")
