"""Training checkpoints: written atomically each epoch, read back without unpickling objects."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Any

import torch

from genepeak._utils import atomic_path
from genepeak.errors import ConfigError, InputError

CHECKPOINT_NAME = "checkpoint.pt"


def write_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Save ``state`` (tensors, numbers, strings, lists and dicts of them) atomically.

    A failed write is an ``OSError`` naming the file and the space left on its disk: torch
    reports one (a full disk, for example) as a bare ``RuntimeError`` ("unexpected pos").
    """
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except RuntimeError as err:
        free = shutil.disk_usage(Path(path).parent).free / 1024**2
        message = f"could not write the training checkpoint ({err}); {free:,.0f} MiB free there"
        raise OSError(errno.EIO, message, str(path)) from err


def read_checkpoint(path: str | Path, signature: dict[str, Any]) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` and check it belongs to this architecture.

    Raises
    ------
    ConfigError
        When the checkpoint was written by a model of another architecture or feature set.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file
        raise InputError(
            f"checkpoint {path} cannot be read ({err}); delete it or resume=False"
        ) from err
    saved = state.get("signature", {})
    differences = [
        f"{key}: checkpoint {saved.get(key)!r} vs this model {value!r}"
        for key, value in signature.items()
        if saved.get(key) != value
    ]
    if differences:
        raise ConfigError(
            f"checkpoint {path} belongs to another architecture ("
            + "; ".join(differences[:4])
            + "). Use another output folder, or train with resume=False to start over."
        )
    return state
