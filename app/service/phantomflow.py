"""The studio's async client for PhantomFlow-compatible render servers (contract:
shared/spec/phantomflow-api.md).

Every call has a timeout, goes through the retry policy of §7, feeds the account state from the
rate-limit headers, and fails with an `ApiError`. Features a hosted server may not offer (§0) are
detected on first use, remembered per (base URL, key), and refused locally from then on with
`NotOffered`, so the studio can hide the action instead of showing the same error again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from app.script.schema import Schema, SchemaError, bundled_schema, set_active_schema
from app.service.errors import (
    UNEXPECTED_RESPONSE,
    Action,
    ApiError,
    Category,
    NotOffered,
    error_from_transport,
    parse_error,
)
from app.service.keys import KeyMode, key_mode, mask_key
from app.service.limits import AccountSnapshot, AccountState, RateLimit
from app.service.redact import remember_secret
from app.service.retry import (
    OnWait,
    RequestKind,
    Retrier,
    RetryPolicy,
    Sleep,
    WaitNotice,
    WaitReason,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)
DOWNLOAD_CHUNK = 256 * 1024
LOCAL_POLL_SECONDS = 2.0
HOSTED_POLL_SECONDS = 5.0
DEFAULT_SLOT_WAIT = 5.0
# Jobs created this long before the send still count as "maybe ours" (clock skew).
SUBMISSION_CLOCK_SLACK = 30.0
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
ACTIVE_STATUSES = ("queued", "rendering")


def _client_version() -> str:
    try:
        return metadata.version("reelsmith")
    except metadata.PackageNotFoundError:
        return "dev"


class Feature(StrEnum):
    """The project-decision (P) features a hosted server may lack (§0)."""

    JOB_READ = "job_read"
    JOB_CANCEL = "job_cancel"
    OUTPUT = "output_download"
    TEMPLATE_READ = "template_read"
    TEMPLATE_UPDATE = "template_update"
    TEMPLATE_DELETE = "template_delete"
    ACCOUNT = "account"


# (base URL, key fingerprint) → features the server answered "not offered" for. Lives for the
# process: the spec keeps it until the app restarts or the server settings change.
_not_offered: dict[tuple[str, str], set[Feature]] = {}


def forget_not_offered(base_url: str | None = None) -> None:
    """Forget remembered degradations (server settings changed), for one server or all."""
    if base_url is None:
        _not_offered.clear()
        return
    base = base_url.rstrip("/")
    for scope in [s for s in _not_offered if s[0] == base]:
        del _not_offered[scope]


# ---------------------------------------------------------------------------------------------
# Typed results


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class JobError(_Model):
    code: str
    message: str = ""


class Job(_Model):
    """A render job as the server reports it (§2.5); missing fields read as null."""

    job_id: str
    status: str
    progress: float | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    estimated_credits: int | None = None
    credits_used: int | None = None
    duration_seconds: float | None = None
    output_url: str | None = None
    error: JobError | None = None
    template_id: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def error_value(self) -> ApiError | None:
        """A failed job's `error` as an `ApiError` (category render for RENDER_FAILED)."""
        if self.error is None:
            return None
        status = 500 if self.error.code in ("RENDER_FAILED", "INTERNAL_ERROR") else None
        return ApiError(
            code=self.error.code,
            message=self.error.message or "The render failed.",
            status=status,
            job_id=self.job_id,
        )


class JobPage(_Model):
    jobs: list[Job]
    next_cursor: str | None = None


class RenderAccepted(_Model):
    """The 202 of a submission (also the answer to an idempotent replay)."""

    job_id: str
    status: str
    estimated_credits: int | None = None
    credits_remaining: int | None = None
    idempotency_key: str
    replayed: bool = False


class Template(_Model):
    id: str
    name: str
    is_public: bool = False
    owner: str | None = None
    variables: list[str] = []
    created_at: str | None = None
    updated_at: str | None = None
    script: dict[str, Any] | None = None


