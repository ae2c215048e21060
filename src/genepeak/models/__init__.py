"""genepeak.models: GPG, PGP and DualVAE on shared blocks, with save/load."""

from genepeak.models.base import Model, load
from genepeak.models.dual import DualVAE
from genepeak.models.fit import fit_from_config
from genepeak.models.gpg import GPG
from genepeak.models.pgp import PGP
from genepeak.models.registry import REGISTRY, Architecture

#: name -> model class, read from the registry (models/registry.py)
MODEL_CLASSES: dict[str, type[Model]] = {name: a.model_class for name, a in REGISTRY.items()}

__all__ = [
    "GPG",
    "MODEL_CLASSES",
    "PGP",
    "REGISTRY",
    "Architecture",
    "DualVAE",
    "Model",
    "fit_from_config",
    "load",
]
