"""Calibration of perturbation effects against matched null genes, without a model."""

from __future__ import annotations

import numpy as np
from scipy import stats

from genepeak.links import calibration


def test_moderated_z_is_standard_normal_for_exchangeable_null_effects():
    rng = np.random.default_rng(2)
    scale = rng.lognormal(0, 1, size=3000)  # peaks respond with very different spreads
    null = rng.normal(size=(20, 3000)) * scale
    target = rng.normal(size=3000) * scale
    z = calibration.moderated_z(target, null)
    assert abs(np.mean(z)) < 0.1 and 0.85 < np.std(z) < 1.25


def test_decay_prior_falls_with_distance_and_is_lowest_across_chromosomes():
    prior = calibration.decay_prior(np.array([0, 5_000, 50_000, 500_000, np.nan]), decay=1.0)
    assert prior[0] == prior[1] == 0.0
    assert prior[1] > prior[2] > prior[3] > prior[4]
    np.testing.assert_allclose(prior[2], -np.log(10.0))


def _world(seed: int, influence: float, n_peaks: int = 4000, n_null: int = 20):
    """Peaks up to 5 Mb from a gene's TSS (within 1 Mb: its window), and the gene's and its null
    genes' effects on every peak: peak-specific spreads, and a gene whose effects are all
    ``influence`` times larger (the model listens to it more)."""
    rng = np.random.default_rng(seed)
    distance = rng.uniform(-5e6, 5e6, n_peaks)
    scale = rng.lognormal(0, 0.7, size=n_peaks)
    null = rng.normal(size=(n_null, n_peaks)) * scale
    effect = influence * rng.normal(size=n_peaks) * scale
    return effect, null, scale, np.abs(distance) <= 1e6, distance


def _table(effect, null, in_window, distance):
    null_in_window = np.tile(in_window, (null.shape[0], 1))
    return calibration.gene_link_table("G", effect, null, in_window, null_in_window, distance, 1.0)


def test_a_gene_that_drives_nothing_gets_uniform_p_values_whatever_its_influence():
    effect, null, _, in_window, distance = _world(5, influence=4.0)
    table = _table(effect, null, in_window, distance)
    assert stats.kstest(table["p_value"], "uniform").pvalue > 1e-3
    assert (table["fdr"] < 0.05).sum() == 0


def test_the_driven_peaks_of_a_gene_come_first_and_are_called():
    effect, null, scale, in_window, distance = _world(6, influence=1.0)
    driven = np.flatnonzero(in_window)[:5]
    effect[driven] += 8.0 * scale[driven]
    table = _table(effect, null, in_window, distance)
    assert set(np.argsort(table["p_value"].to_numpy())[:5]) == set(driven)
    assert (table["fdr"].to_numpy()[driven] < 0.05).all()
    assert table["fdr"].drop(index=driven).min() >= 0.05
