"""The HTTP plumbing every route set shares: the error envelope, the service container, and the
`keyed` wrapper that runs the contract's common checks in order (key → rate limit → body).

Route handlers are plain functions run in a worker thread (they touch SQLite and validate
scripts, which must never block the event loop), except the job-status reads that pollers call
many times a second, which run inline (see `keyed`); the wrapper does the async parts (reading
the body with its size limit) and turns every outcome, including unexpected exceptions, into
the JSON envelope with the right headers. No traceback ever reaches a client: unexpected errors are
logged with a request id that the response carries too.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.server.config import ServiceConfig
from app.server.jobs import JobRunner
from app.server.limits import RateLimiter, RateState, limits_of
from app.server.store import AuthError, Caller, Store
from app.server.webhooks import WebhookSender

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"


class ApiError(Exception):
    """An error answer: HTTP status, machine code, message and the documented extras."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extras: Any,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extras = extras
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(
            self.status, self.code, self.message, headers=self.headers, **self.extras
        )


def error_response(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extras: Any
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, **extras}}, status, headers=headers
    )


def internal_error(request_id: str) -> JSONResponse:
    return error_response(500, "INTERNAL_ERROR", "Unexpected server error", request_id=request_id)


@dataclass
class Service:
    """Everything a request needs, built once per app; `start`/`stop` run in the lifespan."""

    config: ServiceConfig
    store: Store
    limiter: RateLimiter
    webhooks: WebhookSender
    runner: JobRunner
    started: bool = False
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, config: ServiceConfig) -> Service:
        store = Store(config.db_path)
        webhooks = WebhookSender(store, config)
        runner = JobRunner(store, config, webhooks)
        return cls(config, store, RateLimiter(config.rate_window_seconds), webhooks, runner)

    def start(self) -> None:
        from app.server.accounts import ensure_default_account

        ensure_default_account(self.store, self.config)
        self.store.purge_idempotency(self.config.idempotency_ttl_seconds)
        self.webhooks.start()
        self.runner.start()
        self.started = True

    def stop(self) -> None:
        if self.started:
            self.webhooks.stop()
            self.runner.stop()
            self.started = False
        self.store.close()


@dataclass
class Ctx:
    """One authenticated request, as a handler sees it."""

    request: Request
    service: Service
    caller: Caller
    rate: RateState
    body: bytes = b""

    @property
    def store(self) -> Store:
        return self.service.store

    @property
    def account_id(self) -> str:
        return self.caller.account.id

    @property
    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")


Handler = Callable[[Ctx], Response]

# Request ids: a random per-process prefix and a counter (unique, and no os.urandom per request).
_REQUEST_PREFIX = secrets.token_hex(8)
_request_numbers = itertools.count(1)


def _request_id() -> str:
    return f"{_REQUEST_PREFIX}{next(_request_numbers):016x}"


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than `limit`. An oversized body is still drained
    (not stored) so the client reads our answer instead of a connection reset."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    return b"".join(chunks) if size <= limit else None


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or 413 INVALID_REQUEST when it is (or says it is) larger than `limit`."""
    declared = request.headers.get("content-length")
    body = await read_limited(request, limit)
    if body is None or (declared is not None and declared.isdigit() and int(declared) > limit):
        raise ApiError(
            413,
            "INVALID_REQUEST",
            f"Request body is larger than the {limit // (1024 * 1024)} MiB limit",
        )
    return body


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """Parse a request body; INVALID_JSON (empty body included) with a line/column message."""
    if not body.strip():
        raise ApiError(400, "INVALID_JSON", "Request body is empty; expected JSON")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "INVALID_JSON", f"Request body is not UTF-8: {exc.reason}") from None
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        message = f"{exc.msg}: line {exc.lineno} column {exc.colno}"
        raise ApiError(400, "INVALID_JSON", message) from None
    except ValueError as exc:
        raise ApiError(400, "INVALID_JSON", str(exc)) from None
    except RecursionError:
        raise ApiError(400, "INVALID_JSON", "JSON is nested too deeply") from None


def keyed(
    name: str, *, body: bool = False, inline: bool = False
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler with the common checks: key → rate limit → (body) → handler.

    `name` is the route's name for the fault switch (`ServiceConfig.faults`). `inline` runs the
    key check and the handler on the event loop instead of in the thread pool: only for
    bodiless handlers that do a few indexed SQLite reads and nothing else (job status polling).
    Such reads never wait in WAL mode (readers do not block on the writer, and the only
    checkpoints are passive ones) and take a fraction of a thread hand-off, which costs GIL
    switches between the loop, a worker and every other busy thread (measured: see
    docs/performance.md).
    """

    def decorate(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        def admit(request: Request, service: Service, rate_headers: dict[str, str]) -> Ctx:
            """Key, then rate limit (the rate headers are recorded even when refused)."""
            try:
                caller = service.store.authenticate(request.headers.get("x-api-key"))
            except AuthError as exc:
                raise ApiError(401, "UNAUTHORIZED", str(exc)) from None
            limit, _ = limits_of(caller.account)
            state = service.limiter.hit(caller.account.id, limit)
            rate_headers.update(state.headers())
            if not state.allowed:
                raise ApiError(429, "RATE_LIMIT_EXCEEDED", f"{limit} requests per minute exceeded")
            return Ctx(request, service, caller, state)

        def run(ctx: Ctx) -> Response:
            if name in ctx.service.config.faults:
                raise RuntimeError(f"fault switch '{name}' is on")
            return handler(ctx)

        def admit_and_run(
            request: Request, service: Service, rate_headers: dict[str, str]
        ) -> Response:
            return run(admit(request, service, rate_headers))

        async def endpoint(request: Request) -> Response:
            service: Service = request.app.state.service
            if name in service.config.absent_routes:  # test switch: the unknown-path answer
                return error_response(
                    404, "NOT_FOUND", f"No such endpoint: {request.method} {request.url.path}"
                )
            request_id = _request_id()
            rate_headers: dict[str, str] = {}
            try:
                if body:
                    ctx = await run_in_threadpool(admit, request, service, rate_headers)
                    ctx.body = await read_body(request, service.config.max_body_bytes)
                    response = await run_in_threadpool(run, ctx)
                elif inline:
                    response = admit_and_run(request, service, rate_headers)
                else:
                    # One trip to the thread pool for the whole request: every hop costs a
                    # thread hand-off and GIL switches while the event loop waits.
                    response = await run_in_threadpool(
                        admit_and_run, request, service, rate_headers
                    )
            except ApiError as exc:
                response = exc.response()
            except Exception:
                log.exception("request %s (%s %s) failed", request_id, request.method, name)
                response = internal_error(request_id)
            for header, value in rate_headers.items():
                if header not in response.headers:
                    response.headers[header] = value
            echo = request.headers.get("idempotency-key")
            if echo is not None and "idempotency-key" not in response.headers:
                response.headers["Idempotency-Key"] = echo
            response.headers[REQUEST_ID_HEADER] = request_id
            return response

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return decorate
