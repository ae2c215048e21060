"""genepeak.prepare: from raw paired counts to the prepared MuData (see docs/architecture.md)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from genepeak._utils import log, make_module_callable, peak_rss_gib


@contextlib.contextmanager
def timed_step(name: str, timings: dict[str, float] | None = None) -> Iterator[None]:
    """Log how long a preparation step took (and peak memory); record it in ``timings``."""
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    if timings is not None:
        timings[name] = timings.get(name, 0.0) + elapsed
    rss = peak_rss_gib()
    memory = f", peak RSS so far {rss:.2f} GiB" if rss is not None else ""
    log(f"{name}: {elapsed:.1f} s{memory}")


make_module_callable(__name__, "genepeak.prepare.pipeline:prepare")
