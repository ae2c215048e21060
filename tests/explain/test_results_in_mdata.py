"""Results in the data object: a notebook user reads link and explain tables from mdata.uns."""

from __future__ import annotations

import mudata
import numpy as np
import pandas as pd
from explain_fakes import linear_model_for

from genepeak.config import ExplainConfig, PerturbationConfig
from genepeak.explain import explain, explain_gene, link_scores

CONFIG = ExplainConfig(
    n_passes=20, n_null_genes=8, dose_steps=3, top_k=5, threshold=0.5, markers={"G3": ["GENE3"]}
)


def _round_trip(mdata, tmp_path):
    path = tmp_path / "with_results.h5mu"
    mdata.write_h5mu(path)
    return mudata.read_h5mu(path)


def test_link_scores_stored_under_key_added_survive_h5mu(tiny_mdata, tmp_path):
    model = linear_model_for(tiny_mdata)
    before = set(tiny_mdata.uns)
    link_scores(model, tiny_mdata, ["GENE3"], config=CONFIG)
    assert set(tiny_mdata.uns) == before  # key_added=None stores nothing
    table = link_scores(model, tiny_mdata, ["GENE3", "GENE4"], config=CONFIG, key_added="links")
    assert tiny_mdata.uns["links"] is table
    stored = _round_trip(tiny_mdata, tmp_path).uns["links"]
    assert isinstance(stored, pd.DataFrame) and list(stored.columns) == list(table.columns)
    stored.index = table.index
    pd.testing.assert_frame_equal(stored, table, check_dtype=False, check_exact=True)
    # the driver's two peaks lead GENE3's links, read straight from the object
    top = stored[stored["gene"] == "GENE3"].nlargest(2, "link_score")["peak"]
    assert set(top) == {tiny_mdata.mod["atac"].var_names[i] for i in (6, 7)}


def test_explain_results_stored_under_key_added_survive_h5mu(tiny_mdata, tmp_path):
    model = linear_model_for(tiny_mdata)
    result = explain_gene(
        model, tiny_mdata, "GENE3", 0.0, cell_type="G3", config=CONFIG, key_added="gene3"
    )
    config = ExplainConfig(
        **{
            **CONFIG.__dict__,
            "experiments": [
                PerturbationConfig(genes=["GENE3"], cell_type="G3", name="g3"),
                PerturbationConfig(genes=["NKG7"], cell_type="G3"),
            ],
        }
    )
    results = explain(model, tiny_mdata, config, key_added="genepeak_explain")
    back = _round_trip(tiny_mdata, tmp_path).uns
    one = back["gene3"]
    np.testing.assert_array_equal(one["table"]["peak"].to_numpy(), result.table["peak"].to_numpy())
    np.testing.assert_allclose(one["table"]["shift"], result.table["shift"])
    assert one["summary"]["n_significant"] == result.n_significant == 2
    assert len(one["dose_response"]) == 3 * CONFIG.top_k
    batch = back["genepeak_explain"]
    assert list(batch["summary"]["experiment"]) == [r.name for r in results] == ["g3"]
    assert list(batch["skipped"]["reason"].str.contains("unknown gene 'NKG7'")) == [True]
    np.testing.assert_allclose(
        batch["experiments"]["g3"]["table"]["link_score"], results[0].table["link_score"]
    )
