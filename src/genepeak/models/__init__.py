"""genepeak.models: GPG, PGP and DualVAE on shared blocks, with save/load."""

from genepeak.models.base import Model, load
from genepeak.models.dual import DualVAE
from genepeak.models.fit import fit_from_config
from genepeak.models.gpg import GPG
from genepeak.models.pgp import PGP

MODEL_CLASSES: dict[str, type[Model]] = {"gpg": GPG, "pgp": PGP, "dual": DualVAE}

__all__ = ["GPG", "PGP", "DualVAE", "MODEL_CLASSES", "Model", "fit_from_config", "load"]
