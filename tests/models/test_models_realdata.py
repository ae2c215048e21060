"""All three architectures train on the real BMMC multiome subset (500 cells, 600 + 600)."""

import numpy as np
import pytest
import scipy.sparse as sp

from genepeak.models import GPG, PGP, DualVAE


def bmmc_mdata(folder):
    import anndata as ad
    import mudata as md

    rna = ad.read_h5ad(folder / "starter.output_rna.h5ad")
    atac = ad.read_h5ad(folder / "starter.output_mod2.h5ad")
    counts = sp.csr_matrix(rna.layers["counts"], dtype=np.float32)
    totals = np.asarray(counts.sum(1)).ravel()
    scale = sp.diags((np.median(totals) / np.maximum(totals, 1)).astype(np.float32))
    rna.X = (scale @ counts).log1p().astype(np.float32).tocsr()
    rna.layers["counts"] = counts
    atac.layers["counts"] = sp.csr_matrix(atac.layers["counts"], dtype=np.float32)
    atac.X = atac.layers["counts"].log1p()
    mdata = md.MuData({"rna": rna, "atac": atac})
    mdata.obs["cell_type"] = rna.obs["cell_type"].values
    return mdata


@pytest.mark.realdata
@pytest.mark.parametrize(
    "cls, options",
    [
        (GPG, {"rna_loss": "nb", "atac_loss": "bernoulli"}),
        (PGP, {}),
        (DualVAE, {"alignment": "skl", "atac_loss": "poisson"}),
    ],
    ids=["gpg-nb-bernoulli", "pgp-mse", "dual-skl-poisson"],
)
def test_train_on_real_bmmc_subset(shared_data, cls, options):
    folder = shared_data("bmmc_neurips2021_500cells", "starter.output_rna.h5ad").parent
    mdata = bmmc_mdata(folder)
    model = cls(
        mdata,
        latent_dim=16,
        hidden=[64],
        epochs=15,
        lr=3e-3,
        batch_size=128,
        labels_key="cell_type",
        **options,
    ).train()
    history = model.history
    assert history["val_loss"].iloc[-1] < history["val_loss"].iloc[0]
    # every cell type with at least 5 cells appears in the test split (stratified)
    types = mdata.obs["cell_type"]
    frequent = types.value_counts()[lambda c: c >= 5].index
    assert set(frequent) <= set(types[model.split["test"]])
    peaks = model.predict_peaks(cells=model.split["test"])
    assert peaks.shape == (len(model.split["test"]), 600) and np.isfinite(peaks).all()
