"""A size-bounded, content-addressed download cache for media URLs.

Each URL is downloaded once to `<root>/<sha256(url)><ext>`. Downloads go to a uniquely named
temporary file and are renamed into place only when complete, so neither a dropped connection
nor two processes fetching the same URL can leave a half file that later looks valid. The
cache evicts least-recently-used entries to stay under `max_bytes`; "used" is the file's
modification time, which `fetch` refreshes on every hit (access times are unreliable on
`noatime`/`relatime` mounts).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from app.media.errors import MediaError

_PART_SUFFIX = ".part"
_STALE_PART_SECONDS = 24 * 3600  # leftovers of crashed downloads older than this are removed
_EXT = re.compile(r"\.[A-Za-z0-9]{1,8}$")
_CHUNK = 1 << 16


def _create_part(root: Path, stem: str, url: str) -> tuple[int, Path]:
    """A new partial-download file in `root`, open for writing.

    Created exclusively under a random name like `mkstemp`, but with mode 0o666 filtered by the
    umask (mkstemp's 0o600 would survive the rename and make cached media private to this user
    even where the cache folder is shared)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = root / f".{stem}.{secrets.token_hex(6)}{_PART_SUFFIX}"
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
        except OSError as exc:
            raise MediaError(url, "write_failed", f"Cannot store the download: {exc}") from None
    raise MediaError(url, "write_failed", "Cannot store the download: no free temporary name")


class MediaCache:
    """Downloads http(s) media into `root`, keeping the folder under `max_bytes`.

    `max_download_bytes` bounds one download (default: `max_bytes`). Safe to use from several
    threads; several processes may share `root` (a lost race just downloads twice).
    """

    def __init__(
        self,
        root: Path,
        max_bytes: int,
        max_download_bytes: int | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.max_download_bytes = min(max_download_bytes or max_bytes, max_bytes)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._url_locks: dict[str, threading.Lock] = {}

    def path_for(self, url: str) -> Path:
        """Where `url` is (or would be) cached."""
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()
        match = _EXT.search(urlsplit(url).path)
        ext = match.group(0).lower() if match else ""
        return self.root / f"{key}{ext}"

    def fetch(self, url: str, timeout: float = 120.0) -> Path:
        """The local path of `url`'s content, downloading it if it is not cached.

        `timeout` is an overall deadline for the download; connect and read timeouts are also
        capped by it. Raises `MediaError` with reason `http_error`, `timeout`, `network` or
        `too_large`.
        """
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise MediaError(url, "not_a_url", "Only http and https addresses can be downloaded")
        target = self.path_for(url)
        with self._lock:
            url_lock = self._url_locks.setdefault(url, threading.Lock())
        with url_lock:
            if self._touch(target):
                return target
            self._download(url, target, timeout)
        self._evict(keep=target)
        return target

    def total_bytes(self) -> int:
        """Bytes held by complete cache entries."""
        return sum(size for _, _, size in self._entries())

    # ---- internals ----------------------------------------------------------------------------

    @staticmethod
    def _touch(path: Path) -> bool:
        try:
            os.utime(path)
        except FileNotFoundError:
            return False
        return True

    def _download(self, url: str, target: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        limits = httpx.Timeout(
            connect=min(self.connect_timeout, timeout),
            read=min(self.read_timeout, timeout),
            write=min(self.read_timeout, timeout),
            pool=min(self.connect_timeout, timeout),
        )
        fd, temp = _create_part(self.root, target.stem, url)
        complete = False
        try:
            with (
                os.fdopen(fd, "wb") as out,
                httpx.Client(timeout=limits, follow_redirects=True) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code >= 400:
                    raise MediaError(
                        url,
                        "http_error",
                        f"The server answered HTTP {response.status_code} "
                        f"{response.reason_phrase}".rstrip(),
                    )
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_download_bytes:
                    raise self._too_large(url)
                received = 0
                for chunk in response.iter_bytes(_CHUNK):
                    received += len(chunk)
                    if received > self.max_download_bytes:
                        raise self._too_large(url)
                    if time.monotonic() > deadline:
                        raise MediaError(
                            url, "timeout", f"The download took longer than {timeout:g} s"
                        )
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
            complete = True
        except httpx.TimeoutException:
            raise MediaError(
                url, "timeout", "The server did not answer in time (timed out)"
            ) from None
        except httpx.HTTPError as exc:
            raise MediaError(
                url, "network", f"The download failed: {exc.__class__.__name__}: {exc}"
            ) from None
        except OSError as exc:
            raise MediaError(url, "write_failed", f"Cannot store the download: {exc}") from None
        finally:
            if not complete:
                temp.unlink(missing_ok=True)

    def _too_large(self, url: str) -> MediaError:
        limit_mb = self.max_download_bytes / 1_000_000
        return MediaError(url, "too_large", f"The file is larger than the {limit_mb:g} MB limit")

    def _entries(self) -> list[tuple[Path, float, int]]:
        """(path, last use, size) of complete entries; stale partial downloads are removed."""
        entries: list[tuple[Path, float, int]] = []
        now = time.time()
        with os.scandir(self.root) as it:
            for entry in it:
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                if not entry.is_file():
                    continue
                if entry.name.endswith(_PART_SUFFIX):
                    if now - st.st_mtime > _STALE_PART_SECONDS:
                        with contextlib.suppress(OSError):
                            os.unlink(entry.path)
                    continue
                entries.append((Path(entry.path), st.st_mtime, st.st_size))
        return entries

    def _evict(self, keep: Path) -> None:
        """Delete least-recently-used entries until the cache fits (never `keep`)."""
        with self._lock:
            entries = sorted(self._entries(), key=lambda e: e[1])
            total = sum(size for _, _, size in entries)
            for path, _, size in entries:
                if total <= self.max_bytes:
                    break
                if path == keep:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                total -= size
