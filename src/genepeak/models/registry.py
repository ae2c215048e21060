"""The one registry of architectures: name -> model class, display name, presets, latent keys.

It is keyed on ``genepeak.config.ARCHITECTURES``: config (layer 0) validates
``ModelConfig.architecture`` against that tuple and cannot import the models (layer 4), so the
names are written there once, this table is built from them, and a test checks that every
name has exactly one entry here (tests/models/test_registry.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from genepeak.config import ARCHITECTURES, ModelConfig, TrainConfig, preset
from genepeak.errors import ConfigError
from genepeak.models.dual import DualVAE
from genepeak.models.gpg import GPG
from genepeak.models.pgp import PGP

#: prefix of the presets for the built-in data on 2 CPU cores (``small-gpg``, ...)
SMALL_PREFIX = "small-"


@dataclass(frozen=True)
class Architecture:
    """One architecture: its name in configs, its model class and what the class declares."""

    name: str
    model_class: type

    @property
    def display_name(self) -> str:
        """The class name users call (``GPG``, ``PGP``, ``DualVAE``)."""
        return self.model_class.__name__

    @property
    def latent_keys(self) -> tuple[str, ...]:
        """Latents every model of this class has (Dual with fusion alignment adds ``shared``)."""
        return self.model_class.LATENT_KEYS

    @property
    def preset_names(self) -> tuple[str, str]:
        """The reference design's preset and the small one (``gpg``, ``small-gpg``)."""
        return (self.name, SMALL_PREFIX + self.name)

    def preset(self, small: bool = False) -> tuple[ModelConfig, TrainConfig]:
        """Model and training configs of this architecture's preset."""
        return preset(self.name, small=small)


_CLASSES = {"gpg": GPG, "pgp": PGP, "dual": DualVAE}
#: every architecture, in the order of ``config.ARCHITECTURES``
REGISTRY: dict[str, Architecture] = {
    name: Architecture(name, _CLASSES[name]) for name in ARCHITECTURES
}
#: every preset name (``gpg``, ``pgp``, ``dual``, then ``small-gpg``, ...)
PRESET_NAMES: tuple[str, ...] = tuple(a.preset_names[0] for a in REGISTRY.values()) + tuple(
    a.preset_names[1] for a in REGISTRY.values()
)


def architecture(name: str) -> Architecture:
    """The registry entry of ``name``; ConfigError listing the valid names otherwise."""
    if name not in REGISTRY:
        raise ConfigError(f"unknown architecture {name!r}; valid: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def preset_by_name(name: str) -> tuple[ModelConfig, TrainConfig]:
    """Configs of a preset named as ``genepeak train`` takes it (``gpg`` or ``small-gpg``)."""
    if name not in PRESET_NAMES:
        raise ConfigError(
            f"preset: {name!r} is not valid; choose one of: {', '.join(PRESET_NAMES)}"
        )
    small = name.startswith(SMALL_PREFIX)
    return REGISTRY[name.removeprefix(SMALL_PREFIX)].preset(small=small)
