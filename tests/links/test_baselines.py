"""Data-only link scorers on a MuData whose answers are known (tests/links/link_fakes.py)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from link_fakes import COPY, FAR_COPY, TYPE_ONLY, make_link_mdata
from scipy import stats

from genepeak.errors import InputError
from genepeak.links import baselines as lb


@pytest.fixture(scope="module")
def mdata():
    return make_link_mdata()


def _col(mdata, name: str) -> int:
    return mdata.mod["atac"].var_names.get_loc(name)


def test_partial_correlation_finds_the_within_type_copy_not_the_type_follower(mdata):
    result = lb.partial_correlation(mdata, ["GA"], labels_key="leiden")
    score = result.score[0]
    copy, type_only = _col(mdata, COPY), _col(mdata, TYPE_ONLY)
    assert np.argmax(score) == copy
    assert score[copy] > 0.5
    assert abs(result.extra["partial_r"][0, type_only]) < 0.15
    assert result.called[0, copy] and not result.called[0, type_only]
    # the plain correlation cannot tell them apart: both follow the gene across types
    r = lb.pearson_matrix(sp.csr_matrix(mdata.mod["atac"].X), lb.gene_matrix(mdata, ["GA"]))[0]
    assert r[type_only] > 0.45 and r[copy] > 0.45


def test_within_type_pearson_equals_pearson_of_residuals(mdata):
    x = sp.csr_matrix(mdata.mod["atac"].X, dtype=np.float64)
    g = lb.gene_matrix(mdata, ["GA", "GB"])
    codes = mdata.obs["leiden"].cat.codes.to_numpy()
    dense = x.toarray()
    x_res = dense - np.vstack([dense[codes == t].mean(0) for t in range(3)])[codes]
    g_res = g - np.vstack([g[codes == t].mean(0) for t in range(3)])[codes]
    expected = np.array(
        [[np.corrcoef(g_res[:, i], x_res[:, j])[0, 1] for j in range(50)] for i in range(2)]
    )
    got = lb.within_type_pearson(x, g, codes)[:, :50]
    np.testing.assert_allclose(got, expected, atol=1e-10)
    plain = np.array([np.corrcoef(g[:, 0], dense[:, j])[0, 1] for j in range(50)])
    np.testing.assert_allclose(lb.pearson_matrix(x, g)[0, :50], plain, atol=1e-10)


def test_adjusted_correlation_is_the_correlation_of_least_squares_residuals():
    rng = np.random.default_rng(3)
    n = 600
    program, own = rng.normal(size=n), rng.normal(size=n)
    gene = (program + own)[:, None]
    copy = own + rng.normal(0, 0.5, n)  # follows the gene's own variation
    decoy = program + rng.normal(0, 0.5, n)  # follows only the shared program
    peaks = np.column_stack([copy, decoy, np.zeros(n)])
    state = np.column_stack([program + rng.normal(0, 0.05, n), rng.normal(size=n)])
    r = lb.adjusted_correlation(sp.csr_matrix(peaks), gene, lb.state_basis(state))[0]
    design = np.column_stack([np.ones(n), state])

    def residual(v):
        return v - design @ np.linalg.lstsq(design, v, rcond=None)[0]

    expected = [np.corrcoef(residual(gene[:, 0]), residual(peaks[:, j]))[0, 1] for j in (0, 1)]
    np.testing.assert_allclose(r[:2], expected, atol=1e-10)
    assert r[0] > 0.5 and abs(r[1]) < 0.15 and r[2] == 0.0  # a constant peak: no evidence
    # both follow the gene without the state
    plain = lb.pearson_matrix(sp.csr_matrix(peaks), gene)[0]
    assert plain[0] > 0.5 and plain[1] > 0.5


def test_state_basis_is_orthonormal_and_drops_repeated_columns():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 2))
    basis = lb.state_basis(np.column_stack([a, a[:, 0] * 2.0]))  # a repeated direction
    assert basis.shape == (50, 3)  # intercept + two independent columns
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-10)
    assert lb.state_basis(np.zeros((50, 0))).shape == (50, 1)  # the intercept alone


def test_state_variant_regresses_on_the_rna_pcs_computed_when_absent(mdata):
    result = lb.partial_correlation(mdata, ["GA"], labels_key="leiden", window=500_000, state_pcs=3)
    assert result.method == "partial_correlation_state"
    copy, type_only = _col(mdata, COPY), _col(mdata, TYPE_ONLY)
    assert np.argmax(result.score[0]) == copy and result.called[0, copy]
    assert abs(result.extra["partial_r"][0, type_only]) < 0.15
    without = mdata.copy()
    del without.mod["rna"].obsm["X_pca"]  # one policy: computed from rna.X, not stored
    again = lb.partial_correlation(without, ["GA"], labels_key="leiden", state_pcs=3)
    assert again.score.shape == result.score.shape and "X_pca" not in without.mod["rna"].obsm


def test_cis_window_variant_drops_the_far_peak(mdata):
    far = _col(mdata, FAR_COPY)
    everywhere = lb.partial_correlation(mdata, ["GA"], labels_key="leiden")
    cis = lb.partial_correlation(mdata, ["GA"], labels_key="leiden", window=500_000)
    assert everywhere.score[0, far] > 0.5
    assert cis.score[0, far] == -np.inf
    assert cis.method == "partial_correlation_cis"
    # only chr1 peaks within 500 kb are scored: COPY and TYPE_ONLY
    assert np.isfinite(cis.score[0]).sum() == 2


def test_distance_ranks_closest_first_and_other_chromosomes_last(mdata):
    score = lb.distance_scores(mdata, ["GA", "GX"])
    copy, type_only, far = _col(mdata, COPY), _col(mdata, TYPE_ONLY), _col(mdata, FAR_COPY)
    assert score[0, copy] == -10_000 and score[0, type_only] == -20_000
    assert score[0, far] == -700_000
    assert np.isneginf(score[0]).sum() == mdata.mod["atac"].n_vars - 3  # chr2-chr4
    assert np.isneginf(score[1]).all()  # GX has no coordinates


def test_linkpeaks_zscores_cis_peaks_against_background(mdata):
    result = lb.linkpeaks(mdata, ["GA"], n_background=100, seed=1)
    copy, far = _col(mdata, COPY), _col(mdata, FAR_COPY)
    x = mdata.mod["atac"].layers["counts"].toarray()
    g = mdata.mod["rna"].X[:, 0].toarray().ravel()
    r = np.corrcoef(g, x[:, copy])[0, 1]
    np.testing.assert_allclose(result.extra["pearson"][0, copy], r, atol=1e-10)
    bg = lb.background_peaks(lb.peak_table(mdata), x.mean(0), n_background=100, seed=1)[copy]
    bg_r = np.array([np.corrcoef(g, x[:, j])[0, 1] for j in bg])
    z = (r - bg_r.mean()) / bg_r.std(ddof=1)
    np.testing.assert_allclose(result.extra["zscore"][0, copy], z, atol=1e-8)
    np.testing.assert_allclose(result.extra["p_value"][0, copy], stats.norm.sf(abs(z)))
    assert result.score[0, copy] == pytest.approx(abs(z))
    assert result.score[0, far] == -np.inf  # 700 kb: outside the 500 kb window
    assert np.isfinite(result.score[0]).sum() == 2


def test_background_peaks_match_accessibility_and_lie_on_other_chromosomes(mdata):
    peaks = lb.peak_table(mdata)
    access = np.asarray(mdata.mod["atac"].layers["counts"].mean(axis=0)).ravel()
    bg = lb.background_peaks(peaks, access, n_background=20, seed=0)
    assert bg.shape == (len(peaks), 20)
    chrom = peaks["chrom"].to_numpy()
    assert (chrom[bg] != chrom[:, None]).all()
    assert all(len(set(row)) == 20 for row in bg)  # drawn without replacement
    log_access = np.log1p(access)
    rng = np.random.default_rng(0)
    unmatched = np.abs(
        log_access[rng.integers(0, len(peaks), bg.shape)] - log_access[:, None]
    ).mean()
    assert np.abs(log_access[bg] - log_access[:, None]).mean() < 0.5 * unmatched
    width = (peaks["end"] - peaks["start"]).to_numpy()
    assert (width[bg] == width[:, None]).mean() > 0.6  # 4 widths: 0.25 at random
    # with one width for all, accessibility alone is matched closely
    same_width = peaks.assign(end=peaks["start"] + 500)
    bg_access = lb.background_peaks(same_width, access, n_background=20, seed=0)
    assert np.abs(log_access[bg_access] - log_access[:, None]).mean() < 0.25 * unmatched
    # the most accessible peak's background is drawn from the accessible end
    top = np.argmax(access)
    assert np.median(access[bg[top]]) > np.quantile(access, 0.8)
    again = lb.background_peaks(peaks, access, n_background=20, seed=0)
    np.testing.assert_array_equal(bg, again)


def test_random_scores_are_seeded(mdata):
    a = lb.random_scores(mdata, ["GA", "GB"], seed=3)
    assert a.shape == (2, mdata.mod["atac"].n_vars)
    np.testing.assert_array_equal(a, lb.random_scores(mdata, ["GA", "GB"], seed=3))
    assert not np.array_equal(a, lb.random_scores(mdata, ["GA", "GB"], seed=4))


def test_score_baselines_runs_every_method_and_refuses_bad_input(mdata):
    out = lb.score_baselines(mdata, ["GA", "GB"], labels_key="leiden", n_background=50)
    assert list(out) == list(lb.BASELINE_METHODS)
    for result in out.values():
        assert result.score.shape == (2, mdata.mod["atac"].n_vars)
        assert not np.isnan(result.score).any()
    with pytest.raises(InputError, match="not a column of mdata.obs"):
        lb.partial_correlation(mdata, ["GA"], labels_key="cell_type")
    with pytest.raises(InputError, match="NOPE"):
        lb.distance_scores(mdata, ["GA", "NOPE"])
    with pytest.raises(InputError, match="unknown link baseline 'abc'"):
        lb.score_baselines(mdata, ["GA"], labels_key="leiden", methods=("abc",))


def test_rna_pcs_follow_the_cells_and_are_computed_when_missing(tiny_mdata):
    rna = tiny_mdata.mod["rna"].copy()
    computed = lb.rna_pcs(rna, rna.obs_names, 5)
    assert computed.shape == (rna.n_obs, 5) and "X_pca" not in rna.obsm
    rna.obsm["X_pca"] = np.arange(rna.n_obs * 8, dtype=float).reshape(rna.n_obs, 8)
    cells = list(rna.obs_names[[3, 1]])
    np.testing.assert_array_equal(lb.rna_pcs(rna, cells, 5), rna.obsm["X_pca"][[3, 1], :5])
    assert lb.rna_pcs(rna, cells, 0).shape == (2, 0)
