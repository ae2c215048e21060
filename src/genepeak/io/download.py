"""Download 10x multiome example data (PBMC 3k / 10k) into a cache, with resume and checksums.

Files land as ``<directory>/<name>/filtered_feature_bc_matrix.h5`` etc., the layout of a Cell
Ranger ARC ``outs`` folder, so ``genepeak.read_input(<directory>/<name>)`` reads them.
Only the filtered h5 files have a published MD5; for the others the size the server reports
(Content-Length / Content-Range) is verified instead.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from genepeak._utils import log, progress
from genepeak.errors import ConfigError, InputError

DEFAULT_BASE_URL = "https://cf.10xgenomics.com/samples/cell-arc/2.0.0"
BASE_URL_ENV = "GENEPEAK_DOWNLOAD_URL"
_BLOCK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: local name, remote path under the base URL, and its checks."""

    local_name: str
    remote_path: str
    size: int | None = None
    md5: str | None = None


def _arc_files(sample: str, size: int, md5: str) -> tuple[RemoteFile, ...]:
    return (
        RemoteFile(
            "filtered_feature_bc_matrix.h5",
            f"{sample}/{sample}_filtered_feature_bc_matrix.h5",
            size,
            md5,
        ),
        RemoteFile("atac_fragments.tsv.gz", f"{sample}/{sample}_atac_fragments.tsv.gz"),
        RemoteFile("atac_fragments.tsv.gz.tbi", f"{sample}/{sample}_atac_fragments.tsv.gz.tbi"),
        RemoteFile("atac_peaks.bed", f"{sample}/{sample}_atac_peaks.bed"),
        RemoteFile("per_barcode_metrics.csv", f"{sample}/{sample}_per_barcode_metrics.csv"),
    )


DATASETS: dict[str, tuple[RemoteFile, ...]] = {
    "pbmc3k": _arc_files(
        "pbmc_granulocyte_sorted_3k", 38_844_318, "e326066b51ec8975197c29a7f911a4fd"
    ),
    "pbmc10k": _arc_files(
        "pbmc_granulocyte_sorted_10k", 192_125_528, "df86844b99161b9487090d91e644745e"
    ),
}


def default_cache_dir() -> Path:
    """``$GENEPEAK_CACHE`` or ``~/.cache/genepeak``."""
    return Path(os.environ.get("GENEPEAK_CACHE", Path.home() / ".cache" / "genepeak"))


def md5sum(path: str | Path) -> str:
    """Hex MD5 of a file, read in 1 MiB blocks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _remote_total(response, offset: int) -> int | None:
    content_range = response.headers.get("Content-Range")
    if content_range:
        match = re.search(r"/(\d+)$", content_range)
        if match:
            return int(match.group(1))
    length = response.headers.get("Content-Length")
    return int(length) + offset if length is not None else None


def download_file(
    url: str, dest: str | Path, size: int | None = None, md5: str | None = None, timeout: float = 60
) -> Path:
    """Download ``url`` to ``dest``, resuming a partial ``dest.part`` with an HTTP Range request.

    The result is checked against ``md5`` when given, else against ``size`` or the size the
    server reports. A file that fails its check is removed and InputError raised.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and _verified(dest, size, md5, quiet=True):
        log(f"{dest.name}: already downloaded and verified")
        return dest
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset and (size is None or offset == size):
            response = None  # the partial file is already complete
        else:
            raise InputError(
                f"download of {url} failed: HTTP {err.code} {err.reason}. Check the dataset name "
                f"and the base URL (env {BASE_URL_ENV}); nothing was written to {dest}"
            ) from err
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        kept = f"; the partial file {part} is kept and the next call resumes it" if offset else ""
        raise InputError(
            f"download of {url} failed: {getattr(err, 'reason', err)}. Check the network "
            f"connection (or set {BASE_URL_ENV} to a reachable mirror){kept}"
        ) from err
    served = None  # the total size the server announced
    if response is not None:
        try:
            served = _stream(response, part, offset, dest.name)
        except (OSError, http.client.HTTPException) as err:
            raise InputError(
                f"download of {url} was interrupted ({err}); the partial file {part} is kept "
                "and the next call resumes it"
            ) from err
    if served is not None and part.stat().st_size < served:
        raise InputError(
            f"download of {url} was interrupted ({part.stat().st_size:,} of {served:,} bytes); "
            f"the partial file {part} is kept and the next call resumes it"
        )
    _verified(
        part, size if size is not None else served, md5, quiet=False, url=url
    )  # raises, removing the file, if bad
    os.replace(part, dest)
    return dest


def _stream(response, part: Path, offset: int, name: str) -> int | None:
    """Append (or write, when the server ignored the Range) the body to ``part``.

    Returns the file's total size as the server announced it (None when it did not).
    """
    with response:
        if offset and response.status != 206:
            offset = 0  # the server ignored the Range header: start over
        expected = _remote_total(response, offset)
        with open(part, "ab" if offset else "wb") as handle:
            blocks = iter(lambda: response.read(_BLOCK), b"")
            total = None if expected is None else max(0, (expected - offset) // _BLOCK + 1)
            for block in progress(blocks, desc=f"downloading {name}", total=total):
                handle.write(block)
    return expected


def _verified(
    path: Path, size: int | None, md5: str | None, quiet: bool, url: str | None = None
) -> bool:
    actual_size = path.stat().st_size
    problem = None
    if size is not None and actual_size != size:
        problem = f"size {actual_size:,} bytes, expected {size:,}"
    elif md5 is not None:
        digest = md5sum(path)
        if digest != md5:
            problem = f"MD5 {digest}, expected {md5}"
    if problem is None:
        return True
    if quiet:
        return False
    path.unlink(missing_ok=True)
    raise InputError(
        f"download of {url or path.name} is corrupt ({problem}); the bad file was removed, "
        "run the download again"
    )


def download(
    name: str,
    directory: str | Path | None = None,
    base_url: str | None = None,
    files: list[str] | None = None,
) -> dict[str, Path]:
    """Download a 10x multiome example dataset into ``directory/name`` (resumable, verified).

    Parameters
    ----------
    name
        ``pbmc3k`` or ``pbmc10k`` (10x pbmc_granulocyte_sorted_3k / _10k, Cell Ranger ARC 2.0).
    directory
        Cache directory (default: ``$GENEPEAK_CACHE`` or ``~/.cache/genepeak``).
    base_url
        Server to fetch from (default: ``$GENEPEAK_DOWNLOAD_URL`` or the 10x site).
    files
        Local names to fetch (default all: the filtered h5, fragments + index, peaks, metrics).

    Returns
    -------
    ``{local name: path}`` of the downloaded files.
    """
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    base = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    entries = DATASETS[name]
    if files is not None:
        known = {f.local_name for f in entries}
        unknown = sorted(set(files) - known)
        if unknown:
            raise ConfigError(f"unknown file(s) {unknown} for {name}; choose from: {sorted(known)}")
        entries = tuple(f for f in entries if f.local_name in files)
    target = Path(directory) if directory is not None else default_cache_dir()
    out = {}
    for remote in entries:
        log(f"{name}: {remote.local_name}")
        out[remote.local_name] = download_file(
            f"{base}/{remote.remote_path}",
            target / name / remote.local_name,
            remote.size,
            remote.md5,
        )
    return out
