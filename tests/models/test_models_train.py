"""All architectures and alignment modes train, learn, predict and write results."""

import numpy as np
import pytest
import torch

from genepeak.models import GPG, PGP, DualVAE

FAST = dict(latent_dim=8, hidden=[32], lr=1e-2, batch_size=64, beta_max=0.01, beta_warmup_epochs=5)


@pytest.mark.parametrize(
    "cls, extra",
    [
        (GPG, {}),
        (PGP, {}),
        (DualVAE, {"alignment": "l2"}),
        (DualVAE, {"alignment": "skl"}),
        (DualVAE, {"alignment": "fusion"}),
    ],
    ids=["gpg", "pgp", "dual-l2", "dual-skl", "dual-fusion"],
)
def test_architectures_train_and_loss_decreases(tiny_mdata, cls, extra):
    model = cls(tiny_mdata, epochs=12, **FAST, **extra).train()
    history = model.history
    assert len(history) == 12
    assert history["loss"].iloc[-1] < 0.7 * history["loss"].iloc[0]
    assert history["val_loss"].iloc[-1] < history["val_loss"].iloc[0]
    test = model.split["test"]
    assert model.predict_peaks(cells=test).shape == (len(test), 90)
    assert model.predict_genes(cells=test).shape == (len(test), 60)
    model.write_results(tiny_mdata)
    for key in model.latent_keys:
        z = tiny_mdata.obsm[f"X_{model.architecture}_{key}"]
        assert z.shape == (240, 8) and np.isfinite(z).all()
    # key_added names the results as scanpy does; the values are the same latents
    written = model.write_results(tiny_mdata, key_added="run2")
    assert written == [f"X_run2_{key}" for key in model.latent_keys]
    first = f"X_{model.architecture}_{model.latent_keys[0]}"
    np.testing.assert_array_equal(tiny_mdata.obsm[written[0]], tiny_mdata.obsm[first])
    if extra.get("alignment") == "fusion":
        assert model.latent_keys == ("rna", "atac", "shared")
        # the alignment term shrinks as the two latents are pulled together
        assert history["alignment"].iloc[-1] < history["alignment"].iloc[0]


def test_gpg_learns_translation(tiny_mdata):
    model = GPG(tiny_mdata, epochs=60, **FAST).train()
    atac = tiny_mdata.mod["atac"]
    test, train = model.split["test"], model.split["train"]
    truth = atac[test].X.toarray()
    baseline = atac[train].X.toarray().mean(0)
    model_mse = ((model.predict_peaks(cells=test) - truth) ** 2).mean()
    baseline_mse = ((baseline - truth) ** 2).mean()
    assert model_mse < 0.97 * baseline_mse
    np.testing.assert_allclose(
        model.peaks_from_genes(tiny_mdata.mod["rna"][test].X),
        model.predict_peaks(cells=test),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("atac_loss", ["bernoulli", "poisson"])
def test_count_likelihoods_train(tiny_mdata, atac_loss):
    model = GPG(tiny_mdata, epochs=8, rna_loss="nb", atac_loss=atac_loss, **FAST).train()
    assert model.history["loss"].iloc[-1] < model.history["loss"].iloc[0]
    peaks = model.predict_peaks()
    genes = model.predict_genes()
    assert np.isfinite(peaks).all() and (genes >= 0).all()
    if atac_loss == "bernoulli":
        assert model.peak_scale == "probability" and ((peaks >= 0) & (peaks <= 1)).all()
    else:
        assert model.peak_scale == "log1p" and (peaks >= 0).all()


def test_monte_carlo_is_one_batched_pass(tiny_mdata):
    model = PGP(tiny_mdata, epochs=2, **FAST).train()
    calls = []
    model.module.enc1.register_forward_hook(lambda *args: calls.append(1))
    torch.manual_seed(5)
    samples = model.predict_genes(n_samples=7)
    assert samples.shape == (7, 240, 60)
    assert len(calls) == 1  # one forward for all 7 samples and 240 cells
    assert samples.std(0).mean() > 0  # stochastic passes differ
    # the next call draws fresh noise (independent Monte-Carlo samples) ...
    assert not np.array_equal(samples, model.predict_genes(n_samples=7))
    torch.manual_seed(5)  # ... and the same seed gives the same draws
    np.testing.assert_array_equal(samples, model.predict_genes(n_samples=7))
    deterministic = model.predict_genes()
    np.testing.assert_array_equal(deterministic, model.predict_genes())
    assert np.abs(samples.mean(0) - deterministic).mean() < np.abs(samples - deterministic).mean()


def test_hvg_genes_and_latent_keys(tiny_mdata):
    tiny_mdata.mod["rna"].var["highly_variable"] = np.arange(60) % 2 == 0
    model = DualVAE(tiny_mdata, genes="hvg", epochs=1, **FAST)
    assert len(model.genes) == 30 and model.genes[1] == "GENE2"
    assert model.latent_keys == ("rna", "atac")
    assert model.predict_genes(n_samples=2).shape == (2, 240, 30)
    assert model.latent(key="atac").shape == (240, 8)


def test_seeded_runs_identical_on_cpu(tiny_mdata):
    a = GPG(tiny_mdata, epochs=3, dropout=0.2, **FAST).train()
    b = GPG(tiny_mdata, epochs=3, dropout=0.2, **FAST).train()
    for key, value in a.module.state_dict().items():
        assert torch.equal(value, b.module.state_dict()[key]), key
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])
    c = GPG(tiny_mdata, epochs=3, dropout=0.2, seed=1, **FAST).train()
    assert not np.array_equal(a.history["loss"], c.history["loss"])


