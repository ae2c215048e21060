"""genepeak._utils: freeing memory between the steps of a run."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from genepeak._utils import release_freed_memory


class _Holder:
    """Stands for a MuData and its modalities: objects that refer to each other."""

    def __init__(self) -> None:
        self.values = np.ones(1_000_000, dtype=np.float32)
        self.partner = self


def test_objects_in_a_reference_cycle_are_freed_at_once():
    was_enabled = gc.isenabled()
    gc.disable()  # the automatic collector must not do the work for us
    try:
        holder = _Holder()
        alive = weakref.ref(holder)
        del holder
        assert alive() is not None  # a cycle: reference counting alone does not free it
        release_freed_memory()
        assert alive() is None
    finally:
        if was_enabled:
            gc.enable()
