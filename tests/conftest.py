"""Shared fixtures: a tiny prepared MuData that follows docs/architecture.md, and the real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GENEPEAK_QUIET", "1")

from synthetic_mdata import make_prepared_mdata  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data_path(*parts: str) -> Path:
    """Path under ../shared/data, skipping the test with a reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (see shared/data/README.md)")
    return path


@pytest.fixture
def tiny_mdata():
    """A fresh tiny prepared MuData (240 cells x 60 genes x 90 peaks, 4 types)."""
    return make_prepared_mdata()


@pytest.fixture
def shared_data():
    """``shared_data("folder", "file")`` -> path under ../shared/data, or skip with a reason."""
    return shared_data_path
