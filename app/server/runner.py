"""Run the service: in a background thread (studio, tests) or in the foreground (`serve`).

The listening socket is bound before uvicorn starts, so port 0 works (the OS picks a free port)
and the real URL is known at once: `ServiceThread.url`, or the first line `serve` prints.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from app.server.api import Service
from app.server.app import create_app
from app.server.config import ServiceConfig
from app.server.jobs import prepare_rendering


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose
    # `proto` says TCP; with 0 every small response waits for a delayed ACK (~40 ms each).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def make_server(app: Starlette, *, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=5,
        access_log=log_level in ("debug", "info"),
    )
    return uvicorn.Server(config)


class ServiceThread:
    """The service on 127.0.0.1 (port 0 by default) in a background thread.

    with ServiceThread(ServiceConfig(data_dir=tmp, port=0)) as service:
        httpx.get(service.url + "/api/render/schema")
    """

    def __init__(self, config: ServiceConfig, *, log_level: str = "warning") -> None:
        self.config = config
        prepare_rendering()
        self.app = create_app(config)
        self._server = make_server(self.app, log_level=log_level)
        self._socket = bind_socket(config.host, config.port)
        self.url = url_of(self._socket)
        self._thread = threading.Thread(target=self._run, name="reelsmith-service", daemon=True)
        self._error: BaseException | None = None

    @property
    def service(self) -> Service:
        """The running service (store, runner, limiter, config): for tests and the studio."""
        service: Service = self.app.state.service
        return service

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # reported by start()/stop()
            self._error = exc

    def start(self, timeout: float = 15.0) -> ServiceThread:
        self._thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not self._server.started and self._thread.is_alive() and waited < timeout:
            deadline.wait(0.01)
            waited += 0.01
        if not self._server.started:
            self.stop()
            raise RuntimeError(f"the service did not start: {self._error or 'timeout'}")
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Graceful shutdown: stop accepting, finish requests, stop the runner, close the DB."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> ServiceThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
