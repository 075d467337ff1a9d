"""Interrupted output downloads resume with HTTP Range against the real service.

A loopback proxy relays each output request to the service and, as planned per request, cuts
the answer after some of its body bytes (the connection drops mid-response) or strips the Range
headers (a server that ignores Range). The service answers Range with 206 + Content-Range and
checks If-Range against its ETag.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app.service.errors import ApiError
from app.service.phantomflow import Job, PhantomFlowClient
from app.service.retry import RetryPolicy, WaitNotice
from tests.integration.server.conftest import tiny_script

from .conftest import Running

pytestmark = pytest.mark.timeout(120)

CUT = "cut"  # relay the head and the first `CUT_AFTER` body bytes, then close
NO_RANGE = "no_range"  # relay without Range / If-Range (a server that ignores them)
CUT_AFTER = 1000


@dataclass
class Seen:
    behaviour: str
    range: str | None
    status: int


@dataclass
class CuttingProxy:
    upstream_host: str
    upstream_port: int
    plans: list[str] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            request_line, headers = lines[0], [line for line in lines[1:] if line]
            is_output = request_line.startswith("GET ") and "/output " in request_line
            behaviour = self.plans.pop(0) if is_output and self.plans else "pass"
            asked_range = next(
                (h.split(":", 1)[1].strip() for h in headers if h.lower().startswith("range:")),
                None,
            )
            length = next(
                (
                    int(h.split(":", 1)[1])
                    for h in headers
                    if h.lower().startswith("content-length:")
                ),
                0,
            )
            body = await reader.readexactly(length) if length else b""
            drop = {"connection"} | ({"range", "if-range"} if behaviour == NO_RANGE else set())
            kept = [h for h in headers if h.split(":", 1)[0].strip().lower() not in drop]
            request = "\r\n".join([request_line, *kept, "Connection: close", "", ""])
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
            up_writer.write(request.encode("latin-1") + body)
            await up_writer.drain()
            answer = await up_reader.read()
            up_writer.close()
            if is_output:
                self.seen.append(Seen(behaviour, asked_range, int(answer[9:12])))
            if behaviour == CUT:
                body_at = answer.index(b"\r\n\r\n") + 4
                writer.write(answer[: body_at + CUT_AFTER])
            else:
                writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def _upstream(service: Running) -> tuple[str, int]:
    host, port = service.url.removeprefix("http://").split(":")
    return host, int(port)


def pf_client(
    base: str,
    key: str,
    tmp_path: Path,
    *,
    on_wait: Callable[[WaitNotice], None] | None = None,
    max_tries: int = 5,
) -> PhantomFlowClient:
    return PhantomFlowClient(
        base,
        key,
        timeout=10.0,
        cache_dir=tmp_path / "cache",
        on_wait=on_wait,
        retry_policy=RetryPolicy(max_tries=max_tries, base_delay=0.05),
        poll_interval=0.1,
    )


async def _completed_job(pf: PhantomFlowClient) -> Job:
    accepted = await pf.render(tiny_script(2))
    job = await pf.wait_for_job(accepted.job_id, timeout=60)
    assert job.status == "completed", job
    return job


def _output_file(service: Running, job: Job) -> Path:
    stored = service.store.get_job(job.job_id)
    assert stored is not None and stored.output_path
    return Path(stored.output_path)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_cut_download_resumes_from_the_bytes_it_has(
    start_service: Callable[..., Running], tmp_path: Path
) -> None:
    service = start_service()
    me = service.account("pro", 100)
    progress: list[tuple[int, int | None]] = []
    dest = tmp_path / "out" / "movie.mp4"

    async def main() -> tuple[Job, list[Seen]]:
        proxy = await CuttingProxy(*_upstream(service)).start()
        try:
            async with pf_client(proxy.url, me.test_key, tmp_path) as pf:
                job = await _completed_job(pf)
                proxy.plans = [CUT, CUT]
                await pf.download_output(
                    job, dest, lambda done, total: progress.append((done, total))
                )
                return job, proxy.seen
        finally:
            await proxy.close()

    job, seen = asyncio.run(main())
    original = _output_file(service, job).read_bytes()
    assert len(original) > 3 * CUT_AFTER
    assert dest.read_bytes() == original
    assert [(s.behaviour, s.range, s.status) for s in seen] == [
        (CUT, None, 200),
        (CUT, f"bytes={CUT_AFTER}-", 206),
        ("pass", f"bytes={2 * CUT_AFTER}-", 206),
    ]
    assert progress[-1] == (len(original), len(original))
    assert (2 * CUT_AFTER, len(original)) in progress  # the third request counts from there
    assert _leftovers(dest.parent) == []


def test_server_ignoring_range_gets_a_fresh_download(
    start_service: Callable[..., Running], tmp_path: Path
) -> None:
    service = start_service()
    me = service.account("pro", 100)
    dest = tmp_path / "movie.mp4"

    async def main() -> tuple[Job, list[Seen]]:
        proxy = await CuttingProxy(*_upstream(service)).start()
        try:
            async with pf_client(proxy.url, me.test_key, tmp_path) as pf:
                job = await _completed_job(pf)
                proxy.plans = [CUT, NO_RANGE]
                await pf.download_output(job, dest)
                return job, proxy.seen
        finally:
            await proxy.close()

    job, seen = asyncio.run(main())
    assert [(s.behaviour, s.status) for s in seen] == [(CUT, 200), (NO_RANGE, 200)]
    assert seen[1].range == f"bytes={CUT_AFTER}-"  # asked for, but the "server" never saw it
    assert dest.read_bytes() == _output_file(service, job).read_bytes()


def test_output_changed_since_the_cut_is_downloaded_whole(
    start_service: Callable[..., Running], tmp_path: Path
) -> None:
    service = start_service()
    me = service.account("pro", 100)
    dest = tmp_path / "movie.mp4"
    replaced: list[bytes] = []

    async def main() -> list[Seen]:
        proxy = await CuttingProxy(*_upstream(service)).start()
        output: Path | None = None

        def rewrite_output(notice: WaitNotice) -> None:
            # Between the cut and the resume the service's file changes (same size, new
            # bytes, new mtime): the old prefix must not be spliced onto it.
            assert output is not None
            data = bytes(b ^ 0xFF for b in output.read_bytes())
            output.write_bytes(data)
            stat = output.stat()
            os.utime(output, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
            replaced.append(data)

        try:
            async with pf_client(proxy.url, me.test_key, tmp_path, on_wait=rewrite_output) as pf:
                job = await _completed_job(pf)
                output = _output_file(service, job)
                proxy.plans = [CUT]
                await pf.download_output(job, dest)
                return proxy.seen
        finally:
            await proxy.close()

    seen = asyncio.run(main())
    assert [(s.behaviour, s.range, s.status) for s in seen] == [
        (CUT, None, 200),
        ("pass", f"bytes={CUT_AFTER}-", 200),  # If-Range did not match: the whole new file
    ]
    assert len(replaced) == 1 and dest.read_bytes() == replaced[0]


def test_a_later_call_resumes_a_download_that_gave_up(
    start_service: Callable[..., Running], tmp_path: Path
) -> None:
    service = start_service()
    me = service.account("pro", 100)
    dest = tmp_path / "movie.mp4"

    async def main() -> tuple[Job, list[str], list[Seen]]:
        proxy = await CuttingProxy(*_upstream(service)).start()
        try:
            async with pf_client(proxy.url, me.test_key, tmp_path, max_tries=1) as pf:
                job = await _completed_job(pf)
                proxy.plans = [CUT]
                with pytest.raises(ApiError) as caught:
                    await pf.download_output(job, dest)
                assert caught.value.code == "NETWORK_CONNECTION_LOST"
                kept = _leftovers(tmp_path)
                await pf.download_output(job, dest)
                return job, kept, proxy.seen
        finally:
            await proxy.close()

    job, kept, seen = asyncio.run(main())
    assert len(kept) == 2 and kept[0].endswith(".part") and kept[1].endswith(".part.json")
    assert not (tmp_path / "movie.mp4").exists() or dest.read_bytes()
    assert [(s.range, s.status) for s in seen] == [(None, 200), (f"bytes={CUT_AFTER}-", 206)]
    assert dest.read_bytes() == _output_file(service, job).read_bytes()
    assert _leftovers(tmp_path) == []


def test_output_endpoint_answers_single_ranges(
    start_service: Callable[..., Running], tmp_path: Path
) -> None:
    service = start_service()
    me = service.account("pro", 100)

    async def main() -> Job:
        async with pf_client(service.url, me.test_key, tmp_path) as pf:
            return await _completed_job(pf)

    job = asyncio.run(main())
    data = _output_file(service, job).read_bytes()
    url = f"{service.url}/api/jobs/{job.job_id}/output"
    key = {"x-api-key": me.test_key}
    whole = httpx.get(url, headers=key)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    etag = whole.headers["etag"]
    part = httpx.get(url, headers={**key, "Range": "bytes=100-", "If-Range": etag})
    assert part.status_code == 206 and part.content == data[100:]
    assert part.headers["content-range"] == f"bytes 100-{len(data) - 1}/{len(data)}"
    stale = httpx.get(url, headers={**key, "Range": "bytes=100-", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == data
    beyond = httpx.get(url, headers={**key, "Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"
