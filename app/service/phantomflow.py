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
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from app.redact import remember_secret
from app.script.schema import Schema, SchemaError, bundled_schema, set_active_schema
from app.service.client import DEFAULT_TIMEOUT, ServiceClient, origin
from app.service.errors import (
    UNEXPECTED_RESPONSE,
    Action,
    ApiError,
    Category,
    NotOffered,
    error_from_transport,
    parse_error,
)
from app.service.keys import KeyMode
from app.service.limits import AccountSnapshot, AccountState, RateLimit
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

LOCAL_POLL_SECONDS = 2.0
HOSTED_POLL_SECONDS = 5.0
DEFAULT_SLOT_WAIT = 5.0
# Jobs created this long before the send still count as "maybe ours" (clock skew).
SUBMISSION_CLOCK_SLACK = 30.0
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
ACTIVE_STATUSES = ("queued", "rendering")
# How many listed job and template ids the client remembers (to tell "deleted" from "not offered").
LISTED_MEMORY = 2000
SLOT_WAIT_ABANDONED = "SLOT_WAIT_ABANDONED"


class Feature(StrEnum):
    """The project-decision (P) features a hosted server may lack (§0)."""

    JOB_READ = "job_read"
    JOB_CANCEL = "job_cancel"
    OUTPUT = "output_download"
    TEMPLATE_READ = "template_read"
    TEMPLATE_UPDATE = "template_update"
    TEMPLATE_DELETE = "template_delete"
    ACCOUNT = "account"


# Endpoints whose path names no resource: any 404 there means the endpoint itself is missing.
_RESOURCELESS = frozenset({Feature.ACCOUNT})


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


class ResourceNotFound(ApiError):
    """404 NOT_FOUND for one job, template or output: it does not exist (any more) or is not ours.

    Distinct from `NotOffered` on purpose: the endpoint exists, this resource does not. When a
    listing had shown the resource (`was_listed`), the client has checked the listing again and
    it no longer shows it either: it was deleted (or purged) meanwhile. Had the listing still
    shown it, the server would not offer the single-resource endpoint (§0) and the client would
    have raised `NotOffered` instead.
    """

    def __init__(self, cause: ApiError, *, resource: str, resource_id: str) -> None:
        super().__init__(
            code=cause.code,
            message=cause.message,
            status=cause.status,
            request_id=cause.request_id,
            raw=cause.raw,
            method=cause.method,
            url=cause.url,
            enveloped=cause.enveloped,
            job_id=resource_id if resource in ("job", "output") else None,
        )
        self.resource = resource
        self.resource_id = resource_id
        self.was_listed = False


class SlotWaitAbandoned(ApiError):
    """The user abandoned a submission that was waiting for a free slot; nothing was created."""

    def __init__(self, idempotency_key: str) -> None:
        super().__init__(
            code=SLOT_WAIT_ABANDONED,
            message="The render was not submitted: waiting for a free slot was abandoned.",
            category=Category.WAIT,
            actions=(Action.QUEUE_FOR_SLOT, Action.CANCEL_A_JOB),
        )
        self.idempotency_key = idempotency_key


@dataclass(frozen=True)
class SlotWait:
    """A submission waiting for a free concurrency slot (§7 "Queue it"), as the studio shows it.

    Announced after every look at the account's slots and before each pause.
    """

    #: The account's queued + rendering jobs at the last look (None before the first look or
    #: when the look failed).
    active: int | None
    #: The plan's concurrency limit, when the server told it (account endpoint).
    limit: int | None
    #: Seconds since the first refusal, and until the next look or resubmission.
    waited: float
    next_check: float
    #: Looks at the slots so far, and submissions refused so far.
    checks: int
    refusals: int
    #: The last CONCURRENCY_LIMIT_EXCEEDED answer.
    error: ApiError

    @property
    def text(self) -> str:
        """ "waiting for a free slot (2/2 busy)…" """
        if self.active is not None and self.limit is not None:
            return f"waiting for a free slot ({self.active}/{self.limit} busy)…"
        if self.active is not None:
            return f"waiting for a free slot ({self.active} busy)…"
        return "waiting for a free slot…"


SlotCallback = Callable[[SlotWait], None]


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


