"""The MNIST downloader against a local HTTP server on 127.0.0.1 serving generated IDX files."""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from chainrule.cli import main
from chainrule.data import MNIST_NAMES, FetchError, encode_idx, fetch, fetch_mnist, load

pytestmark = pytest.mark.timeout(60)


def make_files() -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    arrays = {
        "train_x": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        "train_y": rng.integers(0, 10, 40, dtype=np.uint8),
        "test_x": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "test_y": rng.integers(0, 10, 12, dtype=np.uint8),
    }
    # mtime=0: the same bytes (and digests) on every run.
    return {MNIST_NAMES[k]: gzip.compress(encode_idx(v), mtime=0) for k, v in arrays.items()}


FILES = make_files()
DIGESTS = {name: hashlib.sha256(body).hexdigest() for name, body in FILES.items()}


class Handler(BaseHTTPRequestHandler):
    """/good/NAME serves the file, /corrupt/NAME flips a byte, /truncated/NAME announces the
    full length but closes the connection halfway, /missing/NAME is a 404."""

    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.hits.append(self.path)
        _, mode, name = self.path.split("/", 2)
        body = FILES.get(name)
        if body is None or mode == "missing":
            self.send_error(404)
            return
        if mode == "corrupt":
            body = body[:-1] + bytes([body[-1] ^ 0xFF])
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "truncated":
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # silence stderr
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Handler.hits = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_good_download_verifies_and_loads(server: str, tmp_path: Path) -> None:
    calls: list[tuple[str, int, int | None]] = []
    paths = fetch_mnist(
        [server + "/good/"],
        dest=tmp_path,
        sha256=DIGESTS,
        progress=lambda *a: calls.append(a),
    )
    assert [p.name for p in paths] == list(DIGESTS)
    for path in paths:
        assert path.read_bytes() == FILES[path.name]
    assert leftovers(tmp_path) == []
    assert calls[-1][1] == calls[-1][2] == len(FILES["t10k-labels-idx1-ubyte.gz"])
    data = load(tmp_path)
    assert data.train_x.shape == (40, 784) and data.test_y.shape == (12,)


def test_verified_files_are_not_downloaded_again(server: str, tmp_path: Path) -> None:
    fetch_mnist([server + "/good/"], dest=tmp_path, sha256=DIGESTS)
    n = len(Handler.hits)
    fetch_mnist([server + "/good/"], dest=tmp_path, sha256=DIGESTS)
    assert len(Handler.hits) == n
    fetch_mnist([server + "/good/"], dest=tmp_path, sha256=DIGESTS, force=True)
    assert len(Handler.hits) == n + 4


def test_corrupt_download_is_rejected(server: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="checksum mismatch") as info:
        fetch_mnist([server + "/corrupt/"], dest=tmp_path, sha256=DIGESTS)
    assert str(tmp_path) in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_is_rejected(server: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="(?i)incomplete|truncated"):
        fetch_mnist([server + "/truncated/"], dest=tmp_path, sha256=DIGESTS)
    assert list(tmp_path.iterdir()) == []


def test_bad_file_in_cache_is_replaced_atomically(server: str, tmp_path: Path) -> None:
    name = "train-labels-idx1-ubyte.gz"
    (tmp_path / name).write_bytes(b"stale")
    # A failing mirror leaves the old file untouched ...
    with pytest.raises(FetchError):
        fetch({name: DIGESTS[name]}, tmp_path, [server + "/corrupt/"])
    assert (tmp_path / name).read_bytes() == b"stale"
    # ... and a good one replaces it.
    fetch({name: DIGESTS[name]}, tmp_path, [server + "/good/"])
    assert (tmp_path / name).read_bytes() == FILES[name]
    assert leftovers(tmp_path) == []


def test_mirrors_are_tried_in_order(server: str, tmp_path: Path) -> None:
    mirrors = [server + "/missing/", server + "/corrupt/", server + "/good"]
    fetch_mnist(mirrors, dest=tmp_path, sha256=DIGESTS)
    first = "/train-images-idx3-ubyte.gz"
    assert Handler.hits[:3] == [m + first for m in ("/missing", "/corrupt", "/good")]
    assert load(tmp_path).train_x.shape == (40, 784)


def test_offline_message_says_where_to_put_files(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as info:
        fetch_mnist([closed_port()], dest=tmp_path, sha256=DIGESTS, timeout=5)
    message = str(info.value)
    assert "offline" in message and str(tmp_path) in message
    assert "train-images-idx3-ubyte.gz" in message and "CHAINRULE_DATA" in message


def test_cli_fetch_into_cache(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    monkeypatch.setattr("chainrule.data.download.MNIST_SHA256", DIGESTS)
    result = CliRunner().invoke(
        main,
        ["data", "fetch", "mnist", "--mirror", server + "/missing/", "--mirror", server + "/good/"],
    )
    assert result.exit_code == 0, result.output
    assert "MNIST is ready" in result.output
    assert load("mnist").test_x.shape == (12, 784)
    info = CliRunner().invoke(main, ["data", "info", "--json"])
    assert info.exit_code == 0 and '"train": 40' in info.output


def test_cli_fetch_failure_is_one_clear_message(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))
    monkeypatch.setattr("chainrule.data.download.MNIST_SHA256", DIGESTS)
    result = CliRunner().invoke(main, ["data", "fetch", "mnist", "--mirror", server + "/corrupt/"])
    assert result.exit_code == 1
    assert "Error: could not download train-images-idx3-ubyte.gz" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").exists()
