"""benchmarks/compare_multivi.py: the genepeak curve, the plateau and the time ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bench_scripts import load_benchmark

from expected_names import TRANSLATION_BASELINES


@pytest.fixture(scope="module")
def compare():
    return load_benchmark("compare_multivi")


def _curve(seconds, values):
    return pd.DataFrame({"train_s": seconds, "auroc_per_peak": values})


def test_plateau_time_to_reach_and_ratio(compare):
    multivi = _curve([10, 20, 30, 40, 50], [0.50, 0.55, 0.578, 0.581, 0.580])
    value, seconds = compare.plateau(multivi, tolerance=0.005)
    assert value == 0.580 and seconds == 30  # 0.578 is within 0.005 of the final 0.580
    ours = _curve([1, 2, 3, 4], [0.52, 0.579, 0.585, 0.59])
    assert compare.time_to_reach(ours, 0.580) == 3
    result = compare.summary(ours, multivi, tolerance=0.005)
    assert result["time_ratio"] == pytest.approx(3 / 30)
    assert result["genepeak_final_auroc_per_peak"] == 0.59
    never = compare.summary(_curve([1, 2], [0.5, 0.51]), multivi, tolerance=0.005)
    assert never["genepeak_time_to_plateau_s"] is None and never["time_ratio"] is None


def test_genepeak_curve_scores_the_test_cells_as_training_goes(compare, tiny_mdata):
    fast = dict(latent_dim=8, hidden=[32], lr=1e-2, batch_size=64, epochs=4, device="cpu")
    curve, model = compare.genepeak_curve(
        tiny_mdata, "gpg", True, seed=0, every=2, labels_key="leiden", **fast
    )
    assert list(curve["epoch"][:-1]) == [2, 4]
    assert list(curve["final"]) == [False, False, True]
    assert curve["epoch"].iloc[-1] == model.history.attrs["best_epoch"]
    assert np.all(np.diff(curve["train_s"].to_numpy()) > 0)
    # scoring time is not training time: the training seconds stay near the epochs' own
    assert curve["train_s"].iloc[-1] < model.history["seconds"].sum() + 5
    test = model.split["test"]
    final = compare.peak_scores(tiny_mdata, test, model.predict_peaks(cells=test))
    assert curve["auroc_per_peak"].iloc[-1] == pytest.approx(final["auroc_per_peak"])
    assert 0.5 < final["auroc_per_peak"] <= 1.0


def test_baseline_scores_on_the_same_test_cells(compare, tiny_mdata):
    from genepeak.train.split import stratified_split

    labels = tiny_mdata.obs["leiden"].astype(str).to_numpy()
    split = stratified_split(tiny_mdata.obs_names, labels, 0.1, 0.2, 0)
    table = compare.baseline_scores(tiny_mdata, split, "leiden", seed=0)
    assert list(table["baseline"]) == list(TRANSLATION_BASELINES)
    assert table.set_index("baseline").loc["mean", "auroc_per_peak"] == pytest.approx(0.5)
