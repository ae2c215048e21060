"""The command line as a new user drives it: simulate -> prepare -> train -> explain, and errors."""

from __future__ import annotations

import json

import mudata
import numpy as np
import pandas as pd
import pytest

from extras import requires_snapatac2
from genepeak.cli import main


def _simulate_and_prepare(root, shape: str, *extra: str):
    """``genepeak simulate`` (seed 3) then ``genepeak prepare`` (UMAP off, to keep it fast)
    into ``root``; returns ``(root, prepared .h5mu)``."""
    assert main(["simulate", "--out", str(root / "sim"), "--shape", shape, "--seed", "3"]) == 0
    prep = root / "prep.yaml"
    prep.write_text(
        f"compute_umap: false\ngene_annotation: {root / 'sim' / 'gene_annotation.tsv'}\n"
    )
    out = root / "data.h5mu"
    args = ["prepare", "--input", str(root / "sim"), "--out", str(out), "--config", str(prep)]
    assert main([*args, *extra]) == 0
    return root, out


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A tiny simulated dataset prepared through the CLI, with its QC figures."""
    root = tmp_path_factory.mktemp("cli")
    return _simulate_and_prepare(root, "tiny", "--figures", str(root / "qc"))


def test_prepare_writes_paired_h5mu_and_figures(prepared):
    root, out = prepared
    mdata = mudata.read_h5mu(out)
    assert list(mdata.mod["rna"].obs_names) == list(mdata.mod["atac"].obs_names)
    assert mdata.n_obs > 250 and "leiden" in mdata.obs
    assert mdata.uns["genepeak"]["prepare"]["compute_umap"] is False
    assert (mdata.mod["rna"].var["tss"] >= 0).mean() > 0.99  # TSS from the annotation
    assert any(p.suffix == ".png" for p in (root / "qc").iterdir())


def test_train_then_explain_from_the_command_line(prepared, capsys):
    root, data = prepared
    config = root / "run.yaml"
    config.write_text(
        f"data: {data}\nout: {root / 'gpg'}\npreset: small-gpg\n"
        "model: {latent_dim: 8, hidden: [64]}\ntrain: {epochs: 4, batch_size: 64}\n"
    )
    # --stream: minibatches read from the file; explain then loads the data itself
    assert main(["train", "--config", str(config), "--stream"]) == 0
    saved = root / "gpg"
    assert (saved / "model.safetensors").is_file()
    assert (saved / "data_path.txt").read_text().strip() == str(data.resolve())
    history = pd.read_csv(saved / "training_log.csv")
    assert len(history) == 4

    out = root / "explain"
    (root / "explain.yaml").write_text("n_passes: 20\nn_null_genes: 4\ndose_steps: 3\n")
    code = main(
        [
            "explain",
            "--model",
            str(saved),
            "--gene",
            "NKG7",
            "--count",
            "0",
            "--cell-type",
            "NK",
            "--out",
            str(out),
            "--config",
            str(root / "explain.yaml"),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "NKG7" in printed and "-> 0.00 (0)" in printed
    links_file = next(p for p in out.glob("*_links.tsv") if "signac" not in p.name)
    links = pd.read_csv(links_file, sep="\t")
    assert {"peak", "gene", "score", "direction", "p_value"} <= set(links.columns)
    assert (links["gene"] == "NKG7").all()
    assert any(out.glob("*.bedpe")) and any(out.glob("*.png"))


def test_errors_are_reported_with_exit_code_2(tmp_path, capsys):
    code = main(
        ["prepare", "--input", str(tmp_path / "missing"), "--out", str(tmp_path / "x.h5mu")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "genepeak prepare: error:" in err and "missing" in err
    assert not (tmp_path / "x.h5mu").exists()

    bad = tmp_path / "run.yaml"
    bad.write_text("models:\n  gpg: {latnet_dim: 8}\n")
    assert main(["run", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "Did you mean 'latent_dim'" in capsys.readouterr().err


def test_a_data_file_that_is_not_an_h5mu_is_named(tmp_path, capsys):
    text = tmp_path / "notes.h5mu"
    text.write_text("not HDF5")
    for command in (
        ["links", "--genes", "NKG7"],
        ["explain", "--model", str(tmp_path), "--gene", "NKG7"],
    ):
        assert main([*command, "--data", str(text), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert f"--data: {text} is not a readable .h5mu file" in err
        assert "internal error" not in err
    assert main(["links", "--data", str(tmp_path / "none.h5mu"), "--out", str(tmp_path)]) == 2
    assert "none.h5mu does not exist" in capsys.readouterr().err


def test_run_config_overrides_are_validated(tmp_path, capsys):
    assert main(["run", "--shape", "huge", "--out", str(tmp_path / "o")]) == 2
    assert "shape: 'huge' is not valid; choose one of: tiny, small, pbmc3k, pbmc10k" in (
        capsys.readouterr().err
    )


def test_prepare_out_errors_name_the_path_without_a_traceback(prepared, tmp_path, capsys):
    root, _ = prepared
    folder = tmp_path / "taken.h5mu"
    folder.mkdir()
    args = ["prepare", "--input", str(root / "sim"), "--out", str(folder)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"output {folder} is an existing folder; give a file path ending in .h5mu" in err
    assert "Traceback" not in err and not list(folder.iterdir())
    blocker = tmp_path / "plain_file"
    blocker.write_text("")
    assert main(["prepare", "--input", str(root / "sim"), "--out", str(blocker / "x.h5mu")]) == 2
    assert f"{blocker} is a file, so no folder can be made there" in capsys.readouterr().err


def test_prepare_input_choices_are_checked(tmp_path, capsys):
    out = tmp_path / "x.h5mu"
    assert main(["prepare", "--out", str(out)]) == 2
    assert "give the data either as --input" in capsys.readouterr().err
    assert main(["prepare", "--rna", str(tmp_path / "rna.h5"), "--out", str(out)]) == 2
    assert "--rna needs --fragments atac_fragments.tsv.gz" in capsys.readouterr().err
    code = main(["prepare", "--input", str(tmp_path), "--genome", "hg18", "--out", str(out)])
    assert code == 2 and "--genome.genome: 'hg18' is not valid" in capsys.readouterr().err
    assert not out.exists()


def test_unexpected_errors_reach_the_user_as_one_line(monkeypatch, tmp_path, capsys):
    import genepeak.prepare.pipeline as pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("something internal")

    monkeypatch.setattr(pipeline, "prepare", broken)
    monkeypatch.delenv("GENEPEAK_DEBUG", raising=False)
    args = ["prepare", "--input", str(tmp_path), "--out", str(tmp_path / "x.h5mu")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: something internal" in err
    assert "GENEPEAK_DEBUG=1" in err and "Traceback" not in err

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "x.h5mu"))

    monkeypatch.setattr(pipeline, "prepare", disk_full)
    assert main(args) == 2
    assert "error: No space left on device (" in capsys.readouterr().err


@pytest.mark.realdata
@requires_snapatac2
def test_prepare_from_rna_and_fragments(shared_data, tmp_path, capsys):
    """`genepeak prepare --rna ... --fragments ... --genome hg38`: MACS3 peaks from fragments."""
    import warnings

    import numpy as np
    import scipy.sparse as sp

    from genepeak.io.tenx_write import write_10x_h5

    folder = shared_data("pbmc_multiome_1k_markers")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rna = mudata.read_h5mu(folder / "pbmc_1k_markers.h5mu").mod["rna"]
    features = pd.DataFrame(
        {
            "id": rna.var["gene_ids"].astype(str).to_numpy(),
            "name": rna.var_names.to_numpy(),
            "feature_type": "Gene Expression",
            "genome": "GRCh38",
            "interval": rna.var["interval"].astype(str).to_numpy(),
        }
    )
    h5 = tmp_path / "filtered_feature_bc_matrix.h5"
    write_10x_h5(h5, sp.csr_matrix(rna.X).astype(np.int64), list(rna.obs_names), features)
    (tmp_path / "prep.yaml").write_text("compute_umap: false\nn_top_genes: 20\n")
    out = tmp_path / "x.h5mu"
    args = ["prepare", "--rna", str(h5), "--fragments", str(folder / "atac_fragments.tsv.gz")]
    args += ["--genome", "hg38", "--out", str(out), "--config", str(tmp_path / "prep.yaml")]
    assert main(args) == 0
    assert f"wrote {out}: 922 paired cells, 45 genes, 115 peaks" in capsys.readouterr().out
    prepared = mudata.read_h5mu(out)
    assert prepared.uns["genepeak"]["peaks_called"]
    assert prepared.uns["genepeak"]["prepare"]["genome"] == "hg38"


@pytest.fixture(scope="module")
def prepared_small(tmp_path_factory):
    """The built-in ``small`` shape prepared (about 1,550 cells): on ``tiny``'s 265 cells the
    links' t calls nothing (docs/links.md), and a page without calls draws no picture."""
    return _simulate_and_prepare(tmp_path_factory.mktemp("cli_small"), "small")


