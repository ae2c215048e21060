"""Already-processed inputs (``.h5mu``, two ``.h5ad``): raw counts and barcode pairing."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import anndata as ad
import mudata as md
import numpy as np
import pandas as pd
import scipy.sparse as sp

from genepeak._utils import log
from genepeak.errors import InputError

RNA_NAMES = ("rna", "gex", "gene expression", "gene_expression", "mod1")
ATAC_NAMES = ("atac", "peaks", "chromatin", "accessibility", "mod2")
COUNT_LAYERS = ("counts", "raw_counts", "raw")
# modality tags that pipelines append to or prepend before a barcode
_SUFFIX = re.compile(r"[_\-.:#](rna|gex|atac|peaks?|chromatin|acc)$", re.IGNORECASE)
_PREFIX = re.compile(r"^(rna|gex|atac|peaks?|chromatin|acc)[_\-.:#]", re.IGNORECASE)


def strip_modality_tag(barcodes: pd.Index | np.ndarray) -> np.ndarray:
    """Remove modality tags such as ``-1_rna`` -> ``-1`` or ``atac_AAAC...`` -> ``AAAC...``."""
    index = pd.Index(np.asarray(barcodes, dtype=str))
    return (
        index.str.replace(_SUFFIX, "", regex=True).str.replace(_PREFIX, "", regex=True).to_numpy()
    )


def raw_counts(adata: ad.AnnData, source: str) -> sp.csr_matrix:
    """The raw integer counts of ``adata`` as CSR float32, validated.

    Taken from ``layers['counts']`` (or ``raw_counts``) when present, else ``.raw.X`` when it
    has the same features, else ``X``. Raises InputError for negative or non-integer values.
    """
    where = "X"
    matrix = adata.X
    for key in COUNT_LAYERS:
        if key in adata.layers:
            matrix, where = adata.layers[key], f"layers[{key!r}]"
            break
    else:
        if adata.raw is not None and adata.raw.n_vars == adata.n_vars and not _is_integer(matrix):
            matrix, where = adata.raw.X, "raw.X"
    if matrix is None:
        raise InputError(f"{source}: no count matrix (X is empty and there is no layers['counts'])")
    matrix = sp.csr_matrix(matrix, dtype=np.float32) if not sp.issparse(matrix) else matrix
    matrix = sp.csr_matrix(matrix).astype(np.float32, copy=False)
    check_counts(matrix, f"{source} {where}")
    return matrix


def _is_integer(matrix) -> bool:
    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    return bool(np.all(values == np.round(values)) and (values.size == 0 or values.min() >= 0))


def check_counts(matrix: sp.spmatrix, what: str, block: int = 1 << 24) -> None:
    """Raise InputError unless every stored value of ``matrix`` is a non-negative integer.

    Checked in blocks of ``block`` values so large matrices need no full-size temporaries.
    """
    values = matrix.data
    for start in range(0, values.size, block):
        _check_values(values[start : start + block], what)


def _check_values(values: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(values)):
        raise InputError(f"{what}: contains NaN or infinite values; raw counts are required")
    negative = values < 0
    if negative.any():
        raise InputError(
            f"{what}: negative values (e.g. {values[negative][0]:g}); raw counts are required. "
            "Give the unnormalised count matrix (e.g. in layers['counts'])"
        )
    fractional = values != np.round(values)
    if fractional.any():
        example = values[fractional][0]
        raise InputError(
            f"{what}: non-integer values (e.g. {example:g}); raw integer counts are required, "
            "but this looks normalised or log-transformed. Store the raw counts in "
            "layers['counts'] (genepeak uses them when present)"
        )


def as_counts(adata: ad.AnnData, source: str) -> ad.AnnData:
    """A copy of ``adata`` with validated raw counts (CSR float32) in X, obs and var kept."""
    counts = raw_counts(adata, source)
    out = ad.AnnData(X=counts, obs=adata.obs.copy(), var=adata.var.copy())
    return out


def paired_mudata(rna: ad.AnnData, atac: ad.AnnData, **others: ad.AnnData) -> md.MuData:
    """A MuData of ``rna`` and ``atac`` whose global obs holds only what genepeak puts there.

    (mudata would otherwise copy every modality column into ``obs`` as ``rna:...``.)
    """
    with warnings.catch_warnings(), md.set_options(pull_on_update=False):
        warnings.simplefilter("ignore")
        return md.MuData({"rna": rna, "atac": atac, **others})


def pair_modalities(
    rna: ad.AnnData,
    atac: ad.AnnData,
    rna_source: str = "RNA",
    atac_source: str = "ATAC",
    min_fraction: float = 0.5,
) -> md.MuData:
    """Pair RNA and ATAC cells by barcode (modality tags such as ``_rna``/``_atac`` ignored).

    Cells present in both keep the RNA order; both modalities get the same obs_names.
    Raises InputError, with how many barcodes matched, when fewer than ``min_fraction`` of
    the smaller modality pair.
    """
    rna_codes = pd.Index(np.asarray(rna.obs_names, dtype=str))
    atac_codes = pd.Index(np.asarray(atac.obs_names, dtype=str))
    if not rna_codes.intersection(atac_codes).size:
        example = (rna_codes[0], atac_codes[0]) if len(rna_codes) and len(atac_codes) else None
        rna_codes = pd.Index(strip_modality_tag(rna_codes))
        atac_codes = pd.Index(strip_modality_tag(atac_codes))
        if example and (example[0] != rna_codes[0] or example[1] != atac_codes[0]):
            log(
                f"barcodes carry modality tags (e.g. {example[0]!r} / {example[1]!r}); "
                f"stripped for pairing (-> {rna_codes[0]!r})"
            )
    for codes, source in ((rna_codes, rna_source), (atac_codes, atac_source)):
        if codes.has_duplicates:
            dup = codes[codes.duplicated()][0]
            raise InputError(
                f"{source}: barcode {dup!r} occurs more than once; barcodes must be unique"
            )
    shared = rna_codes.intersection(atac_codes, sort=False)
    smaller = min(len(rna_codes), len(atac_codes))
    if smaller == 0 or len(shared) < min_fraction * smaller or len(shared) == 0:
        raise InputError(
            f"barcodes do not pair: {len(shared)} of {len(rna_codes)} RNA barcodes ({rna_source}) "
            f"match the {len(atac_codes)} ATAC barcodes ({atac_source}); e.g. RNA "
            f"{rna_codes[0] if len(rna_codes) else '-'!r} vs ATAC "
            f"{atac_codes[0] if len(atac_codes) else '-'!r}. Both files must come from the same "
            "cells; barcodes may differ only by a modality tag such as '_rna' / '_atac'"
        )
    if len(shared) < max(len(rna_codes), len(atac_codes)):
        log(
            f"paired {len(shared)} cells ({len(rna_codes)} RNA, {len(atac_codes)} ATAC barcodes); "
            "unpaired cells dropped"
        )
    rna_idx = rna_codes.get_indexer(shared)
    atac_idx = atac_codes.get_indexer(shared)
    rna = rna[rna_idx].copy()
    atac = atac[atac_idx].copy()
    rna.obs_names = shared
    atac.obs_names = shared
    mdata = paired_mudata(rna, atac)
    return mdata


def _pick_modality(mdata: md.MuData, names: tuple[str, ...], feature_type: str) -> str | None:
    for key in mdata.mod:
        if key.lower() in names:
            return key
    for key, adata in mdata.mod.items():
        types = adata.var.get("feature_types")
        if types is not None and (types.astype(str) == feature_type).all():
            return key
    return None


def read_h5mu_pair(path: str | Path) -> md.MuData:
    """Read a ``.h5mu`` with an RNA and an ATAC modality; raw counts in X, cells paired."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f".h5mu file {path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mdata = md.read_h5mu(path)
    except (OSError, KeyError, ValueError) as err:
        raise InputError(f"{path} is not a readable .h5mu file (truncated?): {err}") from err
    rna_key = _pick_modality(mdata, RNA_NAMES, "Gene Expression")
    atac_key = _pick_modality(mdata, ATAC_NAMES, "Peaks")
    if rna_key is None or atac_key is None:
        absent = "RNA ('rna')" if rna_key is None else "ATAC ('atac')"
        raise InputError(
            f"{path} holds only one modality: no {absent} modality among {list(mdata.mod)}; "
            "genepeak needs paired RNA + ATAC, named 'rna' and 'atac'"
        )
    rna = as_counts(mdata.mod[rna_key], f"{path} modality {rna_key!r}")
    atac = as_counts(mdata.mod[atac_key], f"{path} modality {atac_key!r}")
    _merge_global_obs(mdata, rna)
    paired = pair_modalities(rna, atac, f"{path}:{rna_key}", f"{path}:{atac_key}")
    fragments = dict(mdata.mod[atac_key].uns.get("files", {})).get("fragments")
    if fragments:
        # muon stores the fragments path as written; resolve it next to the .h5mu when relative
        for candidate in (
            Path(fragments),
            path.parent / fragments,
            path.parent / Path(fragments).name,
        ):
            if candidate.is_file():
                paired.mod["atac"].uns["files"] = {"fragments": str(candidate.resolve())}
                break
    return paired


def _merge_global_obs(mdata: md.MuData, rna: ad.AnnData) -> None:
    """Copy global obs columns (e.g. labels stored at the MuData level) into the RNA obs."""
    for column in mdata.obs.columns:
        if ":" in column or column in rna.obs:
            continue
        values = mdata.obs[column].reindex(rna.obs_names)
        if values.notna().any():
            rna.obs[column] = values.to_numpy()


def read_h5ad(path: str | Path) -> ad.AnnData:
    """Read one ``.h5ad`` with a clear error when missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f".h5ad file {path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ad.read_h5ad(path)
    except (OSError, KeyError, ValueError) as err:
        raise InputError(f"{path} is not a readable .h5ad file (truncated?): {err}") from err


def read_h5ad_pair(rna_path: str | Path, atac_path: str | Path) -> md.MuData:
    """Read an RNA and an ATAC ``.h5ad`` and pair their cells by barcode."""
    rna = as_counts(read_h5ad(rna_path), str(rna_path))
    atac = as_counts(read_h5ad(atac_path), str(atac_path))
    return pair_modalities(rna, atac, str(rna_path), str(atac_path))
