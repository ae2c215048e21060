"""Markers of tests that need an optional extra of genepeak."""

from __future__ import annotations

import importlib.util

import pytest

#: peak calling and fragment-based ATAC QC need the ``atac`` extra (CI installs it)
requires_snapatac2 = pytest.mark.skipif(
    importlib.util.find_spec("snapatac2") is None,
    reason='needs the atac extra (snapatac2 / MACS3): pip install -e ".[atac]"',
)
