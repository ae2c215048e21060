"""Train a model from one YAML-style mapping (what ``genepeak train --config run.yaml`` reads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genepeak._utils import atomic_path
from genepeak.config import ModelConfig, TrainConfig, merged
from genepeak.errors import ConfigError, InputError
from genepeak.models.registry import PRESET_NAMES, REGISTRY, preset_by_name

FIT_KEYS = ("data", "out", "preset", "model", "train", "resume", "stream")
__all__ = ["PRESET_NAMES", "configs_from_mapping", "fit_from_config", "record_data_path"]
#: written into a model folder: the prepared .h5mu it was trained on (for `genepeak explain`)
DATA_PATH_FILE = "data_path.txt"


def record_data_path(model_dir: str | Path, data: str | Path) -> None:
    """Note in ``model_dir`` which prepared ``.h5mu`` the model was trained on."""
    with atomic_path(Path(model_dir) / DATA_PATH_FILE) as tmp:
        tmp.write_text(str(Path(data).resolve()) + "\n")


def configs_from_mapping(config: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """Model and training configs: the preset (if any) overridden by ``model`` / ``train``."""
    name = config.get("preset")
    model_preset, train_preset = preset_by_name(name) if name is not None else (None, None)
    return (
        merged(ModelConfig, model_preset, config.get("model"), "model"),
        merged(TrainConfig, train_preset, config.get("train"), "train"),
    )


def fit_from_config(config: dict[str, Any]):
    """Read the prepared ``.h5mu`` at ``config['data']``, train, and save to ``config['out']``.

    Keys: ``data`` (path), ``out`` (model folder), ``preset`` (gpg, pgp, dual, small-gpg,
    small-pgp, small-dual; optional), ``model`` (ModelConfig options), ``train`` (TrainConfig
    options), ``resume`` (bool), ``stream`` (bool: read each minibatch from the file instead of
    loading the matrices, for more cells than memory holds; ``Model.from_h5mu``). Returns the
    trained model.
    """
    import mudata

    if not isinstance(config, dict):
        raise ConfigError(f"expected a mapping with keys {', '.join(FIT_KEYS)}, got {config!r}")
    unknown = [key for key in config if key not in FIT_KEYS]
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}; valid keys: {', '.join(FIT_KEYS)}")
    for key in ("data", "out"):
        if not isinstance(config.get(key), str | Path):
            raise ConfigError(f"{key}: expected a path (string), got {config.get(key)!r}")
    for key in ("resume", "stream"):
        if not isinstance(config.get(key, False), bool):
            raise ConfigError(f"{key}: expected true or false, got {config[key]!r}")
    model_config, train_config = configs_from_mapping(config)
    path = Path(config["data"])
    if not path.is_file():
        raise InputError(f"data: {path} does not exist; prepare one with `genepeak prepare`")
    cls = REGISTRY[model_config.architecture].model_class
    configs = dict(model_config=model_config, train_config=train_config)
    if config.get("stream", False):
        model = cls.from_h5mu(path, **configs)
    else:
        model = cls(mudata.read_h5mu(path), **configs)
    model.train(out_dir=config["out"], resume=config.get("resume", False))
    record_data_path(config["out"], path)
    return model
