"""Models trained from a prepared .h5mu on disk (Model.from_h5mu) equal models trained in memory."""

import h5py
import numpy as np
import pytest
import torch

from genepeak.errors import InputError
from genepeak.models import GPG, PGP, DualVAE, load

FAST = dict(latent_dim=8, hidden=[32], lr=1e-2, batch_size=64, epochs=2)


@pytest.fixture
def h5mu(tiny_mdata, tmp_path):
    path = tmp_path / "prepared.h5mu"
    tiny_mdata.write(path)
    return path


@pytest.mark.parametrize(
    "cls, extra",
    [
        (GPG, dict(rna_loss="nb", atac_loss="bernoulli", cis_window=1_000_000)),
        (PGP, dict(cis_window=1_000_000)),
        (DualVAE, dict(alignment="skl")),
    ],
    ids=["gpg-counts-cis", "pgp-cis", "dual"],
)
def test_training_from_a_path_equals_training_in_memory(tiny_mdata, h5mu, cls, extra):
    memory = cls(tiny_mdata, **FAST, **extra).train()
    streamed = cls.from_h5mu(h5mu, **FAST, **extra)
    # only the tables came into memory; the matrices stay in the file
    assert streamed.mdata.mod["rna"].X is None and not streamed.mdata.mod["atac"].layers
    streamed.train()
    assert streamed.cis_window == memory.cis_window == extra.get("cis_window", 0)
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(streamed.split[part], memory.split[part])
    columns = [c for c in memory.history.columns if c != "seconds"]
    np.testing.assert_array_equal(streamed.history[columns], memory.history[columns])
    test = memory.split["test"]
    np.testing.assert_array_equal(
        streamed.predict_peaks(cells=test), memory.predict_peaks(cells=test)
    )
    np.testing.assert_array_equal(
        streamed.predict_genes(cells=test), memory.predict_genes(cells=test)
    )
    key = memory.latent_keys[-1]
    np.testing.assert_array_equal(streamed.latent(key=key), memory.latent(key=key))
    # a loaded MuData still works with a model trained from the file
    np.testing.assert_array_equal(
        streamed.predict_peaks(tiny_mdata, cells=test[:5]), memory.predict_peaks(cells=test[:5])
    )


def test_a_model_saved_after_streamed_training_loads_onto_the_path(h5mu, tmp_path):
    model = GPG.from_h5mu(h5mu, **FAST, atac_loss="bernoulli").train(out_dir=tmp_path / "run")
    loaded = load(tmp_path / "run", h5mu)
    assert loaded.source == h5mu and loaded.mdata.mod["rna"].X is None
    cells = model.split["test"][:7]
    np.testing.assert_array_equal(
        loaded.predict_peaks(cells=cells), model.predict_peaks(cells=cells)
    )
    for name, value in model.module.state_dict().items():
        torch.testing.assert_close(loaded.module.state_dict()[name], value, rtol=0, atol=0)


def test_a_bad_path_names_the_file(tmp_path, tiny_mdata):
    with pytest.raises(InputError, match=r"nowhere\.h5mu: no such file"):
        GPG.from_h5mu(tmp_path / "nowhere.h5mu")
    text = tmp_path / "notes.h5mu"
    text.write_text("not hdf5")
    with pytest.raises(InputError, match=r"notes\.h5mu is not an HDF5"):
        GPG.from_h5mu(text)
    only_atac = tmp_path / "atac_only.h5mu"
    tiny_mdata.write(only_atac)
    with h5py.File(only_atac, "r+") as handle:
        del handle["mod/rna"]
    with pytest.raises(InputError, match=r"atac_only\.h5mu has no modality 'rna' \(found: atac\)"):
        PGP.from_h5mu(only_atac)


def test_streamed_checks_name_the_file(tiny_mdata, tmp_path):
    tiny_mdata.mod["rna"].X.data[3] = np.nan
    tiny_mdata.mod["rna"].X.data[5] = np.inf
    del tiny_mdata.mod["atac"].layers["counts"]
    path = tmp_path / "flawed.h5mu"
    tiny_mdata.write(path)
    with pytest.raises(
        InputError, match=r"flawed\.h5mu: mod\['rna'\]\.X contains 2 NaN or infinite values"
    ):
        GPG.from_h5mu(path, **FAST)
    tiny_mdata.mod["rna"].X.data[[3, 5]] = 1.0
    tiny_mdata.write(path)
    assert len(GPG.from_h5mu(path, **FAST).split["train"]) > 0  # MSE needs no counts
    with pytest.raises(InputError, match=r"flawed\.h5mu has no mod/atac/layers/counts; a count"):
        GPG.from_h5mu(path, **FAST, atac_loss="bernoulli")
