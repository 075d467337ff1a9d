"""The local reference service as an ASGI app: `create_app(config)`.

The app owns one `Service` (store, rate limiter, job runner, webhook sender), opened when the
app is built and started/stopped by the lifespan, so `uvicorn`, `ServiceThread` and tests all get
the same start-up (default account, restart reconciliation) and the same clean shutdown.
Anything that escapes a route, including unknown paths and methods, still answers in the JSON
envelope; unexpected exceptions become INTERNAL_ERROR without a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.server import phantomflow_routes, sketchpen_routes
from app.server.api import REQUEST_ID_HEADER, Service, error_response, internal_error
from app.server.config import ServiceConfig
from app.server.stallwatch import StallStats, watch_stalls

log = logging.getLogger(__name__)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return error_response(
            404, "NOT_FOUND", f"No such endpoint: {request.method} {request.url.path}"
        )
    if status == 405:
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        return error_response(
            405,
            "INVALID_REQUEST",
            f"Method {request.method} is not allowed on {request.url.path}",
            headers=headers,
        )
    return error_response(status, "INVALID_REQUEST", str(getattr(exc, "detail", "Bad request")))


async def _unexpected(request: Request, exc: Exception) -> Response:
    request_id = uuid.uuid4().hex
    log.error("request %s failed", request_id, exc_info=exc)
    response = internal_error(request_id)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


def create_app(config: ServiceConfig) -> Starlette:
    """Build the service for `config` (the database is opened now, the runner starts with the
    lifespan). `app.state.service` gives tests and the studio its store and settings."""
    service = Service.open(config)
    service.extras["schema"] = phantomflow_routes.schema_document()
    sketchpen = sketchpen_routes.Sketchpen.open(config)
    stalls = StallStats()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.start()
        sketchpen.start()
        threshold = config.stall_warning_seconds
        watch = (
            asyncio.get_running_loop().create_task(watch_stalls(threshold, stalls))
            if threshold
            else None
        )
        try:
            yield
        finally:
            try:
                if watch is not None:  # before stopping: the runner's stop blocks the loop
                    watch.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watch
            finally:
                sketchpen.stop()
                service.stop()

    app = Starlette(
        routes=phantomflow_routes.routes() + sketchpen_routes.routes(),
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.sketchpen = sketchpen
    return app
