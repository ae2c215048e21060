"""Choosing cells, converting values, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from explain_fakes import linear_model_for

from genepeak.errors import AbsentGeneError, InputError
from genepeak.explain import cells as cellsel
from genepeak.explain import values
from genepeak.explain.experiment import explain_gene

MARKERS = {"T1": ["GENE0", "GENE1"], "T2": ["GENE2", "NOT_A_GENE"]}


def test_representative_cell_has_highest_marker_mean(tiny_mdata):
    rna = tiny_mdata.mod["rna"]
    dense = rna[:, ["GENE0", "GENE1"]].X.toarray()
    expected = rna.obs_names[np.argmax(dense.mean(1))]
    assert cellsel.representative_cell(rna, "T1", MARKERS) == expected
    expected2 = rna.obs_names[np.argmax(rna[:, "GENE2"].X.toarray().ravel())]
    assert cellsel.representative_cell(rna, "t2", MARKERS) == expected2  # case-insensitive


def test_unknown_cell_type_lists_known_types(tiny_mdata):
    with pytest.raises(InputError, match="unknown cell type 'T3'. Did you mean .*'T1'"):
        cellsel.representative_cell(tiny_mdata.mod["rna"], "T3", MARKERS)


def test_cell_type_without_markers_in_data(tiny_mdata):
    with pytest.raises(InputError, match="none of the markers of 'NK'"):
        cellsel.representative_cell(tiny_mdata.mod["rna"], "NK")


def test_cells_of_type_by_labels_and_by_markers(tiny_mdata):
    rna = tiny_mdata.mod["rna"]
    labels = tiny_mdata.obs["leiden"]
    by_label = cellsel.cells_of_type(rna, "2", MARKERS, labels)
    assert by_label == list(labels.index[labels == "2"])
    by_marker = cellsel.cells_of_type(rna, "T1", MARKERS)
    scores = cellsel.marker_scores(rna, {"T1": MARKERS["T1"], "T2": ["GENE2"]})
    z = (scores - scores.mean()) / scores.std()
    expected = z.index[(z.idxmax(axis=1) == "T1") & (z["T1"] > 0)]
    assert by_marker == list(expected) and len(by_marker) > 0


def test_counts_convert_with_the_cells_size_factor():
    sf = 18 / np.expm1(3.67)
    assert values.count_to_model_value(8, sf) == pytest.approx(np.log1p(8 / sf))
    assert values.model_value_to_count(3.67, sf) == pytest.approx(18)
    text = values.format_change("NKG7", 3.67, 18, values.count_to_model_value(8, sf), 8)
    assert text == "NKG7 3.67 (18) -> 2.89 (8)"


def test_counts_given_as_values_show_both(tiny_mdata, linear_model):
    rna = tiny_mdata.mod["rna"]
    cell = rna.obs_names[5]
    sf = float(rna.obs.loc[cell, "size_factor"])
    result = explain_gene(
        linear_model,
        tiny_mdata,
        "GENE3",
        12,
        cell=cell,
        values_are_counts=True,
        threshold=0.5,
        dose_response=False,
    )
    assert result.values[0] == pytest.approx(np.log1p(12 / sf), rel=1e-6)
    before = float(rna[cell, "GENE3"].X.toarray()[0, 0])
    observed = float(rna[cell, "GENE3"].layers["counts"].toarray()[0, 0])
    assert result.changes[0] == values.format_change(
        "GENE3", before, observed, np.log1p(12 / sf), 12.0
    )


def test_unknown_gene_suggests_close_names(tiny_mdata, linear_model):
    with pytest.raises(AbsentGeneError, match=r"unknown gene 'GENE3X'.*Did you mean 'GENE3'"):
        explain_gene(linear_model, tiny_mdata, "GENE3X", cell_type="T1", threshold=0.5)
    with pytest.raises(AbsentGeneError, match="case-sensitive: did you mean 'GENE3'"):
        explain_gene(linear_model, tiny_mdata, "gene3", cell_type="B", threshold=0.5)


def test_gene_filtered_by_preprocessing_is_named(tiny_mdata):
    model = linear_model_for(tiny_mdata)
    model.genes = model.genes[:50]
    model.weights = model.weights[:50]
    with pytest.raises(
        AbsentGeneError, match="'GENE55' is in the data but not among the model's 50"
    ):
        explain_gene(model, tiny_mdata, "GENE55", cell=tiny_mdata.obs_names[0], threshold=0.5)


def test_gene_only_in_raw_data_is_named(tiny_mdata, linear_model):
    rna = tiny_mdata.mod["rna"]
    raw = rna.copy()
    raw.var_names = list(rna.var_names[:-1]) + ["MT-CO1"]
    rna.raw = raw
    with pytest.raises(InputError, match="filtered out by preprocessing"):
        explain_gene(linear_model, tiny_mdata, "MT-CO1", cell=rna.obs_names[0], threshold=0.5)


def test_unknown_barcode(tiny_mdata, linear_model):
    with pytest.raises(InputError, match="cell barcode 'AAAC999999-1' is not in the data"):
        explain_gene(linear_model, tiny_mdata, "GENE3", cell="AAAC999999-1", threshold=0.5)


@pytest.mark.parametrize(
    "value, message",
    [
        (-1.0, "must be >= 0"),
        (np.inf, "must be finite"),
        (np.nan, "must be finite"),
        ("high", "must be a number"),
    ],
)
def test_bad_values(tiny_mdata, linear_model, value, message):
    with pytest.raises(InputError, match=message):
        explain_gene(
            linear_model, tiny_mdata, "GENE3", value, cell=tiny_mdata.obs_names[0], threshold=0.5
        )


def test_value_count_must_match_genes(tiny_mdata, linear_model):
    with pytest.raises(InputError, match="2 value\\(s\\) given for 1 gene"):
        explain_gene(
            linear_model,
            tiny_mdata,
            "GENE3",
            [1.0, 2.0],
            cell=tiny_mdata.obs_names[0],
            threshold=0.5,
        )


def test_deterministic_model_is_refused(tiny_mdata):
    model = linear_model_for(tiny_mdata, noise_sd=0.0)
    with pytest.raises(InputError, match="no stochastic latent"):
        explain_gene(model, tiny_mdata, "GENE3", cell=tiny_mdata.obs_names[0], threshold=0.5)


def test_no_cell_and_no_type(tiny_mdata, linear_model):
    with pytest.raises(InputError, match="give a cell barcode"):
        explain_gene(linear_model, tiny_mdata, "GENE3", threshold=0.5)


def test_data_missing_model_genes(tiny_mdata, linear_model):
    linear_model.genes = [*linear_model.genes[:-1], "OTHER"]
    with pytest.raises(InputError, match=r"1 of 60 genes are not in mdata.mod\['rna'\].var_names"):
        values.model_rows(tiny_mdata.mod["rna"], linear_model.genes, [tiny_mdata.obs_names[0]])
    assert isinstance(tiny_mdata.mod["rna"].obs, pd.DataFrame)
