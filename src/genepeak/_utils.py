"""Small helpers shared by every layer: atomic writes, seeding, progress."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    Nothing half-written is left behind: on an exception the temporary file or folder
    is removed and ``path`` is untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        tmp = Path(name)
        tmp.unlink()  # writers such as h5py want to create the file themselves
    try:
        yield tmp
        if is_dir and final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if imported) PyTorch generators."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - libraries we call still read the global state
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return
    torch.manual_seed(seed)


def progress(iterable: Iterable[T], desc: str, total: int | None = None, **kwargs) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm progress bar (silenced when GENEPEAK_QUIET is set)."""
    from tqdm.auto import tqdm

    disable = bool(os.environ.get("GENEPEAK_QUIET"))
    return tqdm(iterable, desc=desc, total=total, disable=disable, leave=False, **kwargs)


def log(message: str) -> None:
    """Print a one-line status message (silenced when GENEPEAK_QUIET is set)."""
    if not os.environ.get("GENEPEAK_QUIET"):
        print(f"[genepeak] {message}", flush=True)


def make_module_callable(module_name: str, target: str) -> None:
    """Let the module ``module_name`` be called as its main function ``target`` ("pkg.mod:func").

    ``genepeak.prepare`` is both a subpackage and the verb users call; a callable module keeps
    ``genepeak.prepare(...)`` working whatever was imported first (a plain function attribute
    would be replaced by the submodule on its first import).
    """
    import importlib
    import sys
    import types

    module_path, func_name = target.split(":")

    class _CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return getattr(importlib.import_module(module_path), func_name)(*args, **kwargs)

    sys.modules[module_name].__class__ = _CallableModule


def release_freed_memory() -> None:
    """Free unreachable objects now and give the freed memory back to the system.

    A MuData and its AnnData modalities refer to each other, so a dropped one waits for
    Python's cyclic collector (``gc.collect``): at PBMC-10k size its 1.5 GiB stayed resident
    through training. Freed blocks below glibc's mmap threshold stay in the process's heap
    until ``malloc_trim`` (glibc only; elsewhere only the collection runs): 0.55 GiB after
    training (docs/speed.md).
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def peak_rss_gib() -> float | None:
    """Peak resident memory of this process so far, in GiB (None where not measurable)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux reports KiB
