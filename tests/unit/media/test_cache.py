"""MediaCache downloads over real loopback HTTP, stores atomically and stays under its size."""

from __future__ import annotations

import http.server
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from app.media.cache import MediaCache
from app.media.errors import MediaError
from tests.unit.media.conftest import umask

BODY = bytes(range(256)) * 64  # 16 KiB


class _Handler(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[dict[str, int]] = {}

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        _Handler.hits[self.path] = _Handler.hits.get(self.path, 0) + 1
        if self.path.startswith("/file"):
            tail = self.path.rsplit("-", 1)[-1].split(".")[0]  # /file-name-<bytes>.ext
            body = BODY[: int(tail)] if tail.isdigit() else BODY
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/drop.mp4":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[: len(BODY) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.send_error(404, "Not Found")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def _error(cache: MediaCache, url: str, timeout: float = 5.0) -> MediaError:
    with pytest.raises(MediaError) as caught:
        cache.fetch(url, timeout=timeout)
    assert caught.value.source == url
    return caught.value


def test_download_is_stored_by_url_hash_with_extension(server: str, tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, max_bytes=1_000_000)
    url = f"{server}/file-a.mp4"
    path = cache.fetch(url)
    assert path.read_bytes() == BODY
    assert path.suffix == ".mp4" and path.parent == tmp_path and len(path.stem) == 64
    assert cache.fetch(url) == path
    assert _Handler.hits["/file-a.mp4"] == 1  # the second fetch came from the cache
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_download_gets_the_users_default_permissions(server: str, tmp_path: Path) -> None:
    with umask(0o027):
        path = MediaCache(tmp_path, max_bytes=1_000_000).fetch(f"{server}/file-perm.mp4")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # 0o666 minus the umask, not 0o600


def test_not_found_is_an_http_error(server: str, tmp_path: Path) -> None:
    error = _error(MediaCache(tmp_path, 1_000_000), f"{server}/missing.png")
    assert error.reason == "http_error"
    assert "HTTP 404 Not Found" in str(error)
    assert list(tmp_path.iterdir()) == []


def test_silent_server_times_out_in_time(silent_server: str, tmp_path: Path) -> None:
    began = time.monotonic()
    error = _error(MediaCache(tmp_path, 1_000_000), f"{silent_server}/x.mp4", timeout=0.5)
    assert error.reason == "timeout"
    assert time.monotonic() - began < 2.0
    assert list(tmp_path.iterdir()) == []


def test_refused_connection_is_a_network_error(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    error = _error(MediaCache(tmp_path, 1_000_000), f"http://127.0.0.1:{port}/x.mp4")
    assert error.reason == "network"


def test_connection_dropped_mid_body_leaves_no_file(server: str, tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, 1_000_000)
    error = _error(cache, f"{server}/drop.mp4")
    assert error.reason == "network"
    assert list(tmp_path.iterdir()) == []
    assert not cache.path_for(f"{server}/drop.mp4").exists()


def test_too_large_download_is_refused(server: str, tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, max_bytes=1_000_000, max_download_bytes=1000)
    error = _error(cache, f"{server}/file-big.mp4")
    assert error.reason == "too_large"
    assert list(tmp_path.iterdir()) == []


def test_eviction_keeps_the_size_bound_and_drops_least_recently_used(
    server: str, tmp_path: Path
) -> None:
    cache = MediaCache(tmp_path, max_bytes=10_000)
    urls = [f"{server}/file-{name}-4000.bin" for name in "abcd"]
    a = cache.fetch(urls[0])
    b = cache.fetch(urls[1])
    os.utime(a, (time.time() - 100, time.time() - 100))
    os.utime(b, (time.time() - 200, time.time() - 200))  # b is the oldest
    cache.fetch(urls[0])  # using a again makes it the most recent
    cache.fetch(urls[2])
    assert cache.total_bytes() <= 10_000
    assert a.exists() and not b.exists()
    d = cache.fetch(urls[3])
    assert d.exists() and cache.total_bytes() <= 10_000


def test_non_http_url_is_refused(tmp_path: Path) -> None:
    assert _error(MediaCache(tmp_path, 1000), "ftp://example.com/a.mp4").reason == "not_a_url"


def test_parallel_fetches_of_one_url_download_once(server: str, tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, max_bytes=1_000_000)
    url = f"{server}/file-parallel.mp4"
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(cache.fetch(url))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and results[0].read_bytes() == BODY
    assert _Handler.hits["/file-parallel.mp4"] == 1
