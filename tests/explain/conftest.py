"""Fixtures of the explain tests (fake models live in explain_fakes.py)."""

from __future__ import annotations

import pytest
from explain_fakes import linear_model_for


@pytest.fixture
def linear_model(tiny_mdata):
    return linear_model_for(tiny_mdata)
