"""The real local service on loopback, and a small TCP proxy that injects network faults.

The proxy sits between the client and the service and, per request, either relays it, relays it
to the service but loses the answer (the job exists, the client never hears of it), stalls after
relaying, or answers itself with a proxy's HTML error page.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.server.config import ServiceConfig
from app.server.runner import ServiceThread
from app.server.store import NewAccount, Store


@dataclass
class Running:
    thread: ServiceThread

    @property
    def url(self) -> str:
        return self.thread.url

    @property
    def config(self) -> ServiceConfig:
        return self.thread.config

    @property
    def store(self) -> Store:
        return self.thread.service.store

    def account(self, plan: str = "pro", credits: int = 1000, **limits: int) -> NewAccount:
        return self.store.create_account(
            plan,
            credits,
            rate_limit=limits.get("rate_limit"),
            concurrency_limit=limits.get("concurrency_limit"),
        )


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(**overrides: Any) -> Running:
        settings: dict[str, Any] = {"create_default_account": False, "port": 0}
        settings.update(overrides)
        folder = tmp_path / f"service-{len(started)}"
        running = Running(ServiceThread(ServiceConfig(data_dir=folder, **settings)).start())
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        running.thread.stop()


@pytest.fixture
def held(start_service: Callable[..., Running]) -> Running:
    """Render slots never take a job: submitted jobs stay `queued` (reserved, never settled)."""
    return start_service(start_gate=threading.Event())


PASS = "pass"
DROP = "drop"  # relay the request, read the service's answer, close without relaying it
STALL = "stall"  # relay the request, then never answer (until the client hangs up)
HTML_502 = "html502"  # answer with a proxy error page; the service never sees the request
HTML_500 = "html500"


def _html(status: int, reason: str) -> bytes:
    page = f"<html><head><title>{status} {reason}</title></head><body>nginx</body></html>"
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html\r\n"
        f"Content-Length: {len(page)}\r\nConnection: close\r\n\r\n{page}"
    ).encode()


@dataclass
class FaultProxy:
    """One request per connection (it forces `Connection: close`), faults chosen per request."""

    upstream_host: str
    upstream_port: int
    # (method, path prefix) → behaviours used in turn; when used up, requests pass.
    plans: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    seen: list[tuple[str, str, str]] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def plan(self, method: str, path_prefix: str, *behaviours: str) -> None:
        self.plans[(method, path_prefix)] = list(behaviours)

    def _behaviour(self, method: str, path: str) -> str:
        for (m, prefix), queue in self.plans.items():
            if m == method and path.startswith(prefix) and queue:
                return queue.pop(0)
        return PASS

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = [line for line in lines[1:] if line]
            length = 0
            for line in headers:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            behaviour = self._behaviour(method, path)
            self.seen.append((method, path, behaviour))
            if behaviour == HTML_502:
                writer.write(_html(502, "Bad Gateway"))
                await writer.drain()
                return
            if behaviour == HTML_500:
                writer.write(_html(500, "Internal Server Error"))
                await writer.drain()
                return
            kept = [h for h in headers if h.split(":", 1)[0].strip().lower() != "connection"]
            request = "\r\n".join([lines[0], *kept, "Connection: close", "", ""]).encode("latin-1")
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
            up_writer.write(request + body)
            await up_writer.drain()
            answer = await up_reader.read()  # until the service closes (Connection: close)
            up_writer.close()
            if behaviour == DROP:
                return  # the service did the work; the client only sees the connection drop
            if behaviour == STALL:
                await reader.read()  # hold the answer until the client gives up and hangs up
                return
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