def test_links_command_writes_tables_tracks_and_page(prepared_small, capsys):
    """genepeak links on every HVG with groups: TSV, BEDPE, Signac links, comparison, page."""
    root, data = prepared_small
    out = root / "links"
    code = main(
        ["links", "--data", str(data), "--genes", "hvg", "--groupby", "leiden"]
        + ["--skip-small-groups", "--min-cells", "30", "--out", str(out)]
    )
    assert code == 0
    for name in ("links.tsv", "links_called.bedpe", "links_signac.tsv", "params.json"):
        assert (out / name).is_file()
    table = pd.read_csv(out / "links.tsv", sep="\t")
    assert {"group", "gene", "peak", "link_score", "called", "fdr"} <= set(table.columns)
    assert "all" in set(table["group"])
    page = (out / "links.html").read_text()
    assert "<img" in page and "Calls" in page
    assert "links called" in capsys.readouterr().out
    assert json.loads((out / "params.json").read_text())["distance_prior"] is True
    plain = root / "links_no_prior"
    code = main(["links", "--data", str(data), "--no-distance-prior", "--out", str(plain)])
    assert code == 0 and json.loads((plain / "params.json").read_text())["distance_prior"] is False
    without = pd.read_csv(plain / "links.tsv", sep="\t")
    with_prior = table[table["group"] == "all"]
    # the same calls, another score
    assert without["called"].sum() == with_prior["called"].sum()
    assert not np.allclose(without["link_score"], with_prior["link_score"].to_numpy())


def test_links_command_names_bad_input_in_one_line(prepared, capsys, tmp_path):
    root, data = prepared
    genes = tmp_path / "genes.txt"
    genes.write_text("NOT_A_GENE\n")
    out = tmp_path / "never"
    code = main(["links", "--data", str(data), "--genes-file", str(genes), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "NOT_A_GENE" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing half-written
    code = main(["links", "--data", str(data), "--groupby", "no_such_column", "--out", str(out)])
    assert code == 2 and "no_such_column" in capsys.readouterr().err
