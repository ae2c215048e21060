"""The loss-curve figure and the CSV log written during training."""

import pandas as pd
import pytest

from genepeak.models import GPG
from genepeak.report.training import plot_loss_curve


def test_training_writes_log_and_curve(tiny_mdata, tmp_path):
    model = GPG(tiny_mdata, latent_dim=4, hidden=[16], epochs=3, batch_size=None).train(
        out_dir=tmp_path
    )
    log = pd.read_csv(tmp_path / "training_log.csv")
    assert list(log["epoch"]) == [1, 2, 3]
    assert {"loss", "val_loss", "beta", "rec_peaks", "rec_genes", "kl_z1", "seconds"} <= set(log)
    assert log["beta"].tolist() == pytest.approx([0.0, 0.005, 0.01])
    path = plot_loss_curve(model.history, tmp_path / "loss_curve.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="empty"):
        plot_loss_curve(pd.DataFrame(), tmp_path / "empty.png")
