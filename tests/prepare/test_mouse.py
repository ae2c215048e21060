"""A mouse (mm10) multiome prepares end to end: the simulator's mm10 output with fragments."""

from __future__ import annotations

import numpy as np
import pytest

from extras import requires_snapatac2
from genepeak.config import PrepareConfig
from genepeak.io.genome import get_genome
from genepeak.outputs import write_prepare_figures
from genepeak.prepare.pipeline import prepare

FAST = dict(compute_umap=False, run_scrublet=False)


@pytest.fixture(scope="module")
def mouse_outs(tmp_path_factory):
    from genepeak.simulate import simulate

    return simulate(
        tmp_path_factory.mktemp("mm10") / "outs",
        shape="tiny",
        seed=2,
        genome="mm10",
        fragments=True,
    )


@requires_snapatac2
def test_mm10_prepares_with_its_genome(mouse_outs, tmp_path):
    out = tmp_path / "mouse.h5mu"
    mdata = prepare(mouse_outs.out_dir, PrepareConfig(**FAST), out=out)
    write_prepare_figures(mdata, tmp_path / "qc")
    info = mdata.uns["genepeak"]
    assert info["prepare"]["genome"] == "mm10"  # read from the 10x features, not assumed
    assert out.is_file() and (tmp_path / "qc" / "atac_qc.png").is_file()
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    assert 0.75 * 300 < mdata.n_obs < 300
    # mouse gene naming: mt-Co1 and friends are the MT genes, Rps/Rpl the ribosomal ones
    assert (rna.obs["pct_counts_mt"] > 0).mean() > 0.9
    assert (rna.obs["pct_counts_ribo"] > 0).mean() > 0.9
    # mouse standard chromosomes only: chr1-19, X, Y
    assert set(atac.var["chrom"]) <= get_genome("mm10").standard_chromosomes
    assert not {"chr20", "chr21", "chr22", "chrM"} & set(atac.var["chrom"])
    # ATAC cell QC from the fragments with the mm10 chromosome sizes
    qc = info["qc_before"]
    assert qc["atac_fragments"].median() > 200 and qc["atac_tsse"].median() > 2
    rules = info["qc_rules"].set_index("metric")
    for metric in ("atac_fragments", "atac_tsse", "atac_nucleosome_signal", "atac_frip"):
        assert np.isfinite(rules.loc[metric, ["lower", "upper"]].astype(float)).any(), metric


def test_mm10_refuses_the_human_genome(mouse_outs):
    from genepeak.errors import InputError

    with pytest.raises(
        InputError, match=r"genome is 'hg38' but the input's 10x 'genome' field says mm10"
    ):
        prepare(mouse_outs.out_dir, PrepareConfig(**FAST, genome="hg38"))
