"""The simulator's link profiles: ``reference`` (the same bytes as before) and ``real`` (planted
distances drawn from the shares of real links in ``genepeak/data/real_link_distances.json``)."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from genepeak import benchmark
from genepeak import simulate as sim
from genepeak.cli import build_parser, main
from genepeak.errors import ConfigError
from genepeak.links import metrics as link_metrics
from genepeak.report.links import link_benchmark_html
from genepeak.simulate import SHAPES, layout, real_link_distances, simulate

EDGES = real_link_distances()["bin_edges_bp"]
#: the README table of ../shared/data/truth (percent per bin)
README_CRISPRI = [4.0, 24.2, 25.5, 28.9, 9.6, 6.6, 1.3]
README_EQTL = [23.0, 19.2, 21.9, 21.7, 9.3, 4.7, 0.3]


def _shares(distances: np.ndarray) -> np.ndarray:
    """Share per bin of ``EDGES`` (right-closed: edges[i-1] < |d| <= edges[i])."""
    which = np.searchsorted(EDGES[1:-1], np.abs(distances), side="left")
    return np.bincount(which, minlength=len(EDGES) - 1) / len(distances)


def _profile() -> np.ndarray:
    shares = np.asarray(real_link_distances()["profile"]["shares"])
    return shares / shares.sum()


def _planted(lay) -> tuple[np.ndarray, np.ndarray]:
    """(on the driver's chromosome, peak centre - TSS) of every planted link of ``lay``."""
    planted = lay.peaks.iloc[lay.planted]
    genes = lay.genes.iloc[planted["gene"].to_numpy()]
    same = planted["chrom"].to_numpy() == genes["chrom"].to_numpy()
    centre = ((planted["start"] + planted["end"]) // 2).to_numpy()
    return same, centre - genes["tss"].to_numpy()


def _pooled_shares(link_profile: str, seeds=range(20)) -> np.ndarray:
    distances = []
    for seed in seeds:
        same, distance = _planted(layout("tiny", seed, link_profile=link_profile))
        distances.append(distance[same])
    return _shares(np.concatenate(distances))


def _total_variation(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(a - b).sum())


def test_real_profile_plants_links_at_real_distances():
    """Tiny shape, seeds 0-19 (about 1,600 links): total variation 0.031 from the shares of
    real links (largest bin gap 2.2 points); the reference profile: 0.26 (13.8 points)."""
    real, reference = _pooled_shares("real"), _pooled_shares("reference")
    assert _total_variation(real, _profile()) < 0.06
    assert np.abs(real - _profile()).max() < 0.035
    # the same check tells a wrong profile apart: the reference geometry fails it
    assert _total_variation(reference, _profile()) > 0.15
    assert real[:4].sum() > 0.8 > reference[:4].sum()  # most real links within 100 kb


def test_real_profile_has_no_trans_links_unless_asked():
    for seed in range(5):
        same, _ = _planted(layout("tiny", seed, link_profile="real"))
        assert same.all()
    same = np.concatenate(
        [_planted(layout("tiny", s, link_profile="real", trans_share=0.25))[0] for s in range(10)]
    )
    assert np.mean(~same) == pytest.approx(0.25, abs=0.05)


@pytest.fixture(scope="module")
def real_tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("real") / "tiny"
    args = ["simulate", "--out", str(out), "--shape", "tiny", "--seed", "0"]
    assert main([*args, "--link-profile", "real"]) == 0
    return out


def test_real_profile_from_the_command_line_writes_its_truth(real_tiny):
    truth = pd.read_csv(real_tiny / "ground_truth_links.tsv", sep="\t")
    planted = truth[truth["planted"]]
    assert set(planted["kind"]) <= {"promoter", "cis", "distal"}  # no trans
    distance = planted["distance_to_tss"].abs()
    # kinds follow the final position, as in the reference profile
    expected = np.select([distance <= 2_500, distance <= 100_000], ["promoter", "cis"], "distal")
    assert (planted["kind"].to_numpy() == expected).all()
    # the written truth is the layout's placement
    same, centre = _planted(layout("tiny", 0, link_profile="real"))
    assert sorted(distance) == sorted(np.abs(centre[same]))
    # decoys and sham genes as in the reference profile
    shams = pd.read_csv(real_tiny / "sham_genes.tsv", sep="\t")
    assert truth["gene"].nunique() == len(shams) == SHAPES["tiny"].n_drivers
    decoys = truth[truth["kind"].isin(["null_type_matched", "null_program"])]
    per_driver = decoys.groupby("gene").size().reindex(planted["gene"].unique(), fill_value=0)
    assert per_driver.min() >= sim.N_TSS_DECOYS[0]
    assert planted["effect"].abs().between(1.5 - 1e-4, 3.0 + 1e-4).all()


@pytest.mark.parametrize("shape", list(SHAPES))
def test_real_profile_places_peaks_for_every_shape_and_seed(shape):
    seeds = [0, 11] if SHAPES[shape].full else range(6)
    for seed in seeds:
        for genome in ("hg38", "mm10") if seed == 0 else ("hg38",):
            lay = layout(shape, seed, genome=genome, link_profile="real")
            peaks = lay.peaks
            assert len(peaks) == SHAPES[shape].n_peaks, (seed, genome)
            size = peaks["chrom"].map(lay.genome.sizes).to_numpy()
            assert (peaks["start"] >= 0).all() and (peaks["end"] <= size).all(), (seed, genome)
            same = peaks["chrom"].to_numpy()[1:] == peaks["chrom"].to_numpy()[:-1]
            gap = peaks["start"].to_numpy()[1:] - peaks["end"].to_numpy()[:-1]
            assert (gap[same] >= sim.MIN_PEAK_GAP).all(), (seed, genome)
            planted = peaks.iloc[lay.planted]
            assert set(planted["gene"]) == set(lay.drivers)
            assert set(planted["kind"]) <= {"promoter", "cis", "distal"}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reference_profile_output_is_unchanged(tmp_path):
    """The tiny shape, seed 3: digests taken before ``link_profile`` existed."""
    result = simulate(tmp_path / "ref", "tiny", seed=3, link_profile="reference")
    expected = {
        "ground_truth_links.tsv": "7814fde1ec89061f77e610c1a7392e2d7f88d9fb2bf797f39a99bbcad7be226a",
        "atac_peaks.bed": "f9695ec6dd87ec6a75c97fc2811bee9cea608210c93c9484641187ad1f378e04",
        "cell_types.tsv": "14fa35705a285e13adcfe19ab7eab82de1fed755ed708be21898932eb0444842",
        "per_barcode_metrics.csv": "ccafe0999883251a2a2d052dd4c8e7edd92e371fdeb7ee225a51013ae50bf1b4",
        "sham_genes.tsv": "3a0c83ec0ccd1163d0fdd9873fa70c7d2c144df8196b02bd907af81eef4cb6da",
    }
    for name, digest in expected.items():
        assert _digest(result.out_dir / name) == digest, name
    matrix = hashlib.sha256()  # the counts, whatever bytes HDF5 lays them out in
    with h5py.File(result.h5_path) as f:
        for key in ("data", "indices", "indptr", "shape"):
            matrix.update(np.ascontiguousarray(f["matrix"][key][:], dtype="<i8").tobytes())
    assert matrix.hexdigest() == "902a2b3fc302acd326774d9be07757374e0b4ff9c2773d5419782461c0a53d47"
    assert result.link_profile == "reference" and result.trans_share == 0.0


def test_bad_link_profile_options(tmp_path):
    with pytest.raises(ConfigError, match="unknown link_profile 'realistic'.*reference, real"):
        simulate(tmp_path / "x", shape="tiny", link_profile="realistic")
    for bad in (1.0, -0.1, "0.2", True):
        with pytest.raises(ConfigError, match=r"trans_share must be a number in \[0, 1\)"):
            layout("tiny", link_profile="real", trans_share=bad)
    with pytest.raises(ConfigError, match="trans_share is for link_profile='real'"):
        layout("tiny", trans_share=0.1)
    with pytest.raises(ConfigError, match="link_profile 'realistic': choose one of"):
        benchmark.benchmark_links(tmp_path / "b", link_profile="realistic")
    assert not (tmp_path / "x").exists()


def test_benchmark_threads_and_records_the_link_profile(tmp_path):
    args = build_parser().parse_args(["benchmark-links", "--link-profile", "real"])
    assert args.link_profile == "real"
    assert build_parser().parse_args(["benchmark-links"]).link_profile == "reference"
    simulated = ("tiny", [0, 1], [1.0], "real")
    settings = list(benchmark._settings(tmp_path, simulated, "small", None, None, None))
    assert [s["link_profile"] for s, _ in settings] == ["real", "real"]
    table = pd.DataFrame(
        [{**s, "method": "distance", "pooled_auprc": 0.5 + s["seed"]} for s, _ in settings]
    )
    over = link_metrics.summary_over_seeds(table)
    assert "link_profile" in over.index.names and over["n_seeds"].tolist() == [2]
    assert "link_profile=real" in link_metrics.format_table(table)
    assert "real link profile" in link_benchmark_html(table)


@pytest.mark.realdata
def test_real_link_distances_rederive_from_the_truth_tables(shared_data):
    """``benchmarks/truth_distances.py`` on ../shared/data/truth gives the shipped JSON, and
    reproduces the README's table there (within 0.5 percentage points per bin)."""
    truth = shared_data("truth", "README.md").parent
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "truth_distances.py"
    spec = importlib.util.spec_from_file_location("truth_distances", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    derived = script.derive(truth.parent)
    assert derived == real_link_distances()
    sets = derived["sets"]
    assert sets["crispri_k562"]["n_links"] == 471
    assert sets["immune_eqtl"]["n_links"] == pytest.approx(20_907, rel=0.01)
    for name, readme in (("crispri_k562", README_CRISPRI), ("immune_eqtl", README_EQTL)):
        np.testing.assert_allclose(100 * np.array(sets[name]["shares"]), readme, atol=0.5)
