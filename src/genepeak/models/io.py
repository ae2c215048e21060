"""The saved-model directory: weights (safetensors), config, feature names, split, versions."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from genepeak._utils import atomic_path
from genepeak.errors import InputError

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
GENES = "genes.txt"
PEAKS = "peaks.txt"
SPLIT = "split.json"
VERSIONS = "versions.json"
HISTORY = "history.csv"


#: the libraries a saved model depends on (versions.json)
MODEL_PACKAGES = ("genepeak", "torch", "numpy", "anndata", "mudata", "safetensors")


def versions(packages: Sequence[str] = MODEL_PACKAGES) -> dict[str, str]:
    """Python's version and each installed package's ("unknown" when it is not installed)."""
    out = {"python": platform.python_version()}
    for package in packages:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "unknown"
    return out


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_model_dir(
    path: str | Path,
    state_dict: dict[str, torch.Tensor],
    config: dict[str, Any],
    genes: np.ndarray,
    peaks: np.ndarray,
    split: dict[str, np.ndarray],
    history: pd.DataFrame,
) -> Path:
    """Write every file of a saved model into ``path`` (each file atomically)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with atomic_path(path / WEIGHTS) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in state_dict.items()}, str(tmp))
    _write_text(path / CONFIG, json.dumps(config, indent=2))
    _write_text(path / GENES, "\n".join(map(str, genes)) + "\n")
    _write_text(path / PEAKS, "\n".join(map(str, peaks)) + "\n")
    _write_text(path / SPLIT, json.dumps({k: list(map(str, v)) for k, v in split.items()}))
    _write_text(path / VERSIONS, json.dumps(versions(), indent=2))
    with atomic_path(path / HISTORY) as tmp:
        history.to_csv(tmp, index=False)
    return path


def read_model_dir(path: str | Path) -> dict[str, Any]:
    """Read a saved model directory (no pickles: safetensors and JSON only)."""
    path = Path(path)
    missing = [
        name for name in (WEIGHTS, CONFIG, GENES, PEAKS, SPLIT) if not (path / name).is_file()
    ]
    if missing:
        raise InputError(
            f"{path} is not a saved genepeak model: missing {', '.join(missing)} "
            "(save one with model.save(dir))"
        )
    history_path = path / HISTORY
    history = pd.DataFrame()
    if history_path.is_file() and history_path.stat().st_size > 1:
        history = pd.read_csv(history_path)
    return {
        "weights": load_file(str(path / WEIGHTS)),
        "config": json.loads((path / CONFIG).read_text()),
        "genes": np.array((path / GENES).read_text().splitlines(), dtype=object).astype(str),
        "peaks": np.array((path / PEAKS).read_text().splitlines(), dtype=object).astype(str),
        "split": {
            k: np.asarray(v, dtype=str) for k, v in json.loads((path / SPLIT).read_text()).items()
        },
        "history": history,
    }