class RateLimitInfo(_Model):
    limit: int
    remaining: int
    reset: int | None = None


class Concurrency(_Model):
    limit: int | None = None
    active: int | None = None


class Account(_Model):
    """`GET /api/account`, or the same shape filled from headers when the server lacks it."""

    plan: str | None = None
    credits_balance: int | None = None
    key_mode: KeyMode = KeyMode.UNKNOWN
    rate_limit: RateLimitInfo | None = None
    concurrency: Concurrency | None = None
    webhook_secret: SecretStr | None = None
    # False when the server has no account endpoint and the figures come from headers.
    from_endpoint: bool = True


class SubmissionUncertain(ApiError):
    """A submission failed ambiguously: it may have created (and billed) a job.

    Not resent automatically. `candidates` lists jobs created since the send (if the lookup
    worked); resending with `idempotency_key` is safe only when `safe_to_resend` is true.
    """

    def __init__(
        self,
        cause: ApiError,
        *,
        idempotency_key: str,
        candidates: Sequence[Job],
        lookup_failed: bool,
        safe_to_resend: bool,
    ) -> None:
        super().__init__(
            code=cause.code,
            status=cause.status,
            message=f"The submission may have gone through. {cause.message}",
            request_id=cause.request_id,
            retry_after=cause.retry_after,
            raw=cause.raw,
            method=cause.method,
            url=cause.url,
            never_reached=cause.never_reached,
            category=Category.TRANSIENT,
            actions=(Action.CHECK_SUBMISSIONS, Action.REFRESH, Action.COPY_DETAILS),
        )
        self.attempts = cause.attempts
        self.cause = cause
        self.idempotency_key = idempotency_key
        self.candidates = tuple(candidates)
        self.lookup_failed = lookup_failed
        self.safe_to_resend = safe_to_resend


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


ProgressCallback = Callable[[int, int | None], None]
JobCallback = Callable[[Job], None]