@pytest.mark.parametrize("joint", [False, True])
def test_stage_two_gradient_reaches_stage_one_only_when_joint(tiny_mdata, joint):
    from genepeak.train.data import CellData

    model = GPG(tiny_mdata, joint_stages=joint, **FAST)
    data = model._cell_data(tiny_mdata, None, "cpu", counts=False)
    batch = data.batch(torch.arange(16))
    out = model.module.chain(batch.genes)
    model.module.gene_head.loss(out["source_out"], batch.genes).mean().backward()
    stage_one_grad = model.module.enc1.mean.weight.grad
    assert (stage_one_grad is not None and stage_one_grad.abs().sum() > 0) == joint
    assert model.module.enc2.mean.weight.grad.abs().sum() > 0
    assert isinstance(data, CellData)


def test_bf16_autocast_on_cpu_matches_float32(tiny_mdata):
    fp32 = GPG(tiny_mdata, epochs=3, precision="32", **FAST).train()
    bf16 = GPG(tiny_mdata, epochs=3, precision="bf16", **FAST).train()
    # losses are computed in float32; only the matmuls run in bfloat16
    np.testing.assert_allclose(bf16.history["loss"], fp32.history["loss"], rtol=0.02)
    assert not np.array_equal(bf16.history["loss"], fp32.history["loss"])
    np.testing.assert_allclose(bf16.predict_peaks(), fp32.predict_peaks(), atol=0.05)


def test_gpg_cis_layer_learns_the_driven_pairs_and_survives_save_load(tiny_mdata, tmp_path):
    from genepeak import load

    # tiny_mdata: GENE g (g < 30) drives the two peaks at its own TSS; GENE30-44 have two
    # undriven peaks there. With a 50 kb window each gene meets only its own two peaks.
    model = GPG(tiny_mdata, epochs=25, cis_window=50_000, **FAST).train()
    assert model.cis_window == 50_000
    sources, targets, weights = model.module.cis.pair_weights()
    assert len(sources) == 90 and set(targets // 2) == set(sources)
    driven = np.abs(weights[sources < 30]).mean()
    undriven = np.abs(weights[(sources >= 30) & (sources < 45)]).mean()
    assert driven > 3 * undriven
    model.save(tmp_path / "gpg")
    again = load(tmp_path / "gpg", tiny_mdata)
    cells = model.split["test"]
    np.testing.assert_allclose(again.predict_peaks(cells=cells), model.predict_peaks(cells=cells))


def test_cell_state_is_the_latent_read_from_genes_alone(tiny_mdata):
    rna = tiny_mdata.mod["rna"]
    cells = list(rna.obs_names[:30])
    gpg = GPG(tiny_mdata, epochs=2, **FAST).train()
    x = np.asarray(rna[cells, gpg.genes].X.todense(), dtype=np.float32)
    state = gpg.cell_state(x)
    assert state.shape == (30, FAST["latent_dim"])
    np.testing.assert_allclose(state, gpg.latent(cells=cells, key="z1"), rtol=1e-5, atol=1e-6)
    dual = DualVAE(tiny_mdata, epochs=1, **FAST).train()
    np.testing.assert_allclose(
        dual.cell_state(x), dual.latent(cells=cells, key="rna"), rtol=1e-5, atol=1e-6
    )
    # PGP's latent path starts from the peaks: no state from genes alone
    assert PGP(tiny_mdata, epochs=1, **FAST).train().cell_state(x) is None


def test_for_links_trains_on_every_cell_but_the_validation_cells(tiny_mdata):
    model = GPG(tiny_mdata, epochs=2, **FAST)
    links = model.for_links()
    assert sorted(links.split["train"]) == sorted([*model.split["train"], *model.split["test"]])
    assert list(links.split["val"]) == list(model.split["val"]) and not len(links.split["test"])
    assert links.train_config.test_fraction == 0 and model.train_config.test_fraction > 0
    assert links.model_config == model.model_config and links.model_config is not model.model_config
    trained = links.train()
    assert trained.predict_peaks(cells=model.split["test"]).shape == (len(model.split["test"]), 90)


def test_prediction_in_cell_chunks_matches_one_pass_and_training_frees_its_gradients(
    tiny_mdata, monkeypatch
):
    from genepeak.models import base

    model = GPG(tiny_mdata, epochs=3, cis_window=50_000, **FAST).train()
    # the last step's gradients would hold as much memory as the weights
    assert all(p.grad is None for p in model.module.parameters())
    cells = np.asarray(tiny_mdata.obs_names)[::2]  # 120 cells
    peaks, genes = model.predict_peaks(cells=cells), model.predict_genes(cells=cells)
    latent = model.latent(cells=cells)
    torch.manual_seed(3)
    samples = model.predict_peaks(cells=cells, n_samples=4)
    monkeypatch.setattr(base, "CELL_CHUNK", 7)  # 18 chunks, the last of 1 cell
    monkeypatch.setattr(base, "PREDICTION_CHUNK", 1)  # one cell per pass
    np.testing.assert_allclose(model.predict_peaks(cells=cells), peaks, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_genes(cells=cells), genes, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.latent(cells=cells), latent, rtol=1e-5, atol=1e-6)
    torch.manual_seed(3)
    chunked = model.predict_peaks(cells=cells, n_samples=4)
    assert chunked.shape == samples.shape == (4, 120, 90)
    # the cis layer's per-cell products count in the width that sizes a pass
    assert model._row_width(1) >= model.module.cis.mask.shape[0] * model.module.cis.mask.shape[2]
