"""Downloads against a real HTTP server on 127.0.0.1 (Range support, 404, corrupt files)."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from pathlib import Path

import pytest

from genepeak.errors import ConfigError, InputError
from genepeak.io.download import DATASETS, RemoteFile, download, download_file


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with ``Range: bytes=N-`` support; records every request's Range header."""

    requests: list[tuple[str, str | None]] = []
    cut_after: int | None = None  # when set, the next response stops after this many bytes

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802 - http.server naming
        type(self).requests.append((self.path, self.headers.get("Range")))
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404, "Not Found")
            return
        data = path.read_bytes()
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            if start >= len(data):
                self.send_error(416, "Range Not Satisfiable")
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            body = data[start:]
        else:
            self.send_response(200)
            body = data
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut, type(self).cut_after = type(self).cut_after, None
        self.wfile.write(body if cut is None else body[:cut])
        self.close_connection = True


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    RangeHandler.requests = []

    def handler(*args, **kwargs):
        return RangeHandler(*args, directory=str(root), **kwargs)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


PAYLOAD = bytes(range(256)) * 4000  # 1,024,000 bytes
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


def test_download_and_resume(server, tmp_path):
    root, url = server
    (root / "file.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "cache" / "file.bin"
    dest.parent.mkdir()
    # an interrupted earlier download left the first 300,000 bytes
    (dest.parent / "file.bin.part").write_bytes(PAYLOAD[:300_000])
    path = download_file(f"{url}/file.bin", dest, size=len(PAYLOAD), md5=PAYLOAD_MD5)
    assert path.read_bytes() == PAYLOAD
    assert RangeHandler.requests == [("/file.bin", "bytes=300000-")]
    assert not (dest.parent / "file.bin.part").exists()
    # cached: verified, no new request
    download_file(f"{url}/file.bin", dest, size=len(PAYLOAD), md5=PAYLOAD_MD5)
    assert len(RangeHandler.requests) == 1


def test_interrupted_download_resumes(server, tmp_path):
    root, url = server
    (root / "file.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "file.bin"
    RangeHandler.cut_after = 400_000  # the connection drops after 400,000 bytes
    with pytest.raises(
        InputError, match=r"was interrupted .*the partial file .*file.bin.part is kept"
    ):
        download_file(f"{url}/file.bin", dest, size=len(PAYLOAD), md5=PAYLOAD_MD5)
    partial = (tmp_path / "file.bin.part").stat().st_size
    assert 0 < partial <= 400_000 and not dest.exists()
    download_file(f"{url}/file.bin", dest, size=len(PAYLOAD), md5=PAYLOAD_MD5)
    assert dest.read_bytes() == PAYLOAD
    assert RangeHandler.requests[-1] == ("/file.bin", f"bytes={partial}-")


def test_size_checked_from_server_when_no_md5(server, tmp_path):
    root, url = server
    (root / "f.tsv.gz").write_bytes(PAYLOAD[:5000])
    dest = tmp_path / "f.tsv.gz"
    (tmp_path / "f.tsv.gz.part").write_bytes(PAYLOAD[:1000])
    download_file(f"{url}/f.tsv.gz", dest)
    assert dest.read_bytes() == PAYLOAD[:5000]


def test_bad_checksum_removes_file(server, tmp_path):
    root, url = server
    (root / "file.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "file.bin"
    with pytest.raises(
        InputError, match=r"is corrupt \(MD5 .*, expected 0{32}\); the bad file was removed"
    ):
        download_file(f"{url}/file.bin", dest, md5="0" * 32)
    assert not dest.exists() and not (tmp_path / "file.bin.part").exists()


def test_real_registry_rejects_a_wrong_file(server, tmp_path):
    """A server answering with the wrong bytes for pbmc3k fails the published size / MD5."""
    root, url = server
    sample = root / "pbmc_granulocyte_sorted_3k"
    sample.mkdir()
    (sample / "pbmc_granulocyte_sorted_3k_filtered_feature_bc_matrix.h5").write_bytes(PAYLOAD)
    with pytest.raises(InputError, match=r"size 1,024,000 bytes, expected 38,844,318"):
        download(
            "pbmc3k", tmp_path / "cache", base_url=url, files=["filtered_feature_bc_matrix.h5"]
        )
    assert not list((tmp_path / "cache").rglob("*.h5*"))


def test_http_404(server, tmp_path):
    _, url = server
    with pytest.raises(InputError, match=r"download of .*/missing.bin failed: HTTP 404"):
        download_file(f"{url}/missing.bin", tmp_path / "missing.bin")
    assert not (tmp_path / "missing.bin").exists()


def test_download_dataset_layout(server, tmp_path, monkeypatch):
    root, url = server
    (root / "a").mkdir()
    (root / "a" / "m.h5").write_bytes(PAYLOAD[:2000])
    (root / "a" / "frag.gz").write_bytes(PAYLOAD[:3000])
    entry = (
        RemoteFile(
            "filtered_feature_bc_matrix.h5", "a/m.h5", 2000, hashlib.md5(PAYLOAD[:2000]).hexdigest()
        ),
        RemoteFile("atac_fragments.tsv.gz", "a/frag.gz"),
    )
    monkeypatch.setitem(DATASETS, "pbmc3k", entry)
    monkeypatch.setenv("GENEPEAK_DOWNLOAD_URL", url)
    paths = download("pbmc3k", tmp_path / "cache")
    assert paths == {
        "filtered_feature_bc_matrix.h5": tmp_path
        / "cache"
        / "pbmc3k"
        / "filtered_feature_bc_matrix.h5",
        "atac_fragments.tsv.gz": tmp_path / "cache" / "pbmc3k" / "atac_fragments.tsv.gz",
    }
    assert paths["atac_fragments.tsv.gz"].read_bytes() == PAYLOAD[:3000]


def test_unknown_dataset_and_file():
    with pytest.raises(
        ConfigError, match="unknown dataset 'pbmc5k'; choose one of: pbmc3k, pbmc10k"
    ):
        download("pbmc5k", "/tmp")
    with pytest.raises(ConfigError, match=r"unknown file\(s\) \['x'\]"):
        download("pbmc10k", "/tmp", files=["x"])


def test_unreachable_server(tmp_path):
    # port 9 on 127.0.0.1 (discard) has no HTTP server here: the connection is refused
    with pytest.raises(InputError, match=r"failed: .*Check the network connection"):
        download_file("http://127.0.0.1:9/file.bin", tmp_path / "file.bin", timeout=5)
    assert not list(tmp_path.iterdir())
