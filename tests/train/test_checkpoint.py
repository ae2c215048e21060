"""Training checkpoints: a failed write is a clear OSError and leaves no file behind."""

from __future__ import annotations

import pytest
import torch

from genepeak.train import checkpoint


def test_a_failed_checkpoint_write_names_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    def full_disk(state, target):
        with open(target, "wb") as handle:
            handle.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1 vs 2")

    monkeypatch.setattr(torch, "save", full_disk)
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(OSError, match="could not write the training checkpoint") as caught:
        checkpoint.write_checkpoint(path, {"epoch": 1})
    assert caught.value.filename == str(path) and "MiB free there" in caught.value.strerror
    assert list(tmp_path.iterdir()) == []  # no partial checkpoint, no temporary file


def test_a_checkpoint_round_trips(tmp_path):
    path = tmp_path / "checkpoint.pt"
    checkpoint.write_checkpoint(path, {"signature": {"a": 1}, "epoch": 3, "w": torch.ones(2)})
    state = checkpoint.read_checkpoint(path, {"a": 1})
    assert state["epoch"] == 3 and torch.equal(state["w"], torch.ones(2))
