"""MeanEnsemble: several trained models answering as one for explain."""

import numpy as np
import pytest

from genepeak.explain.model import ExplainableModel
from genepeak.models import GPG
from genepeak.models.ensemble import MeanEnsemble

FAST = dict(latent_dim=8, hidden=[32], lr=1e-2, batch_size=64, beta_max=0.01, cis_window=50_000)


def test_links_model_averages_members_trained_with_their_own_seeds(tiny_mdata):
    model = GPG(tiny_mdata, epochs=2, seed=4, **FAST)
    ensemble = model.links_model(n_models=2)
    assert isinstance(ensemble, MeanEnsemble) and isinstance(ensemble, ExplainableModel)
    first, second = ensemble.members
    assert (first.train_config.seed, second.train_config.seed) == (4, 104)
    assert list(first.split["val"]) == list(second.split["val"]) == list(model.split["val"])
    x = np.asarray(tiny_mdata.mod["rna"][:, model.genes].X.todense(), dtype=np.float32)[:20]
    np.testing.assert_allclose(
        ensemble.peaks_from_genes(x),
        (first.peaks_from_genes(x) + second.peaks_from_genes(x)) / 2,
        rtol=1e-5,
    )
    np.testing.assert_allclose(ensemble.cell_state(x), first.cell_state(x))
    assert ensemble.peaks_from_genes(x, n_samples=3).shape == (3, 20, 90)
    assert not isinstance(model.links_model(1), MeanEnsemble)


def test_an_ensemble_refuses_members_with_other_features(tiny_mdata):
    one = GPG(tiny_mdata, epochs=1, **FAST)
    other = GPG(tiny_mdata[:, :], epochs=1, **FAST)
    other.peaks = other.peaks[::-1]
    with pytest.raises(ValueError, match="same genes and peaks"):
        MeanEnsemble([one, other])
    with pytest.raises(ValueError, match="at least one"):
        MeanEnsemble([])
