"""Fixtures of the evaluation tests."""

from __future__ import annotations

import pytest
from eval_fakes import FakeModel


@pytest.fixture
def fake_model(tiny_mdata):
    """A FakeModel on ``tiny_mdata`` (same object: ``fake_model.mdata``)."""
    return FakeModel(tiny_mdata)
