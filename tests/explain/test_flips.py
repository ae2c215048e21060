"""Flip counting: gains vs losses, margin exclusion, batching and stochasticity checks."""

from __future__ import annotations

import numpy as np
import pytest
from explain_fakes import LinearFakeModel, ScriptedModel

from genepeak.errors import InputError
from genepeak.explain import perturb

BASELINE = np.array([0.0, 1.0, 0.45, 0.55, 0.2])
# threshold 0.5, margin 0.1: gain needs > 0.6 from a closed baseline, loss < 0.4 from open
PASSES = np.array(
    [
        [0.70, 0.30, 0.65, 0.35, 0.55],  # gain, loss, gain, loss, inside margin
        [0.61, 0.45, 0.60, 0.39, 0.90],  # gain, none (0.45 within margin), none (=0.6), loss, gain
        [0.10, 0.90, 0.20, 0.80, 0.61],  # none, none, none, none, gain
        [0.59, 0.39, 1.00, 0.41, 0.00],  # none (0.59 in margin), loss, gain, none, none
    ]
)


def test_count_flips_matches_hand_counts():
    gains, losses = perturb.count_flips(BASELINE, PASSES, threshold=0.5, margin=0.1)
    np.testing.assert_array_equal(gains, [2, 0, 2, 0, 2])
    np.testing.assert_array_equal(losses, [0, 2, 0, 2, 0])


def test_zero_margin_counts_every_crossing():
    gains, losses = perturb.count_flips(BASELINE, PASSES, threshold=0.5, margin=0.0)
    np.testing.assert_array_equal(gains, [3, 0, 3, 0, 3])
    np.testing.assert_array_equal(losses, [0, 3, 0, 3, 0])


def test_flips_for_rows_frequencies_and_chunking(monkeypatch):
    model = ScriptedModel(BASELINE, PASSES)
    rows = np.zeros((3, 2), np.float32)
    flips = perturb.flips_for_rows(model, rows, BASELINE.astype(np.float32), 4, 0.5, 0.1)
    np.testing.assert_allclose(flips.f_gain[0], [0.5, 0, 0.5, 0, 0.5])
    np.testing.assert_allclose(flips.f_loss[2], [0, 0.5, 0, 0.5, 0])
    np.testing.assert_allclose(flips.frequency[1], [0.5] * 5)
    np.testing.assert_allclose(flips.mean[0], PASSES.mean(0), rtol=1e-6)
    monkeypatch.setattr(perturb, "_CHUNK_FLOATS", 1)  # one row per call
    chunked = perturb.flips_for_rows(model, rows, BASELINE.astype(np.float32), 4, 0.5, 0.1)
    np.testing.assert_array_equal(chunked.gains, flips.gains)


def test_one_batched_call_per_chunk():
    model = LinearFakeModel(["a", "b"], ["p0", "p1"], np.eye(2), np.zeros(2), seed=1)
    rows = np.ones((5, 2), np.float32)
    perturb.flips_for_rows(model, rows, np.zeros(2, np.float32), 100, 0.5, 0.1)
    assert model.calls == [((5, 2), 100)]


def test_model_without_stochastic_latent_is_refused():
    model = LinearFakeModel(["a", "b"], ["p0"], np.ones((2, 1)), np.zeros(1), noise_sd=0.0)
    x = np.ones(2, np.float32)
    with pytest.raises(InputError, match="no stochastic latent"):
        perturb.assert_stochastic(model, x, perturb.deterministic_rows(model, x[None])[0])


def test_fakes_and_models_satisfy_the_protocol(tiny_mdata):
    from explain_fakes import linear_model_for

    from genepeak.explain.model import ExplainableModel
    from genepeak.models.gpg import GPG

    scripted = ScriptedModel(np.zeros(3), np.zeros((2, 3)))
    for model in (
        linear_model_for(tiny_mdata),
        scripted,
        GPG(tiny_mdata, latent_dim=8, hidden=[16], epochs=1),
    ):
        assert isinstance(model, ExplainableModel), type(model).__name__
    assert not isinstance(object(), ExplainableModel)


def test_wrong_sample_shape_is_reported():
    class Flat:
        def peaks_from_genes(self, x, n_samples=None):
            return np.zeros((len(x), 3))

    with pytest.raises(InputError, match=r"expected \(10, 1, 3\)"):
        perturb.flips_for_rows(Flat(), np.zeros((1, 2)), np.zeros(3), 10, 0.5, 0.1)


class _OracleModel:
    """Predicts log1p(observed counts) + offset for the requested cells."""

    peak_scale = "log1p"
    cis_window = 0

    def __init__(self, mdata, offset):
        self.mdata, self.offset = mdata, offset
        self.genes = list(mdata.mod["rna"].var_names)
        self.peaks = list(mdata.mod["atac"].var_names)
        self.split = {"val": list(mdata.obs_names[:50])}

    def peaks_from_genes(self, x, n_samples=None):
        # the threshold is chosen on the perturbed predictor, fed the validation cells in order
        val = self.split["val"]
        expected = self.mdata.mod["rna"][val].X.toarray()
        np.testing.assert_array_equal(np.asarray(x), expected)
        counts = self.mdata.mod["atac"][val].layers["counts"].toarray()
        return np.log1p(counts) + self.offset


def test_threshold_is_f1_optimal_on_validation_cells(tiny_mdata):
    # a perfect predictor: closed = 0, open >= log1p(1) = 0.69 -> every t < 0.69 scores F1 = 1;
    # ties go to the lowest threshold of the sweep 0, 0.3, ..., 3
    assert perturb.choose_threshold(_OracleModel(tiny_mdata, 0.0), tiny_mdata) == 0.0
    # shifted by 0.35: closed = 0.35, open >= 1.04 -> only 0.6 and 0.9 are perfect
    assert perturb.choose_threshold(_OracleModel(tiny_mdata, 0.35), tiny_mdata) == 0.6