ProgressCallback = Callable[[int, int | None], None]
JobCallback = Callable[[Job], None]


class PhantomFlowClient(ServiceClient):
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
        poll_interval: float | None = None,
    ) -> None:
        self._setup(
            base_url.rstrip("/"),
            api_key,
            timeout=timeout,
            transport=transport,
            sleep=sleep,
            retry_policy=retry_policy,
            on_wait=on_wait,
            account_state=account_state,
            clock=clock,
            relative_urls=True,
        )
        self._poll_interval = poll_interval
        # (kind, id) of jobs and templates seen in listings, oldest first (bounded).
        self._listed: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._cache_dir = cache_dir
        # The server proved it honours Idempotency-Key by echoing it (§2.1).
        self.echoes_idempotency_key = False
        # Why the last fetch_schema fell back to a cached or bundled copy (None if it did not).
        self.schema_fallback_reason: ApiError | SchemaError | None = None

    @property
    def poll_base_interval(self) -> float:
        """2 s for the local service, 5 s for hosted servers (§7), unless set explicitly."""
        if self._poll_interval is not None:
            return self._poll_interval
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

    def _not_offered(self, feature: Feature, error: ApiError) -> NotOffered:
        self._remember_not_offered(feature)
        return NotOffered(
            feature.value,
            status=error.status,
            request_id=error.request_id,
            raw=error.raw,
            method=error.method,
            url=error.url,
        )

    def _error_for(
        self,
        response: httpx.Response,
        feature: Feature | None,
        resource: tuple[str, str] | None = None,
    ) -> ApiError:
        """The error of a failed answer, telling "endpoint not offered" from "resource not found".

        Not offered (§0): 405 or 501 on a P feature; a 404 without the PhantomFlow envelope; any
        404 on an endpoint whose path names no resource (`/api/account`). A 404 in the envelope
        on a resource endpoint is about that resource: `ResourceNotFound` (the caller re-checks
        the listing when it had shown the resource, see `_settle_not_found`).
        """
        error = parse_error(response)
        if feature is None or response.status_code not in (404, 405, 501):
            return error
        if response.status_code != 404 or not error.enveloped or feature in _RESOURCELESS:
            return self._not_offered(feature, error)
        if resource is not None and error.code == "NOT_FOUND":
            found = ResourceNotFound(error, resource=resource[0], resource_id=resource[1])
            found.was_listed = resource in self._listed
            return found
        return error

    def _remember_listed(self, kind: str, ids: Sequence[str]) -> None:
        for resource_id in ids:
            self._listed[(kind, resource_id)] = None
            self._listed.move_to_end((kind, resource_id))
        while len(self._listed) > LISTED_MEMORY:
            self._listed.popitem(last=False)

    async def _settle_not_found(
        self, error: ResourceNotFound, feature: Feature
    ) -> tuple[ApiError, Job | Template | None]:
        """A 404 NOT_FOUND for a resource that a listing had shown: list again.

        Still listed → the server lists it but does not offer `feature` for it: `NotOffered`
        (remembered) and the listed object. Gone from the listing → it was deleted meanwhile:
        the `ResourceNotFound` itself. If the listing cannot be read, NOT_FOUND stands (nothing
        is remembered on a guess).
        """
        if not error.was_listed:
            return error, None
        listed: Job | Template | None
        try:
            if error.resource == "template":
                templates = await self.list_templates()
                listed = next((t for t in templates if t.id == error.resource_id), None)
            else:
                listed = await self._search_list(error.resource_id)
        except ApiError as lookup:
            log.info("could not re-check the listing after a 404: %s", lookup.code)
            return error, None
        if listed is None:
            self._listed.pop((error.resource, error.resource_id), None)
            return error, None
        return self._not_offered(feature, error), listed

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
        resource: tuple[str, str] | None = None,
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
            raise self._error_for(response, feature, resource)

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
        on_slot_wait: SlotCallback | None = None,
        abandon: asyncio.Event | None = None,
    ) -> RenderAccepted:
        """Submit a movie script (`POST /api/render`).

        `script` may be the editor's JSON text, sent as is. With `wait_for_slot` > 0 (seconds),
        a CONCURRENCY_LIMIT_EXCEEDED answer parks the submission (§7 "Queue it"): the client
        watches the account's slots (`GET /api/account`, else the active-jobs list) at the poll
        interval, paced so the rate window keeps a request for the submission, and resubmits
        with the same Idempotency-Key as soon as a slot frees (or the server's Retry-After has
        passed). `on_slot_wait` gets a `SlotWait` after each look ("waiting for a free slot
        (2/2 busy)…"). Setting `abandon` ends the wait with `SlotWaitAbandoned` (nothing was
        created); it never interrupts a submission in flight. After `wait_for_slot` seconds the
        last CONCURRENCY_LIMIT_EXCEEDED error is raised.
        """
        if isinstance(script, str):
            body = script.encode("utf-8")
        elif isinstance(script, bytes):
            body = script
        else:
            body = json.dumps(script, ensure_ascii=False).encode("utf-8")
        return await self._submit(
            "/api/render", body, idempotency_key, wait_for_slot, on_slot_wait, abandon
        )

    async def render_template(
        self,
        template_id: str,
        variables: Mapping[str, Any] | None = None,
        webhook_uri: str | None = None,
        idempotency_key: str | None = None,
        *,
        wait_for_slot: float = 0.0,
        on_slot_wait: SlotCallback | None = None,
        abandon: asyncio.Event | None = None,
    ) -> RenderAccepted:
        """Render a stored template with `{{name}}` variables (`POST /api/render/template`).

        Waiting for a slot works as in `render`."""
        payload: dict[str, Any] = {"template_id": template_id, "variables": dict(variables or {})}
        if webhook_uri is not None:
            payload["webhook_uri"] = webhook_uri
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return await self._submit(
            "/api/render/template", body, idempotency_key, wait_for_slot, on_slot_wait, abandon
        )

    async def _submit(
        self,
        path: str,
        body: bytes,
        idempotency_key: str | None,
        wait_for_slot: float,
        on_slot_wait: SlotCallback | None = None,
        abandon: asyncio.Event | None = None,
    ) -> RenderAccepted:
        key = idempotency_key or str(uuid.uuid4())
        sent_at = time.time()
        started = self._clock()
        slot_deadline = started + wait_for_slot
        refusals = 0
        checks = 0
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
                if error.is_concurrency_limit and slot_deadline - self._clock() > 0:
                    refusals += 1
                    checks = await self._wait_for_slot(
                        error,
                        key=key,
                        started=started,
                        deadline=slot_deadline,
                        refusals=refusals,
                        checks=checks,
                        on_slot_wait=on_slot_wait,
                        abandon=abandon,
                    )
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

    async def slot_usage(self) -> tuple[int | None, int | None]:
        """(active, limit): the account's queued + rendering jobs and its concurrency limit.

        From `GET /api/account` where offered (both numbers), else from one page of
        `GET /api/jobs?status=queued,rendering` (the limit then as last known, or None).
        """
        if self.is_offered(Feature.ACCOUNT):
            account = await self.account()
            usage = account.concurrency if account.from_endpoint else None
            if usage is not None and usage.active is not None:
                return usage.active, usage.limit
        page = await self.list_jobs(status=ACTIVE_STATUSES, limit=100)
        return len(page.jobs), self.account_state.snapshot.concurrency_limit

    def _slot_poll_delay(self) -> float:
        """The pause before the next look at the slots: the poll interval (doubled when the rate
        window runs low), stretched so the looks spread over what is left of the window and one
        request always stays free for the resubmission."""
        delay = self.account_state.poll_interval(self.poll_base_interval)
        rate = self.account_state.snapshot.rate_limit
        until_reset = self.account_state.seconds_until_reset()
        if rate is not None and until_reset is not None:
            spare = rate.remaining - 1
            delay = max(delay, until_reset if spare <= 0 else until_reset / spare)
        return delay

    async def _pause(self, seconds: float, abandon: asyncio.Event | None) -> bool:
        """Sleep (through the injectable sleep); True if `abandon` was set meanwhile."""
        if abandon is None:
            await self._sleep(seconds)
            return False
        if abandon.is_set():
            return True
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        watcher = asyncio.ensure_future(abandon.wait())
        try:
            await asyncio.wait({sleeper, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, watcher):
                task.cancel()
            await asyncio.gather(sleeper, watcher, return_exceptions=True)
        return abandon.is_set()

    async def _wait_for_slot(
        self,
        refusal: ApiError,
        *,
        key: str,
        started: float,
        deadline: float,
        refusals: int,
        checks: int,
        on_slot_wait: SlotCallback | None,
        abandon: asyncio.Event | None,
    ) -> int:
        """Return once a slot looks free or Retry-After has passed (then resubmit); raise
        `SlotWaitAbandoned` when abandoned, the refusal itself when `deadline` passes."""
        retry_at = self._clock() + (
            refusal.retry_after if refusal.retry_after is not None else DEFAULT_SLOT_WAIT
        )
        baseline: int | None = None  # active jobs at the first look, when the limit is unknown
        while True:
            if abandon is not None and abandon.is_set():
                raise SlotWaitAbandoned(key)
            active: int | None = None
            limit: int | None = None
            try:
                active, limit = await self.slot_usage()
                checks += 1
            except ApiError as error:
                if error.category is Category.CREDENTIALS:
                    raise
                log.info("cannot look at the slots (%s); waiting for Retry-After", error.code)
            if active is not None:
                if limit is not None and active < limit:
                    return checks
                if limit is None:
                    baseline = active if baseline is None else baseline
                    if active < baseline:
                        return checks
            now = self._clock()
            if now >= deadline:
                raise refusal
            if now >= retry_at:
                return checks
            delay = max(0.0, min(self._slot_poll_delay(), retry_at - now, deadline - now))
            if on_slot_wait is not None:
                on_slot_wait(
                    SlotWait(active, limit, now - started, delay, checks, refusals, refusal)
                )
            if self.retrier.on_wait is not None:
                self.retrier.on_wait(WaitNotice(delay, WaitReason.SLOT, 0, 0, refusal))
            if await self._pause(delay, abandon):
                raise SlotWaitAbandoned(key)

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
        page = self._parse(JobPage, response)
        self._remember_listed("job", [job.job_id for job in page.jobs])
        return page

    async def get_job(self, job_id: str) -> Job:
        """One job; on a server without single-job reads, found through the job list.

        A job that does not exist (any more) raises `ResourceNotFound` (code NOT_FOUND), never
        `NotOffered`, also when a listing had shown it: then it was deleted meanwhile.
        """
        if self.is_offered(Feature.JOB_READ):
            try:
                response = await self._send(
                    "GET",
                    f"/api/jobs/{job_id}",
                    kind=RequestKind.SAFE,
                    feature=Feature.JOB_READ,
                    resource=("job", job_id),
                )
                return self._parse(Job, response)
            except NotOffered:
                pass
            except ResourceNotFound as missing:
                error, listed = await self._settle_not_found(missing, Feature.JOB_READ)
                if isinstance(listed, Job):
                    return listed
                raise error from None
        return await self._find_in_list(job_id)

    async def _search_list(self, job_id: str, max_pages: int = 5) -> Job | None:
        cursor: str | None = None
        for _ in range(max_pages):
            page = await self.list_jobs(limit=100, cursor=cursor)
            for job in page.jobs:
                if job.job_id == job_id:
                    return job
            cursor = page.next_cursor
            if cursor is None:
                break
        return None

    async def _find_in_list(self, job_id: str) -> Job:
        job = await self._search_list(job_id)
        if job is None:
            cause = ApiError(code="NOT_FOUND", message="Job not found", status=404)
            raise ResourceNotFound(cause, resource="job", resource_id=job_id)
        return job

    async def cancel_job(self, job_id: str) -> Job:
        """Cancel a queued or rendering job (`DELETE /api/jobs/{id}`); 409 if already over."""
        try:
            response = await self._send(
                "DELETE",
                f"/api/jobs/{job_id}",
                kind=RequestKind.SAFE,
                feature=Feature.JOB_CANCEL,
                resource=("job", job_id),
            )
        except ResourceNotFound as missing:
            raise (await self._settle_not_found(missing, Feature.JOB_CANCEL))[0] from None
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

        The temp file (`.NAME.<digest of the URL>.part`) is renamed only once complete (length
        checked), so an interrupted download never looks like an output. An interrupted
        download resumes: every retry, and a later call for the same output and `dest`,
        continues from the bytes already in the temp file with `Range: bytes=N-` and
        `If-Range: <ETag>`. A 206 whose Content-Range starts at N is appended; a 200 (the server
        ignores Range, or the file changed since: ETag mismatch) or a 416 starts the file over.
        Without a strong ETag nothing is resumed. After a failure that is not transient the
        temp file is removed; after a transient one it is kept for the next call. Two
        concurrent downloads to the same `dest` are not supported. `x-api-key` is sent only to
        the API's own origin, never to a CDN. `on_progress(bytes_so_far, total)` counts the
        resumed bytes too.
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
        digest = hashlib.sha256(f"{output_url}\n{job.job_id}".encode()).hexdigest()[:16]
        temp = dest.with_name(f".{dest.name}.{digest}.part")
        meta = temp.with_name(temp.name + ".json")

        async def attempt() -> Path:
            await self._stream_to(output_url, temp, meta, on_progress, job.job_id)
            os.replace(temp, dest)
            with contextlib.suppress(FileNotFoundError):
                meta.unlink()
            return dest

        try:
            return await self.retrier.run(attempt, kind=RequestKind.SAFE)
        except ApiError as error:
            error.job_id = error.job_id or job.job_id
            if error.category is not Category.TRANSIENT or not meta.exists():
                self._discard(temp, meta)  # nothing a later call could resume
            raise

    @staticmethod
    def _resume_point(temp: Path, meta: Path, url: str) -> tuple[int, str | None]:
        """(bytes already downloaded, their ETag), or (0, None) when there is nothing to resume."""
        try:
            saved = json.loads(meta.read_text(encoding="utf-8"))
            size = temp.stat().st_size
        except (OSError, ValueError):
            return 0, None
        etag = saved.get("etag") if isinstance(saved, dict) else None
        if not isinstance(etag, str) or saved.get("url") != url or size <= 0:
            return 0, None
        return size, etag

    async def _stream_to(
        self,
        url: str,
        temp: Path,
        meta: Path,
        on_progress: ProgressCallback | None,
        job_id: str,
    ) -> None:
        own_origin = origin(self.base_url)
        output_url = url  # the resume record is keyed by it, whatever the redirects lead to
        for _hop in range(6):
            same_origin = origin(url) == own_origin
            headers = {"x-api-key": self._key} if same_origin else {}
            feature = Feature.OUTPUT if same_origin else None
            if feature is not None and not self.is_offered(feature):
                raise NotOffered(feature.value, method="GET", url=url)
            offset, etag = self._resume_point(temp, meta, output_url)
            if offset and etag:
                headers["Range"] = f"bytes={offset}-"
                headers["If-Range"] = etag
            try:
                async with self._http.stream(
                    "GET", url, headers=headers, timeout=self._download_timeout()
                ) as response:
                    if same_origin:
                        self._observe(response, None)
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code == 416 and offset:
                        # What we hold is not a prefix of the file (it shrank or changed).
                        await response.aread()
                        self._discard(temp, meta)
                        continue
                    start = _content_range_start(response) if response.status_code == 206 else 0
                    if response.status_code not in (200, 206) or start not in (0, offset):
                        await response.aread()
                        if response.status_code in (200, 206):  # a range we did not ask for
                            self._discard(temp, meta)
                            continue
                        raise self._error_for(response, feature, ("output", job_id))
                    if response.status_code == 200 or start == 0:
                        self._discard(temp, meta)
                        start = 0
                        self._save_resume_meta(meta, output_url, response)
                    await self._write_body(response, temp, start, on_progress)
                    return
            except httpx.TransportError as exc:
                raise error_from_transport(exc, method="GET", url=url) from exc
        raise ApiError(
            code=UNEXPECTED_RESPONSE, message="Too many redirects for the output.", url=url
        )

    @staticmethod
    def _discard(temp: Path, meta: Path) -> None:
        for path in (temp, meta):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @staticmethod
    def _save_resume_meta(meta: Path, url: str, response: httpx.Response) -> None:
        """Remember the ETag of a fresh download, so an interruption can resume; only a strong
        one (If-Range must not use a weak tag)."""
        etag = response.headers.get("etag")
        if not etag or etag.startswith("W/"):
            return
        try:
            meta.write_text(json.dumps({"url": url, "etag": etag}), encoding="utf-8")
        except OSError as exc:
            log.warning("cannot record the download's ETag (no resume): %s", exc)

    def _download_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self._timeout.connect,
            read=max(self._timeout.read or 0.0, 60.0),
            write=self._timeout.write,
            pool=self._timeout.pool,
        )

    @staticmethod
    async def _write_body(
        response: httpx.Response, temp: Path, start: int, on_progress: ProgressCallback | None
    ) -> None:
        """Append the body to `temp` (which holds `start` bytes); check the length at the end."""
        length_header = response.headers.get("content-length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        total = start + length if length is not None else None
        received = 0
        with open(temp, "ab" if start else "wb") as handle:
            if on_progress is not None:
                on_progress(start, total)
            # No chunk size: httpx would buffer up to it and lose the buffer when the connection
            # drops, and those bytes are exactly what a resume continues from.
            async for chunk in response.aiter_raw():
                handle.write(chunk)
                received += len(chunk)
                if on_progress is not None:
                    on_progress(start + received, total)
            handle.flush()
            os.fsync(handle.fileno())
        if length is not None and received != length:
            raise ApiError(
                code="NETWORK_CONNECTION_LOST",
                message=f"The download stopped after {start + received} of {total} bytes.",
                method="GET",
                url=str(response.request.url),
            )

    # -- templates ----------------------------------------------------------------------------

    async def list_templates(self) -> list[Template]:
        """Own templates plus every public one (`GET /api/templates`)."""
        response = await self._send("GET", "/api/templates", kind=RequestKind.SAFE)
        try:
            items = response.json()["templates"]
            templates = [Template.model_validate(item) for item in items]
            self._remember_listed("template", [t.id for t in templates])
            return templates
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise ApiError(
                code=UNEXPECTED_RESPONSE,
                message=f"The server's template list is not in the expected shape: {exc}",
                status=response.status_code,
                raw=response.text,
            ) from exc

    async def get_template(self, template_id: str) -> Template:
        """One template with its script; `ResourceNotFound` if missing, private or deleted."""
        try:
            response = await self._send(
                "GET",
                f"/api/templates/{template_id}",
                kind=RequestKind.SAFE,
                feature=Feature.TEMPLATE_READ,
                resource=("template", template_id),
            )
        except ResourceNotFound as missing:
            raise (await self._settle_not_found(missing, Feature.TEMPLATE_READ))[0] from None
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
        try:
            response = await self._send(
                "PUT",
                f"/api/templates/{template_id}",
                kind=RequestKind.UNSAFE,
                feature=Feature.TEMPLATE_UPDATE,
                json_body=body,
                resource=("template", template_id),
            )
        except ResourceNotFound as missing:
            raise (await self._settle_not_found(missing, Feature.TEMPLATE_UPDATE))[0] from None
        return self._parse(Template, response)

    async def delete_template(self, template_id: str) -> None:
        """Delete a template; a 404 after a retried DELETE means the first one landed."""
        try:
            await self._delete(
                lambda: self._send(
                    "DELETE",
                    f"/api/templates/{template_id}",
                    kind=RequestKind.SAFE,
                    expect=(200, 204),
                    feature=Feature.TEMPLATE_DELETE,
                    retrier=self._single_try,
                    resource=("template", template_id),
                )
            )
        except ResourceNotFound as missing:
            raise (await self._settle_not_found(missing, Feature.TEMPLATE_DELETE))[0] from None
        self._listed.pop(("template", template_id), None)

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


def _content_range_start(response: httpx.Response) -> int | None:
    """The first byte of a 206's `Content-Range: bytes FIRST-LAST/TOTAL` (None if unreadable)."""
    value = response.headers.get("content-range", "")
    unit, _, spec = value.strip().partition(" ")
    first, _, _ = spec.partition("-")
    if unit.lower() != "bytes" or not first.isdigit():
        return None
    return int(first)


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
    "ResourceNotFound",
    "SlotCallback",
    "SlotWait",
    "SlotWaitAbandoned",
    "SubmissionUncertain",
    "Template",
    "forget_not_offered",
]