class PhantomFlowClient:
    """One server, one key. Use as `async with PhantomFlowClient(...) as client:`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        cache_dir: Path | None = None,
        sleep: Sleep = asyncio.sleep,
        retry_policy: RetryPolicy | None = None,
        on_wait: OnWait | None = None,
        account_state: AccountState | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key.strip()
        remember_secret(self._key)
        self._fingerprint = hashlib.sha256(self._key.encode()).hexdigest()[:16]
        self._cache_dir = cache_dir
        self._sleep = sleep
        self._clock = clock
        self.account_state = account_state or AccountState(key_mode(self._key))
        self.retrier = Retrier(retry_policy, sleep=sleep, on_wait=on_wait, clock=clock)
        self._single_try = Retrier(RetryPolicy(max_tries=1), sleep=sleep, clock=clock)
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self._timeout,
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": f"Reelsmith/{_client_version()}"},
        )
        # The server proved it honours Idempotency-Key by echoing it (§2.1).
        self.echoes_idempotency_key = False
        # Why the last fetch_schema fell back to a cached or bundled copy (None if it did not).
        self.schema_fallback_reason: ApiError | SchemaError | None = None

    def __repr__(self) -> str:
        return f"PhantomFlowClient({self.base_url!r}, key={mask_key(self._key)!r})"

    async def __aenter__(self) -> PhantomFlowClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def key_mode(self) -> KeyMode:
        return key_mode(self._key)

    @property
    def masked_key(self) -> str:
        return mask_key(self._key)

    @property
    def poll_base_interval(self) -> float:
        """2 s for the local service, 5 s for hosted servers (§7)."""
        return LOCAL_POLL_SECONDS if _is_loopback(self.base_url) else HOSTED_POLL_SECONDS

    # -- degradation --------------------------------------------------------------------------

    @property
    def _scope(self) -> tuple[str, str]:
        return self.base_url, self._fingerprint

    def is_offered(self, feature: Feature) -> bool:
        """False once the server answered that it does not offer `feature`."""
        return feature not in _not_offered.get(self._scope, set())

    def _remember_not_offered(self, feature: Feature) -> None:
        _not_offered.setdefault(self._scope, set()).add(feature)

    # -- the request core ---------------------------------------------------------------------

    def _observe(self, response: httpx.Response, idempotency_key: str | None) -> None:
        self.account_state.update_from_headers(response.headers)
        if idempotency_key is not None:
            echoed = response.headers.get("idempotency-key")
            if echoed is not None and echoed == idempotency_key:
                self.echoes_idempotency_key = True

    def _error_for(self, response: httpx.Response, feature: Feature | None) -> ApiError:
        error = parse_error(response)
        if feature is not None and response.status_code in (404, 405, 501) and not error.enveloped:
            self._remember_not_offered(feature)
            return NotOffered(
                feature.value,
                status=response.status_code,
                request_id=error.request_id,
                raw=error.raw,
                method=error.method,
                url=error.url,
            )
        return error

    async def _send(
        self,
        method: str,
        path: str,
        *,
        kind: RequestKind,
        expect: tuple[int, ...] = (200,),
        feature: Feature | None = None,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        with_key: bool = True,
        retrier: Retrier | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        if feature is not None and not self.is_offered(feature):
            raise NotOffered(feature.value, method=method, url=self.base_url + path)
        request_headers = dict(headers or {})
        if with_key:
            request_headers["x-api-key"] = self._key
        if idempotency_key is not None:
            request_headers["Idempotency-Key"] = idempotency_key
        if content is not None:
            request_headers.setdefault("Content-Type", "application/json")

        async def attempt() -> httpx.Response:
            try:
                response = await self._http.request(
                    method,
                    path,
                    params=params,
                    json=json_body,
                    content=content,
                    headers=request_headers,
                )
            except httpx.TransportError as exc:
                raise error_from_transport(exc, method=method, url=self.base_url + path) from exc
            self._observe(response, idempotency_key)
            if response.status_code in expect:
                return response
            raise self._error_for(response, feature)

        return await (retrier or self.retrier).run(
            attempt, kind=kind, idempotency_confirmed=lambda: self.echoes_idempotency_key
        )

    @staticmethod
    def _parse[M: BaseModel](model: type[M], response: httpx.Response, **extra: Any) -> M:
        try:
            data = response.json()
            if extra:
                if not isinstance(data, dict):
                    raise ValueError("not an object")
                data = {**data, **extra}
            return model.model_validate(data)
        except (ValueError, ValidationError) as exc:
            raise ApiError(
                code=UNEXPECTED_RESPONSE,
                message=f"The server's answer does not look like a {model.__name__}: {exc}",
                status=response.status_code,
                raw=response.text,
                method=response.request.method,
                url=str(response.request.url),
                request_id=response.headers.get("x-request-id"),
            ) from exc

    # -- schema -------------------------------------------------------------------------------

    def _schema_cache_file(self) -> Path:
        if self._cache_dir is not None:
            folder = self._cache_dir
        else:
            from app.paths import cache_dir

            folder = cache_dir() / "schemas"
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(self.base_url.encode()).hexdigest()[:16]
        return folder / f"phantomflow-{digest}.json"

    def _read_cached_schema(self, path: Path) -> Schema | None:
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            etag = entry.get("etag")
            return Schema(
                entry["document"],
                source=f"{self.base_url} (cached)",
                etag=etag if isinstance(etag, str) else None,
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, SchemaError) as exc:
            log.warning("ignoring unusable schema cache %s: %s", path, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    @staticmethod
    def _write_atomically(path: Path, data: bytes) -> None:
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    async def fetch_schema(self, *, activate: bool = True) -> Schema:
        """The server's movie-script schema, revalidated against the disk cache by ETag.

        On any failure the cached copy (or else the bundled one) is returned and the reason kept
        in `schema_fallback_reason`. With `activate`, the result becomes the active schema.
        """
        cache_file = self._schema_cache_file()
        cached = self._read_cached_schema(cache_file)
        headers = {"Accept": "application/schema+json, application/json"}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        self.schema_fallback_reason = None
        schema: Schema
        try:
            # No key: the endpoint is public and a keyed call would count against the window.
            response = await self._send(
                "GET",
                "/api/render/schema",
                kind=RequestKind.SAFE,
                expect=(200, 304),
                headers=headers,
                with_key=False,
            )
            if response.status_code == 304 and cached is not None:
                schema = cached
            elif response.status_code == 304:
                raise ApiError(
                    code=UNEXPECTED_RESPONSE,
                    message="The server answered 304 to a request without a cached copy.",
                    status=304,
                )
            else:
                etag = response.headers.get("etag")
                schema = Schema.from_text(response.content, source=self.base_url, etag=etag)
                entry = {"etag": etag, "base_url": self.base_url, "document": schema.document}
                try:
                    self._write_atomically(cache_file, json.dumps(entry).encode("utf-8"))
                except OSError as exc:
                    log.warning("could not cache the schema: %s", exc)
        except (ApiError, SchemaError) as exc:
            self.schema_fallback_reason = exc
            log.warning("schema fetch failed, using %s copy: %s", cached and "cached", exc)
            schema = cached if cached is not None else bundled_schema()
        if activate:
            set_active_schema(schema)
        return schema

    # -- render -------------------------------------------------------------------------------

    async def render(
        self,
        script: Mapping[str, Any] | str | bytes,
        *,
        idempotency_key: str | None = None,
        wait_for_slot: float = 0.0,
    ) -> RenderAccepted:
        """Submit a movie script (`POST /api/render`).

        `script` may be the editor's JSON text, sent as is. `wait_for_slot` > 0 parks the
        submission while the concurrency limit is reached and resubmits it with the same key
        (§7 "Queue it"); cancelling the task abandons it.
        """
        if isinstance(script, str):
            body = script.encode("utf-8")
        elif isinstance(script, bytes):
            body = script
        else:
            body = json.dumps(script, ensure_ascii=False).encode("utf-8")
        return await self._submit("/api/render", body, idempotency_key, wait_for_slot)

    async def render_template(
        self,
        template_id: str,
        variables: Mapping[str, Any] | None = None,
        webhook_uri: str | None = None,
        idempotency_key: str | None = None,
        *,
        wait_for_slot: float = 0.0,
    ) -> RenderAccepted:
        """Render a stored template with `{{name}}` variables (`POST /api/render/template`)."""
        payload: dict[str, Any] = {"template_id": template_id, "variables": dict(variables or {})}
        if webhook_uri is not None:
            payload["webhook_uri"] = webhook_uri
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return await self._submit("/api/render/template", body, idempotency_key, wait_for_slot)

    async def _submit(
        self, path: str, body: bytes, idempotency_key: str | None, wait_for_slot: float
    ) -> RenderAccepted:
        key = idempotency_key or str(uuid.uuid4())
        sent_at = time.time()
        slot_deadline = self._clock() + wait_for_slot
        while True:
            try:
                response = await self._send(
                    "POST",
                    path,
                    kind=RequestKind.SUBMIT,
                    expect=(200, 201, 202),
                    content=body,
                    idempotency_key=key,
                )
            except ApiError as error:
                left = slot_deadline - self._clock()
                if error.is_concurrency_limit and left > 0:
                    delay = min(error.retry_after or DEFAULT_SLOT_WAIT, left)
                    notice = WaitNotice(delay, WaitReason.SLOT, 0, 0, error)
                    if self.retrier.on_wait is not None:
                        self.retrier.on_wait(notice)
                    await self._sleep(delay)
                    continue
                if error.ambiguous:
                    raise await self._uncertain(error, key, sent_at) from error
                raise
            accepted = self._parse(
                RenderAccepted,
                response,
                idempotency_key=key,
                replayed=response.headers.get("idempotent-replayed", "").lower() == "true",
            )
            if accepted.credits_remaining is not None:
                self.account_state.update_credits(accepted.credits_remaining)
            return accepted

    async def _uncertain(self, error: ApiError, key: str, sent_at: float) -> SubmissionUncertain:
        """Look for jobs created since the send, so the user can see whether it went through."""
        if self.echoes_idempotency_key:
            return SubmissionUncertain(
                error, idempotency_key=key, candidates=(), lookup_failed=False, safe_to_resend=True
            )
        candidates: list[Job] = []
        lookup_failed = False
        try:
            response = await self._send(
                "GET",
                "/api/jobs",
                kind=RequestKind.SAFE,
                params={"limit": 20},
                retrier=self._single_try,
            )
            page = self._parse(JobPage, response)
            threshold = sent_at - SUBMISSION_CLOCK_SLACK
            candidates = [j for j in page.jobs if _iso_to_epoch(j.created_at) >= threshold]
        except ApiError:
            lookup_failed = True
        return SubmissionUncertain(
            error,
            idempotency_key=key,
            candidates=candidates,
            lookup_failed=lookup_failed,
            safe_to_resend=False,
        )

    # -- jobs ---------------------------------------------------------------------------------

    async def list_jobs(
        self,
        status: str | Sequence[str] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JobPage:
        """One page of jobs, newest first (`GET /api/jobs`)."""
        params: dict[str, str | int] = {}
        if status is not None:
            params["status"] = status if isinstance(status, str) else ",".join(status)
        if limit is not None:
            params["limit"] = limit
        if cursor is not None:
            params["cursor"] = cursor
        response = await self._send("GET", "/api/jobs", kind=RequestKind.SAFE, params=params)
        return self._parse(JobPage, response)

    async def get_job(self, job_id: str) -> Job:
        """One job; on a server without single-job reads, found through the job list."""
        if self.is_offered(Feature.JOB_READ):
            try:
                response = await self._send(
                    "GET", f"/api/jobs/{job_id}", kind=RequestKind.SAFE, feature=Feature.JOB_READ
                )
                return self._parse(Job, response)
            except NotOffered:
                pass
        return await self._find_in_list(job_id)

    async def _find_in_list(self, job_id: str, max_pages: int = 5) -> Job:
        cursor: str | None = None
        for _ in range(max_pages):
            page = await self.list_jobs(limit=100, cursor=cursor)
            for job in page.jobs:
                if job.job_id == job_id:
                    return job
            cursor = page.next_cursor
            if cursor is None:
                break
        raise ApiError(code="NOT_FOUND", message="Job not found", status=404, job_id=job_id)

    async def cancel_job(self, job_id: str) -> Job:
        """Cancel a queued or rendering job (`DELETE /api/jobs/{id}`); 409 if already over."""
        response = await self._send(
            "DELETE", f"/api/jobs/{job_id}", kind=RequestKind.SAFE, feature=Feature.JOB_CANCEL
        )
        return self._parse(Job, response)

    async def wait_for_job(
        self,
        job_id: str,
        *,
        on_progress: JobCallback | None = None,
        interval: float | None = None,
        timeout: float | None = None,
    ) -> Job:
        """Poll until the job is terminal and return it (a failed job is returned, not raised).

        The interval doubles while under 20 % of the rate window is left; 429s are waited out by
        the retry policy. `on_progress` is called whenever status or progress changes.
        """
        base = interval if interval is not None else self.poll_base_interval
        deadline = None if timeout is None else self._clock() + timeout
        last: tuple[str, float | None] | None = None
        while True:
            job = await self.get_job(job_id)
            state = (job.status, job.progress)
            if state != last and on_progress is not None:
                on_progress(job)
            last = state
            if job.is_terminal:
                return job
            if deadline is not None and self._clock() >= deadline:
                raise ApiError(
                    code="JOB_WAIT_TIMEOUT",
                    message=f"The job did not finish within {timeout:g} s.",
                    job_id=job_id,
                    category=Category.WAIT,
                    actions=(Action.REFRESH, Action.COPY_DETAILS),
                )
            await self._sleep(self.account_state.poll_interval(base))

    async def download_output(
        self,
        job: Job,
        dest: Path,
        on_progress: ProgressCallback | None = None,
    ) -> Path:
        """Stream a completed job's output to `dest` through a temp file beside it.

        The temp file has its own `.part` name and is renamed only once complete (length
        checked), so an interrupted download never looks like an output. `x-api-key` is sent
        only to the API's own origin, never to a CDN.
        """
        if not job.output_url:
            raise ApiError(
                code="INVALID_STATE",
                status=None,
                message=f"Job {job.job_id} has no output (status {job.status}).",
                job_id=job.job_id,
            )
        output_url = urljoin(self.base_url + "/", job.output_url)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)

        async def attempt() -> Path:
            temp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
            try:
                await self._stream_to(output_url, temp, on_progress)
                os.replace(temp, dest)
                return dest
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()

        try:
            return await self.retrier.run(attempt, kind=RequestKind.SAFE)
        except ApiError as error:
            error.job_id = error.job_id or job.job_id
            raise

    async def _stream_to(self, url: str, temp: Path, on_progress: ProgressCallback | None) -> None:
        own_origin = _origin(self.base_url)
        for _hop in range(6):
            same_origin = _origin(url) == own_origin
            headers = {"x-api-key": self._key} if same_origin else {}
            feature = Feature.OUTPUT if same_origin else None
            if feature is not None and not self.is_offered(feature):
                raise NotOffered(feature.value, method="GET", url=url)
            try:
                async with self._http.stream(
                    "GET", url, headers=headers, timeout=self._download_timeout()
                ) as response:
                    if same_origin:
                        self._observe(response, None)
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        await response.aread()
                        raise self._error_for(response, feature)
                    await self._write_body(response, temp, on_progress)
                    return
            except httpx.TransportError as exc:
                raise error_from_transport(exc, method="GET", url=url) from exc
        raise ApiError(
            code=UNEXPECTED_RESPONSE, message="Too many redirects for the output.", url=url
        )

    def _download_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self._timeout.connect,
            read=max(self._timeout.read or 0.0, 60.0),
            write=self._timeout.write,
            pool=self._timeout.pool,
        )

    @staticmethod
    async def _write_body(
        response: httpx.Response, temp: Path, on_progress: ProgressCallback | None
    ) -> None:
        total_header = response.headers.get("content-length")
        total = int(total_header) if total_header and total_header.isdigit() else None
        received = 0
        with open(temp, "wb") as handle:
            if on_progress is not None:
                on_progress(0, total)
            async for chunk in response.aiter_raw(DOWNLOAD_CHUNK):
                handle.write(chunk)
                received += len(chunk)
                if on_progress is not None:
                    on_progress(received, total)
            handle.flush()
            os.fsync(handle.fileno())
        if total is not None and received != total:
            raise ApiError(
                code="NETWORK_CONNECTION_LOST",
                message=f"The download stopped after {received} of {total} bytes.",
                method="GET",
                url=str(response.request.url),
            )

    # -- templates ----------------------------------------------------------------------------

    async def list_templates(self) -> list[Template]:
        """Own templates plus every public one (`GET /api/templates`)."""
        response = await self._send("GET", "/api/templates", kind=RequestKind.SAFE)
        try:
            items = response.json()["templates"]
            return [Template.model_validate(item) for item in items]
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise ApiError(
                code=UNEXPECTED_RESPONSE,
                message=f"The server's template list is not in the expected shape: {exc}",
                status=response.status_code,
                raw=response.text,
            ) from exc

    async def get_template(self, template_id: str) -> Template:
        response = await self._send(
            "GET",
            f"/api/templates/{template_id}",
            kind=RequestKind.SAFE,
            feature=Feature.TEMPLATE_READ,
        )
        return self._parse(Template, response)

    async def create_template(
        self, name: str, script: Mapping[str, Any], *, is_public: bool = False
    ) -> Template:
        """Create a template; never re-sent after an ambiguous failure (§7)."""
        response = await self._send(
            "POST",
            "/api/templates",
            kind=RequestKind.UNSAFE,
            expect=(200, 201),
            json_body={"name": name, "script": dict(script), "is_public": is_public},
        )
        return self._parse(Template, response)

    async def update_template(
        self,
        template_id: str,
        *,
        name: str | None = None,
        script: Mapping[str, Any] | None = None,
        is_public: bool | None = None,
    ) -> Template:
        """Change any subset of name, script and visibility (`PUT /api/templates/{id}`)."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if script is not None:
            body["script"] = dict(script)
        if is_public is not None:
            body["is_public"] = is_public
        if not body:
            raise ValueError("update_template needs at least one field to change")
        response = await self._send(
            "PUT",
            f"/api/templates/{template_id}",
            kind=RequestKind.UNSAFE,
            feature=Feature.TEMPLATE_UPDATE,
            json_body=body,
        )
        return self._parse(Template, response)

    async def delete_template(self, template_id: str) -> None:
        """Delete a template; a 404 after a retried DELETE means the first one landed."""
        tries = 0

        async def attempt() -> None:
            nonlocal tries
            tries += 1
            try:
                await self._send(
                    "DELETE",
                    f"/api/templates/{template_id}",
                    kind=RequestKind.SAFE,
                    expect=(200, 204),
                    feature=Feature.TEMPLATE_DELETE,
                    retrier=self._single_try,
                )
            except ApiError as error:
                if tries > 1 and error.status == 404 and not isinstance(error, NotOffered):
                    return
                raise

        await self.retrier.run(attempt, kind=RequestKind.SAFE)

    # -- account ------------------------------------------------------------------------------

    async def account(self) -> Account:
        """The account (`GET /api/account`), or what the headers told us if it is not offered."""
        if self.is_offered(Feature.ACCOUNT):
            try:
                response = await self._send(
                    "GET", "/api/account", kind=RequestKind.SAFE, feature=Feature.ACCOUNT
                )
            except NotOffered:
                pass
            else:
                account = self._parse(Account, response)
                if account.webhook_secret is not None:
                    remember_secret(account.webhook_secret.get_secret_value())
                self._record_account(account)
                return account
        return self._account_from_state(self.account_state.snapshot)

    def _record_account(self, account: Account) -> None:
        rate = account.rate_limit
        self.account_state.update_from_account(
            plan=account.plan,
            credits_balance=account.credits_balance,
            key_mode=account.key_mode,
            rate_limit=RateLimit(rate.limit, rate.remaining, rate.reset) if rate else None,
            concurrency_limit=account.concurrency.limit if account.concurrency else None,
            concurrency_active=account.concurrency.active if account.concurrency else None,
        )

    def _account_from_state(self, snap: AccountSnapshot) -> Account:
        rate = snap.rate_limit
        return Account(
            plan=snap.plan,
            credits_balance=snap.credits_balance,
            key_mode=snap.key_mode if snap.key_mode is not KeyMode.UNKNOWN else self.key_mode,
            rate_limit=(
                RateLimitInfo(limit=rate.limit, remaining=rate.remaining, reset=rate.reset)
                if rate
                else None
            ),
            concurrency=(
                Concurrency(limit=snap.concurrency_limit, active=snap.concurrency_active)
                if snap.concurrency_limit is not None or snap.concurrency_active is not None
                else None
            ),
            from_endpoint=False,
        )


def _iso_to_epoch(value: str | None) -> float:
    """`2025-05-04T09:30:12Z` → Unix seconds; unparseable or missing → +inf (keep as candidate)."""
    if not value:
        return float("inf")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


__all__ = [
    "Account",
    "Feature",
    "Job",
    "JobError",
    "JobPage",
    "PhantomFlowClient",
    "RenderAccepted",
    "SubmissionUncertain",
    "Template",
    "forget_not_offered",
]
