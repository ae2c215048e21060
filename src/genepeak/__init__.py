"""genepeak: how gene expression and chromatin accessibility drive each other, cell by cell.

The public API is imported lazily so that ``import genepeak`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# ``simulate``, ``prepare``, ``evaluate`` and ``explain`` are modules that can be called as
# their main function (see ``_utils.make_module_callable``): ``genepeak.prepare(path)`` and
# ``genepeak.prepare.subsample`` both work.
_MODULES = ("simulate", "prepare", "evaluate", "explain")
_LAZY = {
    "read_input": ("genepeak.prepare.pipeline", "read_input"),
    "GPG": ("genepeak.models.gpg", "GPG"),
    "PGP": ("genepeak.models.pgp", "PGP"),
    "DualVAE": ("genepeak.models.dual", "DualVAE"),
    "load": ("genepeak.models.base", "load"),
    "run": ("genepeak.pipeline", "run"),
}

__all__ = ["__version__", *_MODULES, *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"genepeak.{name}")
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'genepeak' has no attribute {name!r}")
