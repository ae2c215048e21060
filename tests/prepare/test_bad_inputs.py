"""What prepare fixes without guessing (logged) and what it refuses (the file and field named,
nothing written)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from synthetic_arc import make_arc_counts

from extras import requires_snapatac2
from genepeak.cli import main
from genepeak.config import PrepareConfig
from genepeak.errors import ConfigError, InputError
from genepeak.io.tenx_write import write_10x_h5
from genepeak.outputs import write_prepare_figures
from genepeak.prepare.pipeline import prepare

FAST = dict(n_top_genes=50, compute_umap=False, run_scrublet=False)


def nothing_written(folder, stem="out.h5mu"):
    """No output and no temporary file of it left in ``folder``."""
    return not [p for p in folder.iterdir() if p.name.lstrip(".").startswith(stem)]


@pytest.fixture
def loud(monkeypatch):
    monkeypatch.delenv("GENEPEAK_QUIET", raising=False)


def write_arc(folder, features_edit=None):
    counts, barcodes, features, _ = make_arc_counts()
    if features_edit is not None:
        features = features_edit(features)
    write_10x_h5(folder / "filtered_feature_bc_matrix.h5", counts, barcodes, features)
    return folder


# --------------------------------------------------------------------------- fixed and logged


def test_ensembl_chromosome_names_are_converted(tmp_path, loud, capsys):
    def to_ensembl(features):
        peaks = features["feature_type"] == "Peaks"
        for column in ("id", "name", "interval"):
            features.loc[peaks, column] = features.loc[peaks, column].str.removeprefix("chr")
        genes = ~peaks
        features.loc[genes, "interval"] = features.loc[genes, "interval"].str.removeprefix("chr")
        return features

    folder = write_arc(tmp_path / "outs", to_ensembl)
    mdata = prepare(folder, PrepareConfig(**FAST))
    log = capsys.readouterr().out
    assert "peaks use Ensembl chromosome names (e.g. '1:0-500')" in log
    assert "converted to UCSC names with genepeak.io.peaks.to_ucsc (e.g. 'chr1:0-500')" in log
    assert "gene intervals use Ensembl chromosome names" in log
    atac = mdata.mod["atac"]
    assert atac.var_names.str.startswith("chr").all() and set(atac.var["chrom"]) <= {"chr1", "chr2"}
    assert mdata.mod["rna"].var.loc["GENE10", "chrom"] == "chr1"
    # the Ensembl "Un_KI270742v1" contig is still dropped as non-standard
    assert not atac.var["chrom"].str.contains("KI270742").any()


def test_modality_tags_are_stripped_and_duplicate_genes_made_unique(tmp_path, loud, capsys):
    counts, barcodes, features, _ = make_arc_counts()
    counts = sp.csr_matrix(counts, dtype=np.float32)
    genes = features["feature_type"] == "Gene Expression"
    names = features.loc[genes, "name"].tolist()
    names[20] = names[21] = "TBCE"  # one symbol for two Ensembl ids, as in real references
    rna = ad.AnnData(
        X=counts[:, np.flatnonzero(genes)],
        obs=pd.DataFrame(index=[f"{b}_rna" for b in barcodes]),
        var=pd.DataFrame(index=names),
    )
    peaks = features.loc[~genes, "name"]
    atac = ad.AnnData(
        X=counts[:, np.flatnonzero(~genes)],
        obs=pd.DataFrame(index=[f"{b}_atac" for b in barcodes]),
        var=pd.DataFrame(index=peaks.to_numpy()),
    )
    rna.write_h5ad(tmp_path / "rna.h5ad")
    atac.write_h5ad(tmp_path / "atac.h5ad")
    mdata = prepare(f"{tmp_path / 'rna.h5ad'},{tmp_path / 'atac.h5ad'}", PrepareConfig(**FAST))
    log = capsys.readouterr().out
    assert f"barcodes carry modality tags (e.g. '{barcodes[0]}_rna' / '{barcodes[0]}_atac')" in log
    assert "1 gene symbols occur more than once (e.g. TBCE); made unique" in log
    assert mdata.obs_names[0] == barcodes[0]
    assert {"TBCE", "TBCE-1"} <= set(mdata.mod["rna"].var_names)


def test_labels_file_is_joined(tmp_path, arc_outs):
    folder, types = arc_outs
    from genepeak.prepare.pipeline import read_input

    barcodes = read_input(folder).obs_names
    labels = tmp_path / "labels.tsv"
    pd.DataFrame({"barcode": [f"{b}_rna" for b in barcodes], "cell_type": types}).to_csv(
        labels, sep="\t", index=False
    )
    config = PrepareConfig(**FAST, labels_file=str(labels))
    mdata = prepare(folder, config, labels_key="cell_type")
    expected = pd.Series(types.astype(str), index=barcodes).reindex(mdata.obs_names)
    assert mdata.obs["cell_type"].astype(str).tolist() == expected.tolist()


# --------------------------------------------------------------------------- refused, nothing written


def test_out_is_an_existing_folder(arc_outs, tmp_path):
    folder, _ = arc_outs
    target = tmp_path / "out.h5mu"
    target.mkdir()
    with pytest.raises(ConfigError, match=r"output .*out.h5mu is an existing folder; give a file"):
        prepare(folder, PrepareConfig(**FAST), out=target)
    assert target.is_dir() and not list(target.iterdir())


def test_out_below_a_file(arc_outs, tmp_path):
    folder, _ = arc_outs
    blocker = tmp_path / "out_blocker"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"out_blocker is a file, so no folder can be made"):
        prepare(folder, PrepareConfig(**FAST), out=blocker / "sub" / "x.h5mu")
    assert blocker.read_text() == "not a folder"


def test_figures_folder_is_a_file(arc_outs, tmp_path, capsys):
    folder, _ = arc_outs
    (tmp_path / "figs").write_text("")
    with pytest.raises(ConfigError, match=r"figures folder .*figs is an existing file"):
        write_prepare_figures(None, tmp_path / "figs")
    # the command refuses it before preparing anything
    out, figs = tmp_path / "out.h5mu", tmp_path / "figs"
    argv = ["prepare", "--input", str(folder), "--out", str(out), "--figures", str(figs)]
    assert main(argv) == 2
    assert "figs is an existing file" in capsys.readouterr().err
    assert nothing_written(tmp_path) and figs.read_text() == ""


def test_missing_fragments_and_labels_file(arc_outs, tmp_path):
    folder, _ = arc_outs
    with pytest.raises(InputError, match=r"--fragments: .*nowhere.tsv.gz does not exist"):
        prepare(folder, out=tmp_path / "out.h5mu", fragments=tmp_path / "nowhere.tsv.gz")
    config = PrepareConfig(labels_file=str(tmp_path / "labels.tsv"))
    with pytest.raises(InputError, match=r"labels_file: .*labels.tsv does not exist"):
        prepare(folder, config, out=tmp_path / "out.h5mu")
    assert nothing_written(tmp_path)


def test_rna_only_input_without_fragments(tmp_path):
    def rna_only(features):
        return features[features["feature_type"] == "Gene Expression"].reset_index(drop=True)

    counts, barcodes, features, _ = make_arc_counts()
    kept = features["feature_type"] == "Gene Expression"
    write_10x_h5(tmp_path / "rna.h5", counts[:, np.flatnonzero(kept)], barcodes, rna_only(features))
    with pytest.raises(InputError, match=r"rna.h5 holds only one modality: no 'Peaks' features"):
        prepare(tmp_path / "rna.h5", out=tmp_path / "out.h5mu")
    assert nothing_written(tmp_path)


@requires_snapatac2
def test_fragments_of_other_cells(arc_outs, tmp_path, shared_data):
    folder, _ = arc_outs
    other = shared_data("fragments_tiny", "fragments.tsv.gz")
    config = PrepareConfig(**FAST)
    with pytest.raises(InputError, match=r"fragments.tsv.gz: none of the 150 cell barcodes has a"):
        prepare(folder, config, out=tmp_path / "out.h5mu", fragments=other)
    assert nothing_written(tmp_path)


def test_genome_that_contradicts_the_file(arc_outs, tmp_path):
    folder, _ = arc_outs
    with pytest.raises(
        InputError, match=r"genome is 'mm10' but the input's 10x 'genome' field says hg38"
    ):
        prepare(folder, PrepareConfig(**FAST, genome="mm10"), out=tmp_path / "out.h5mu")
    with pytest.raises(ConfigError, match=r"genome: 'hg18' is not valid; choose one of"):
        from genepeak.config import from_dict

        from_dict(PrepareConfig, {"genome": "hg18"})
    assert nothing_written(tmp_path)
