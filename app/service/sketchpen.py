"""The studio's async client for Sketchpen-compatible AI-draft servers (contract:
shared/spec/sketchpen-api.md): prompt → AI script → review and edit → approve → video.

Every call has a timeout, fails with an `ApiError` (vendor Sketchpen), goes through the retry
policy of §12 (5xx and network failures backed off for reads and idempotent writes; the plain
string 429 and `RATE_LIMITED` waited out when the wait is at most 60 s; approve and regenerate
resent only where the contract says it is safe; `POST /videos` never resent after an ambiguous
failure), and feeds the account bar's state. An `INVALID_STATE` answer is followed by a re-read
of the video, so the error carries the state it is in and the recovery that fits (§10).
Project-decision endpoints a hosted server may lack (scene edits, delete, `/account`) are
detected on first use, remembered per (base URL, key), and refused locally from then on with
`NotOffered` (§0).

    async with SketchpenClient(base_url, key, on_wait=show_countdown) as client:
        video = await client.create_video(prompt, aspect_ratio="9:16", wait_for_slot=600)
        video = await client.wait_for_video(video.id, on_change=progress_strip.update)
        # refining: edit_scene / replace_scenes / regenerate, then
        await client.approve(video.id)
        video = await client.wait_for_video(video.id, on_change=progress_strip.update)
        if video.status == "failed":
            show(video.error_value())   # category render: Retry or Regenerate script
        media = await client.download_media(video, project_folder / "draft")
        script = app.script.sketchpen.video_to_script(video.as_dict(), media=media)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr, ValidationError

from app.redact import remember_secret
from app.service.client import DEFAULT_TIMEOUT, ServiceClient, origin
from app.service.errors import (
    UNEXPECTED_RESPONSE,
    Action,
    ApiError,
    Category,
    NotOffered,
    Vendor,
    error_from_transport,
    parse_error,
)
from app.service.keys import KeyMode
from app.service.limits import AccountSnapshot, AccountState
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

API_PREFIX = "/api/v1"
DOWNLOAD_CHUNK = 256 * 1024
#: §12: a rate limit asking for a longer wait is handed to the user ("try again at …").
MAX_AUTO_RATE_LIMIT_WAIT = 60.0
#: How often a parked action looks for a free slot when the server gives no Retry-After.
DEFAULT_SLOT_WAIT = 5.0
#: Videos created this long before a lost `POST /videos` still count as "maybe ours".
CREATION_CLOCK_SLACK = 30.0


class VideoStatus(StrEnum):
    """The statuses of §6, in lifecycle order (`failed` can follow any in-progress one)."""

    PENDING = "pending"
    SCRIPTING = "scripting"
    REFINING = "refining"
    VISUALISING = "visualising"
    NARRATING = "narrating"
    CURATING = "curating"
    RENDERING = "rendering"
    COMPLETED = "completed"
    FAILED = "failed"


S = VideoStatus
#: The forward path of a video; used to tell which statuses a poll missed.
LIFECYCLE: tuple[str, ...] = (
    S.PENDING,
    S.SCRIPTING,
    S.REFINING,
    S.VISUALISING,
    S.NARRATING,
    S.CURATING,
    S.RENDERING,
    S.COMPLETED,
)
#: Statuses that hold one of the account's concurrency slots (§8); `refining` included.
IN_PROGRESS: frozenset[str] = frozenset(LIFECYCLE[:-1])
#: The AI is writing the script.
DRAFTING: frozenset[str] = frozenset({S.PENDING, S.SCRIPTING})
#: After approval, before the end: no edits, no delete (§6).
PROCESSING: frozenset[str] = frozenset({S.VISUALISING, S.NARRATING, S.CURATING, S.RENDERING})
#: Where polling stops by default: the user has something to do, or it is over.
STOP_STATUSES: frozenset[str] = frozenset({S.REFINING, S.COMPLETED, S.FAILED})
TERMINAL: frozenset[str] = frozenset({S.COMPLETED, S.FAILED})


class Feature(StrEnum):
    """The project-decision (P) endpoints a hosted Sketchpen may not offer (§0)."""

    SCENE_EDITS = "scene_edits"
    VIDEO_DELETE = "video_delete"
    ACCOUNT = "account"


# (API base, key fingerprint) → features the server answered "not offered" for; kept until the
# app restarts or the server settings change (§0).
_not_offered: dict[tuple[str, str], set[Feature]] = {}


def forget_not_offered(base_url: str | None = None) -> None:
    """Forget remembered degradations (server settings changed), for one server or all."""
    if base_url is None:
        _not_offered.clear()
        return
    base = api_base(base_url)
    for scope in [s for s in _not_offered if s[0] == base]:
        del _not_offered[scope]


def api_base(url: str) -> str:
    """The API base: `http://127.0.0.1:8000` → `http://127.0.0.1:8000/api/v1`; a URL that
    already has a path (`https://api.sketchpen.app/api/v1`) is kept as given."""
    url = url.strip().rstrip("/")
    if urlsplit(url).path in ("", "/"):
        return url + API_PREFIX
    return url


# ---------------------------------------------------------------------------------------------
# Typed results


def _none_as_empty(value: object) -> object:
    return [] if value is None else value


EmptyList = Annotated[list[str], BeforeValidator(_none_as_empty)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Caption(_Model):
    """One spoken word, in seconds relative to its scene's start (§3)."""

    word: str
    start: float
    end: float


class Scene(_Model):
    id: str
    speech: str = ""
    visual_description: str = ""
    image_url: str | None = None
    assets: EmptyList = []
    captions: Annotated[list[Caption], BeforeValidator(_none_as_empty)] = []


class VideoConfig(_Model):
    """The creation settings as the server echoes them; anything missing reads as None."""

    fps: int | None = None
    aspect_ratio: str | None = None
    audio_mode: str | None = None
    bg_mode: str | None = None
    voice_id: str | None = None
    asset_ids: EmptyList = []
    speaker_ids: EmptyList = []


class VideoFailure(_Model):
    stage: str | None = None
    message: str | None = None


class Video(_Model):
    """A video as `GET /videos/{id}` returns it (§3); unknown fields are ignored."""

    id: str
    status: str
    prompt: str = ""
    theme: str | None = None
    scenes: Annotated[list[Scene], BeforeValidator(_none_as_empty)] = []
    video_url: str | None = None
    audio_url: str | None = None
    thumbnail_url: str | None = None
    processing_time_sec: float | None = None
    config: Annotated[VideoConfig, BeforeValidator(lambda v: {} if v is None else v)] = (
        VideoConfig()
    )
    created_at: str | None = None
    updated_at: str | None = None
    error: VideoFailure | None = None
    credits_charged: int | None = None

    @property
    def in_progress(self) -> bool:
        """Holds a concurrency slot (a draft in `refining` does)."""
        return self.status in IN_PROGRESS

    @property
    def processing(self) -> bool:
        return self.status in PROCESSING

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def scenes_editable(self) -> bool:
        """Scene edits, regenerate and approve are allowed only in `refining` (§6)."""
        return self.status == S.REFINING

    def as_dict(self) -> dict[str, Any]:
        """The video as JSON data, the input of `app.script.sketchpen.video_to_script`."""
        return self.model_dump(mode="json")

    def recovery_actions(self) -> tuple[Action, ...]:
        """What the studio can offer for a video in this state (§6, §10, §13)."""
        if self.status == S.COMPLETED:
            return (Action.SUBMIT_AS_NEW, Action.COPY_DETAILS)
        if self.status == S.FAILED:
            first = Action.RETRY if self.scenes else Action.REGENERATE_SCRIPT
            return (first, Action.DELETE_VIDEO, Action.COPY_DETAILS)
        if self.status == S.REFINING:
            return (Action.APPROVE_OR_DELETE_DRAFT, Action.REGENERATE_SCRIPT, Action.COPY_DETAILS)
        if self.status in IN_PROGRESS:
            return (Action.WAIT_AND_RETRY, Action.REFRESH, Action.COPY_DETAILS)
        return (Action.REFRESH, Action.COPY_DETAILS)

    def error_value(self) -> ApiError | None:
        """A failed video as an error value (category render): Retry (approve) when it has
        scenes, Regenerate script when it has none."""
        if self.status != S.FAILED:
            return None
        failure = self.error or VideoFailure()
        stage = f" while {failure.stage}" if failure.stage else ""
        return ApiError(
            code="VIDEO_FAILED",
            message=failure.message or f"The video failed{stage}.",
            vendor=Vendor.SKETCHPEN,
            category=Category.RENDER,
            actions=self.recovery_actions(),
            job_id=self.id,
        )


class Theme(_Model):
    id: str
    name: str = ""
    description: str = ""


class Voice(_Model):
    id: str
    name: str = ""
    description: str = ""
    tags: EmptyList = []
    preview_url: str | None = None


class Asset(_Model):
    id: str
    user_id: str | None = None
    name: str = ""
    description: str | None = None
    type: str
    voice_id: str | None = None
    image_url: str | None = None
    created_at: str | None = None


class AssetLink(_Model):
    video_id: str
    asset_id: str
    created_at: str | None = None


class Callback(_Model):
    id: str
    user_id: str | None = None
    url: str
    event: str
    secret: SecretStr | None = None
    is_active: bool = True
    created_at: str | None = None


class Concurrency(_Model):
    limit: int | None = None
    active: int | None = None

    @property
    def has_free_slot(self) -> bool | None:
        if self.limit is None or self.active is None:
            return None
        return self.active < self.limit


class Account(_Model):
    """`GET /account`, or what the client knows when the server lacks it (`from_endpoint`)."""

    credits_balance: int | None = None
    concurrency: Concurrency | None = None
    key_mode: KeyMode = KeyMode.UNKNOWN
    from_endpoint: bool = True


@dataclass(frozen=True)
class SceneDraft:
    """One item of `PUT /videos/{id}/scenes`: an `id` updates that scene, none adds one."""

    speech: str
    visual_description: str
    id: str | None = None
    assets: Sequence[str] | None = None

    @classmethod
    def of(cls, scene: Scene) -> SceneDraft:
        return cls(scene.speech, scene.visual_description, scene.id, tuple(scene.assets))

    def as_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "speech": self.speech,
            "visual_description": self.visual_description,
        }
        if self.id is not None:
            item["id"] = self.id
        if self.assets is not None:
            item["assets"] = list(self.assets)
        return item


class WebhookData(_Model):
    id: str
    status: str
    prompt: str = ""
    video_url: str | None = None
    audio_url: str | None = None
    thumbnail_url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class WebhookEvent(_Model):
    """A `video.completed` / `video.failed` delivery (§11); confirm it with `get_video`."""

    event: str
    video_id: str
    data: WebhookData
    created_at: int | None = None


# ---------------------------------------------------------------------------------------------
# Error values of this client


class VideoStateError(ApiError):
    """`INVALID_STATE`, with the video re-read so the studio can say what state it is in and
    offer what fits now (§10): completed → create a new video, failed with scenes → retry,
    failed without scenes → regenerate script, in progress → wait."""

    def __init__(self, cause: ApiError, video: Video) -> None:
        super().__init__(
            code=cause.code,
            message=cause.message,
            status=cause.status,
            request_id=cause.request_id,
            raw=cause.raw,
            method=cause.method,
            url=cause.url,
            enveloped=cause.enveloped,
            vendor=Vendor.SKETCHPEN,
            category=Category.STATE,
            actions=video.recovery_actions(),
            job_id=video.id,
        )
        self.attempts = cause.attempts
        self.cause = cause
        self.video = video

    @property
    def state(self) -> str:
        return self.video.status


class CreationUncertain(ApiError):
    """`POST /videos` failed after the request may have reached the server: a video may exist.

    Never resent automatically (the contract documents no idempotency). `candidates` are videos
    with the same prompt created since the send (when the lookup worked); the studio shows them
    and asks the user.
    """

    def __init__(self, cause: ApiError, *, candidates: Sequence[Video], lookup_failed: bool):
        super().__init__(
            code=cause.code,
            status=cause.status,
            message=f"The video may have been created. {cause.message}",
            request_id=cause.request_id,
            raw=cause.raw,
            method=cause.method,
            url=cause.url,
            never_reached=cause.never_reached,
            vendor=Vendor.SKETCHPEN,
            category=Category.TRANSIENT,
            actions=(Action.CHECK_SUBMISSIONS, Action.REFRESH, Action.COPY_DETAILS),
        )
        self.attempts = cause.attempts
        self.cause = cause
        self.candidates = tuple(candidates)
        self.lookup_failed = lookup_failed


# ---------------------------------------------------------------------------------------------
# Polling


@dataclass(frozen=True)
class StatusChange:
    """Handed to the polling callback on every status change (the first poll included).

    `skipped` lists the lifecycle statuses the video went through between two polls without
    being seen (short stages, `narrating` with `audio_mode: "none"`), so a progress strip can
    tick them off.
    """

    video: Video
    previous: str | None
    skipped: tuple[str, ...]


StatusCallback = Callable[[StatusChange], None]
ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True)
class PollTiming:
    """§12: every 2 s while the script is written, 5 s after approval; doubled after a 429."""

    drafting: float = 2.0
    processing: float = 5.0
    max_interval: float = 60.0

    def base(self, status: str) -> float:
        return self.drafting if status in DRAFTING else self.processing


def skipped_between(previous: str | None, current: str) -> tuple[str, ...]:
    """The lifecycle statuses strictly between two observed ones, if it moved forward."""
    if previous is None or previous not in LIFECYCLE or current not in LIFECYCLE:
        return ()
    a, b = LIFECYCLE.index(previous), LIFECYCLE.index(current)
    return LIFECYCLE[a + 1 : b] if b > a + 1 else ()


# ---------------------------------------------------------------------------------------------
# Webhooks


def webhook_signature(secret: str, body: bytes) -> str:
    """§11: lowercase hex HMAC-SHA256 of the raw body, keyed with the whole secret's bytes."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_webhook(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether `X-Sketchpen-Signature` matches, compared in constant time."""
    if not signature:
        return False
    return hmac.compare_digest(webhook_signature(secret, body), signature.strip().lower())


def parse_webhook(body: bytes) -> WebhookEvent:
    """A delivery's body as a `WebhookEvent`; a malformed body is an `UNEXPECTED_RESPONSE`."""
    try:
        return WebhookEvent.model_validate_json(body)
    except ValidationError as exc:
        raise ApiError(
            code=UNEXPECTED_RESPONSE,
            message=f"The webhook body is not a Sketchpen event: {exc.error_count()} problem(s)",
            raw=body.decode("utf-8", errors="replace"),
            vendor=Vendor.SKETCHPEN,
        ) from exc


def parse_time(value: str | None) -> float | None:
    """ISO-8601 → Unix seconds; a zone-less time (webhook `data`) is read as UTC (§0)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


# ---------------------------------------------------------------------------------------------
# The client


AssetType = Literal["character", "object"]


class _Unresent(Exception):
    """Ends a retry loop with `error`, which must not be retried (the state moved on)."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


class SketchpenClient(ServiceClient):
    """One server, one key. Use as `async with SketchpenClient(url, key) as client:`.

    `base_url` is the API base (`https://api.sketchpen.app/api/v1`); a bare origin such as the
    local service's `http://127.0.0.1:48213` gets `/api/v1` appended.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        retry_policy: RetryPolicy | None = None,
        on_wait: OnWait | None = None,
        account_state: AccountState | None = None,
        clock: Callable[[], float] = time.monotonic,
        slot_poll_seconds: float = DEFAULT_SLOT_WAIT,
    ) -> None:
        self._setup(
            api_base(base_url),
            api_key,
            timeout=timeout,
            transport=transport,
            sleep=sleep,
            retry_policy=retry_policy or RetryPolicy(max_rate_limit_wait=MAX_AUTO_RATE_LIMIT_WAIT),
            on_wait=on_wait,
            account_state=account_state,
            clock=clock,
        )
        self.slot_poll_seconds = slot_poll_seconds
        #: How many 429 answers (either kind) this client has received; polling slows down.
        self.rate_limited_answers = 0

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

    def _error_for(self, response: httpx.Response, feature: Feature | None) -> ApiError:
        error = parse_error(response, vendor=Vendor.SKETCHPEN)
        # Hosted FastAPI answers an undeclared route with 404/405 {"detail": …}; the local
        # service's own 404s are enveloped NOT_FOUND and mean "no such video".
        if feature is not None and response.status_code in (404, 405, 501) and not error.enveloped:
            self._remember_not_offered(feature)
            return NotOffered(
                feature.value,
                status=response.status_code,
                request_id=error.request_id,
                raw=error.raw,
                method=error.method,
                url=error.url,
                vendor=Vendor.SKETCHPEN,
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
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        with_key: bool = True,
        retrier: Retrier | None = None,
    ) -> httpx.Response:
        url = self.base_url + path
        if feature is not None and not self.is_offered(feature):
            raise NotOffered(feature.value, method=method, url=url, vendor=Vendor.SKETCHPEN)
        headers = {"x-api-key": self._key} if with_key else {}

        async def attempt() -> httpx.Response:
            try:
                response = await self._http.request(
                    method, url, params=params, json=json_body, files=files, headers=headers
                )
            except httpx.TransportError as exc:
                raise _network_error(exc, method, url) from exc
            if with_key:
                self.account_state.update_from_headers(response.headers)
            if response.status_code == 429:
                self.rate_limited_answers += 1
            if response.status_code in expect:
                return response
            raise self._error_for(response, feature)

        return await (retrier or self.retrier).run(attempt, kind=kind)

    @staticmethod
    def _unexpected(response: httpx.Response, what: str, exc: Exception) -> ApiError:
        return ApiError(
            code=UNEXPECTED_RESPONSE,
            message=f"The server's answer does not look like {what}: {exc}",
            status=response.status_code,
            raw=response.text,
            method=response.request.method,
            url=str(response.request.url),
            request_id=response.headers.get("x-request-id"),
            vendor=Vendor.SKETCHPEN,
        )

    @classmethod
    def _parse[M: BaseModel](cls, model: type[M], response: httpx.Response) -> M:
        try:
            return model.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            raise cls._unexpected(response, f"a {model.__name__}", exc) from exc

    @classmethod
    def _parse_list[M: BaseModel](
        cls, model: type[M], response: httpx.Response, key: str | None = None
    ) -> list[M]:
        try:
            data = response.json()
            if key is not None:
                if not isinstance(data, dict):
                    raise ValueError(f"expected an object with {key!r}")
                data = data[key]
            if not isinstance(data, list):
                raise ValueError("expected an array")
            return [model.model_validate(item) for item in data]
        except (ValueError, KeyError, ValidationError) as exc:
            raise cls._unexpected(response, f"a list of {model.__name__}", exc) from exc

    async def _with_state(self, video_id: str, call: Awaitable[Video]) -> Video:
        """Run a video-scoped call; an INVALID_STATE answer becomes a `VideoStateError`."""
        try:
            return await call
        except ApiError as error:
            raise await self._state_error(error, video_id) from error

    async def _state_error(self, error: ApiError, video_id: str) -> ApiError:
        if error.code != "INVALID_STATE" or isinstance(error, VideoStateError):
            return error
        try:
            video = await self.get_video(video_id)
        except ApiError:
            return error
        return VideoStateError(error, video)

    # -- slots --------------------------------------------------------------------------------

    async def _parked[T](self, call: Callable[[], Awaitable[T]], wait_for_slot: float) -> T:
        """§12: a MAX_CONCURRENT_VIDEOS answer parks the action until a slot frees (polling
        `/account` where offered) or `wait_for_slot` seconds pass; cancel the task to abandon."""
        deadline = self._clock() + wait_for_slot
        while True:
            try:
                return await call()
            except ApiError as error:
                if not error.is_concurrency_limit or self._clock() >= deadline:
                    raise
                await self._wait_for_slot(error, deadline)

    async def _wait_for_slot(self, error: ApiError, deadline: float) -> None:
        while True:
            left = deadline - self._clock()
            if left <= 0:
                return
            delay = min(error.retry_after or self.slot_poll_seconds, left)
            if self.retrier.on_wait is not None:
                self.retrier.on_wait(WaitNotice(delay, WaitReason.SLOT, 0, 0, error))
            await self._sleep(delay)
            if not self.is_offered(Feature.ACCOUNT):
                return
            try:
                account = await self.account()
            except ApiError:
                return
            free = account.concurrency.has_free_slot if account.concurrency else None
            if free is not False:
                return

    # -- videos -------------------------------------------------------------------------------

    async def create_video(
        self,
        prompt: str,
        *,
        fps: int | None = None,
        aspect_ratio: str | None = None,
        theme: str | None = None,
        voice_id: str | None = None,
        audio_mode: str | None = None,
        bg_mode: str | None = None,
        asset_ids: Sequence[str] | None = None,
        speaker_ids: Sequence[str] | None = None,
        wait_for_slot: float = 0.0,
    ) -> Video:
        """`POST /videos` (§4.1): the new video, in `scripting` or `pending`.

        Settings left None take the server's defaults. Never resent after an ambiguous failure:
        `CreationUncertain` then lists same-prompt videos created since the send.
        """
        body: dict[str, Any] = {"prompt": prompt}
        for name, value in (
            ("fps", fps),
            ("aspect_ratio", aspect_ratio),
            ("theme", theme),
            ("voice_id", voice_id),
            ("audio_mode", audio_mode),
            ("bg_mode", bg_mode),
        ):
            if value is not None:
                body[name] = value
        if asset_ids is not None:
            body["asset_ids"] = list(asset_ids)
        if speaker_ids is not None:
            body["speaker_ids"] = list(speaker_ids)

        async def send() -> Video:
            sent_at = time.time()
            try:
                response = await self._send(
                    "POST", "/videos", kind=RequestKind.UNSAFE, expect=(200, 201), json_body=body
                )
            except ApiError as error:
                if error.ambiguous:
                    raise await self._uncertain(error, prompt, sent_at) from error
                raise
            return self._parse(Video, response)

        return await self._parked(send, wait_for_slot)

    async def _uncertain(self, error: ApiError, prompt: str, sent_at: float) -> CreationUncertain:
        candidates: list[Video] = []
        lookup_failed = False
        try:
            response = await self._send(
                "GET",
                "/videos",
                kind=RequestKind.SAFE,
                params={"limit": 10},
                retrier=self._single_try,
            )
            threshold = sent_at - CREATION_CLOCK_SLACK
            for video in self._parse_list(Video, response):
                created = parse_time(video.created_at)
                if video.prompt == prompt and (created is None or created >= threshold):
                    candidates.append(video)
        except ApiError:
            lookup_failed = True
        return CreationUncertain(error, candidates=candidates, lookup_failed=lookup_failed)

    async def list_videos(
        self,
        status: str | Collection[str] | None = None,
        *,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Video]:
        """`GET /videos`, newest first. The status filter is also applied here, because a
        hosted server may ignore the (project-decision) query parameters (§0)."""
        params: dict[str, str | int] = {}
        wanted: set[str] | None = None
        if status is not None:
            items = status.split(",") if isinstance(status, str) else status
            wanted = {item.strip() for item in items if item.strip()}
            params["status"] = ",".join(sorted(wanted))
        if limit is not None:
            params["limit"] = limit
        if offset is not None:
            params["offset"] = offset
        response = await self._send("GET", "/videos", kind=RequestKind.SAFE, params=params)
        videos = self._parse_list(Video, response)
        if wanted is not None:
            videos = [v for v in videos if v.status in wanted]
        if limit is not None:
            videos = videos[:limit]
        return videos

    async def get_video(self, video_id: str) -> Video:
        """`GET /videos/{id}`: the polling call."""
        response = await self._send("GET", f"/videos/{video_id}", kind=RequestKind.SAFE)
        return self._parse(Video, response)

    async def delete_video(self, video_id: str) -> None:
        """`DELETE /videos/{id}` (§4.7): frees the slot, refunds nothing; 409 while processing.
        A 404 after a retried DELETE means the first one landed."""
        if not self.is_offered(Feature.VIDEO_DELETE):
            # Refused here, outside the retry loop: a local refusal has no HTTP status, and the
            # loop would take it for a network failure and back off five times.
            raise NotOffered(
                Feature.VIDEO_DELETE.value,
                method="DELETE",
                url=f"{self.base_url}/videos/{video_id}",
                vendor=Vendor.SKETCHPEN,
            )
        try:
            await self._delete(
                lambda: self._send(
                    "DELETE",
                    f"/videos/{video_id}",
                    kind=RequestKind.SAFE,
                    expect=(200, 204),
                    feature=Feature.VIDEO_DELETE,
                    retrier=self._single_try,
                )
            )
        except ApiError as error:
            raise await self._state_error(error, video_id) from error

    async def approve(self, video_id: str, *, wait_for_slot: float = 0.0) -> Video:
        """`POST /videos/{id}/approve` (§4.3): `refining` → `visualising`, charging a credit per
        scene that needs an image; also the retry of a `failed` video that has scenes.

        Resent after a 5xx or a lost answer; if the resend meets INVALID_STATE the first call
        landed, and the re-read video (visualising or later) is returned (§12).
        """
        path = f"/videos/{video_id}/approve"

        async def send() -> Video:
            tries = 0

            async def attempt() -> Video:
                nonlocal tries
                tries += 1
                try:
                    response = await self._send(
                        "POST", path, kind=RequestKind.SAFE, retrier=self._single_try
                    )
                except ApiError as error:
                    if tries > 1 and error.code == "INVALID_STATE":
                        video = await self.get_video(video_id)
                        if video.processing or video.status == S.COMPLETED:
                            return video
                    raise
                return self._parse(Video, response)

            return await self.retrier.run(attempt, kind=RequestKind.SAFE)

        try:
            return await self._with_state(video_id, self._parked(send, wait_for_slot))
        except ApiError as error:
            if error.code == "INSUFFICIENT_CREDITS":
                await self._offer_fewer_scenes(error, video_id)
            raise

    async def _offer_fewer_scenes(self, error: ApiError, video_id: str) -> None:
        """§10: a draft (`refining`) that costs more than the balance can also be approved with
        fewer scenes: "Remove scenes" (SHORTEN_VIDEO) joins the 402's actions when scene edits
        are offered; a failed video's retry cannot shed scenes."""
        if not self.is_offered(Feature.SCENE_EDITS):
            return
        try:
            video = await self.get_video(video_id)
        except ApiError:
            return
        if video.status == S.REFINING and Action.SHORTEN_VIDEO not in error.actions:
            first, *rest = error.actions or (Action.COPY_DETAILS,)
            error.actions = (first, Action.SHORTEN_VIDEO, *rest)

    async def regenerate(
        self,
        video_id: str,
        feedback: str = "",
        *,
        current: Video | None = None,
        wait_for_slot: float = 0.0,
    ) -> Video:
        """`POST /videos/{id}/regenerate` (§4.4): back to `scripting` with `scenes: []`, then to
        `refining` with a new script. Free. Allowed in `refining`, and for a `failed` video
        without scenes.

        After a 5xx or a lost answer the video is re-read (§12): if it is back in `scripting`
        or has a new script, the earlier call landed and the re-read video is returned; if its
        status and `updated_at` are unchanged since `current` (read first when not given), the
        call is resent; anything else (someone else changed it) surfaces the error unresent.
        """
        before = current if current is not None else await self.get_video(video_id)
        path = f"/videos/{video_id}/regenerate"
        before_ids = {scene.id for scene in before.scenes}

        async def send() -> Video:
            last_error: ApiError | None = None

            async def attempt() -> Video:
                nonlocal last_error
                if last_error is not None and last_error.ambiguous:
                    now = await self.get_video(video_id)
                    new_script = now.status == S.REFINING and (
                        {scene.id for scene in now.scenes} != before_ids
                    )
                    if now.status in DRAFTING or new_script:
                        return now  # the earlier call landed
                    if (now.status, now.updated_at) != (before.status, before.updated_at):
                        raise _Unresent(last_error)
                try:
                    response = await self._send(
                        "POST",
                        path,
                        kind=RequestKind.SAFE,
                        json_body={"feedback": feedback},
                        retrier=self._single_try,
                    )
                except ApiError as error:
                    last_error = error
                    raise
                return self._parse(Video, response)

            try:
                return await self.retrier.run(attempt, kind=RequestKind.SAFE)
            except _Unresent as stop:
                raise stop.error from None

        return await self._with_state(video_id, self._parked(send, wait_for_slot))

    async def edit_scene(
        self,
        video_id: str,
        scene_id: str,
        *,
        speech: str | None = None,
        visual_description: str | None = None,
    ) -> Video:
        """`PATCH /videos/{id}/scenes/{scene_id}` (§4.5), only in `refining`: the full video."""
        body: dict[str, str] = {}
        if speech is not None:
            body["speech"] = speech
        if visual_description is not None:
            body["visual_description"] = visual_description
        if not body:
            raise ValueError("edit_scene needs speech or visual_description")
        call = self._send(
            "PATCH",
            f"/videos/{video_id}/scenes/{scene_id}",
            kind=RequestKind.SAFE,
            feature=Feature.SCENE_EDITS,
            json_body=body,
        )
        return await self._with_state(video_id, self._video_from(call))

    async def replace_scenes(self, video_id: str, scenes: Sequence[SceneDraft | Scene]) -> Video:
        """`PUT /videos/{id}/scenes` (§4.6), only in `refining`: the array becomes the script
        (order = playback order; items without `id` are new; scenes left out are removed)."""
        items = [(s if isinstance(s, SceneDraft) else SceneDraft.of(s)).as_json() for s in scenes]
        call = self._send(
            "PUT",
            f"/videos/{video_id}/scenes",
            kind=RequestKind.SAFE,
            feature=Feature.SCENE_EDITS,
            json_body=items,
        )
        return await self._with_state(video_id, self._video_from(call))

    async def _video_from(self, call: Awaitable[httpx.Response]) -> Video:
        return self._parse(Video, await call)

    async def wait_for_video(
        self,
        video_id: str,
        *,
        on_change: StatusCallback | None = None,
        until: Collection[str] = STOP_STATUSES,
        timing: PollTiming | None = None,
        timeout: float | None = None,
    ) -> Video:
        """Poll `GET /videos/{id}` until its status is in `until` and return it.

        By default that is `refining` (the draft is ready), `completed` or `failed` (returned,
        not raised: see `Video.error_value`). `on_change` gets a `StatusChange` for the first
        poll and each status change. The pace follows §12 and doubles after any 429 (which the
        retry policy waits out); a `timeout` ends the wait with VIDEO_WAIT_TIMEOUT (category
        wait).
        """
        timing = timing or PollTiming()
        deadline = None if timeout is None else self._clock() + timeout
        previous: str | None = None
        factor = 1.0
        seen_429 = self.rate_limited_answers
        while True:
            video = await self.get_video(video_id)
            if previous is None or video.status != previous:
                if on_change is not None:
                    on_change(
                        StatusChange(video, previous, skipped_between(previous, video.status))
                    )
                previous = video.status
            if video.status in until:
                return video
            if self.rate_limited_answers != seen_429:
                seen_429 = self.rate_limited_answers
                factor *= 2
            interval = self.account_state.poll_interval(timing.base(video.status)) * factor
            interval = min(interval, timing.max_interval)
            if deadline is not None:
                left = deadline - self._clock()
                if left <= 0:
                    raise ApiError(
                        code="VIDEO_WAIT_TIMEOUT",
                        message=f"The video did not reach {', '.join(sorted(until))} within "
                        f"{timeout:g} s (it is {video.status}).",
                        vendor=Vendor.SKETCHPEN,
                        category=Category.WAIT,
                        actions=(Action.REFRESH, Action.COPY_DETAILS),
                        job_id=video_id,
                    )
                interval = min(interval, left)
            await self._sleep(interval)

    # -- themes, voices -----------------------------------------------------------------------

    async def themes(self) -> list[Theme]:
        """`GET /themes` (no key): the only ids `create_video(theme=…)` may use."""
        response = await self._send("GET", "/themes", kind=RequestKind.SAFE, with_key=False)
        return self._parse_list(Theme, response)

    async def voices(self) -> list[Voice]:
        """`GET /voices` (no key), unwrapped from its `{"voices": […]}` object."""
        response = await self._send("GET", "/voices", kind=RequestKind.SAFE, with_key=False)
        return self._parse_list(Voice, response, key="voices")

    # -- assets -------------------------------------------------------------------------------

    async def create_asset(
        self,
        name: str,
        type: AssetType,
        *,
        voice_id: str | None = None,
        description: str | None = None,
    ) -> Asset:
        """`POST /assets`; a character (a speaker) needs a `voice_id`. Not resent after an
        ambiguous failure (it would make a second asset)."""
        body: dict[str, Any] = {"name": name, "type": type}
        if voice_id is not None:
            body["voice_id"] = voice_id
        if description is not None:
            body["description"] = description
        response = await self._send(
            "POST", "/assets", kind=RequestKind.UNSAFE, expect=(200, 201), json_body=body
        )
        return self._parse(Asset, response)

    async def list_assets(self, type: AssetType | None = None) -> list[Asset]:
        params: dict[str, str | int] = {"type": type} if type is not None else {}
        response = await self._send("GET", "/assets", kind=RequestKind.SAFE, params=params)
        return self._parse_list(Asset, response)

    async def upload_asset_image(
        self,
        asset_id: str,
        image: bytes | Path,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> Asset:
        """`POST /assets/{id}/image` (multipart `file`): the asset with its `image_url`.
        Uploading the same image again replaces it, so failures are retried."""
        if isinstance(image, Path):
            data = image.read_bytes()
            filename = filename or image.name
        else:
            data = image
        name = filename or "image.png"
        kind = content_type or _image_type(name)
        response = await self._send(
            "POST",
            f"/assets/{asset_id}/image",
            kind=RequestKind.SAFE,
            expect=(200, 201),
            files={"file": (name, data, kind)},
        )
        return self._parse(Asset, response)

    async def link_asset(self, video_id: str, asset_id: str) -> AssetLink:
        """`POST /assets/videos/{video_id}/refs`; 409 CONFLICT when already linked (treat as
        done), INVALID_STATE (with the video's state) once past `refining`."""
        try:
            response = await self._send(
                "POST",
                f"/assets/videos/{video_id}/refs",
                kind=RequestKind.UNSAFE,
                expect=(200, 201),
                json_body={"asset_id": asset_id},
            )
        except ApiError as error:
            raise await self._state_error(error, video_id) from error
        return self._parse(AssetLink, response)

    # -- callbacks ----------------------------------------------------------------------------

    async def create_callback(self, url: str, event: str) -> Callback:
        """`POST /callbacks` for `video.completed` or `video.failed`; the answer has the
        `whsec_` secret that signs deliveries (kept out of logs from now on)."""
        response = await self._send(
            "POST",
            "/callbacks",
            kind=RequestKind.UNSAFE,
            expect=(200, 201),
            json_body={"url": url, "event": event},
        )
        callback = self._parse(Callback, response)
        self._remember_callback_secret(callback)
        return callback

    async def list_callbacks(self) -> list[Callback]:
        response = await self._send("GET", "/callbacks", kind=RequestKind.SAFE)
        callbacks = self._parse_list(Callback, response)
        for callback in callbacks:
            self._remember_callback_secret(callback)
        return callbacks

    async def delete_callback(self, callback_id: str) -> None:
        """`DELETE /callbacks/{id}`; a 404 after a retried DELETE means the first one landed."""
        await self._delete(
            lambda: self._send(
                "DELETE",
                f"/callbacks/{callback_id}",
                kind=RequestKind.SAFE,
                expect=(200, 204),
                retrier=self._single_try,
            )
        )

    @staticmethod
    def _remember_callback_secret(callback: Callback) -> None:
        if callback.secret is not None:
            remember_secret(callback.secret.get_secret_value())

    # -- account ------------------------------------------------------------------------------

    async def account(self) -> Account:
        """`GET /account` (credits, slots, key mode), or what the client knows if the server
        does not offer it (`from_endpoint` False: the studio shows the balance as "–")."""
        if self.is_offered(Feature.ACCOUNT):
            try:
                response = await self._send(
                    "GET", "/account", kind=RequestKind.SAFE, feature=Feature.ACCOUNT
                )
            except NotOffered:
                pass
            else:
                account = self._parse(Account, response)
                concurrency = account.concurrency or Concurrency()
                self.account_state.update_from_account(
                    plan=None,
                    credits_balance=account.credits_balance,
                    key_mode=account.key_mode,
                    rate_limit=None,
                    concurrency_limit=concurrency.limit,
                    concurrency_active=concurrency.active,
                )
                return account
        return self._account_from_state(self.account_state.snapshot)

    def _account_from_state(self, snap: AccountSnapshot) -> Account:
        return Account(
            credits_balance=snap.credits_balance,
            concurrency=(
                Concurrency(limit=snap.concurrency_limit, active=snap.concurrency_active)
                if snap.concurrency_limit is not None or snap.concurrency_active is not None
                else None
            ),
            key_mode=snap.key_mode if snap.key_mode is not KeyMode.UNKNOWN else self.key_mode,
            from_endpoint=False,
        )

    # -- media --------------------------------------------------------------------------------

    async def download(
        self, url: str, dest: Path, on_progress: ProgressCallback | None = None
    ) -> Path:
        """Stream a media URL (video, audio, image, thumbnail) to `dest` atomically.

        The body goes to a `.part` file beside `dest`, checked against Content-Length and
        renamed only when complete. `X-Api-Key` is sent only to the API's own origin (§12).
        """
        target = urljoin(self.base_url + "/", url)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)

        async def attempt() -> Path:
            temp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
            try:
                await self._stream_to(target, temp, on_progress)
                os.replace(temp, dest)
                return dest
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()

        return await self.retrier.run(attempt, kind=RequestKind.SAFE)

    async def download_media(
        self, video: Video, folder: Path, *, include_video: bool = False
    ) -> dict[str, str]:
        """Download a video's scene images and narration (and with `include_video` its MP4 and
        thumbnail) into `folder`; returns {url: local path}, the `media` argument of
        `app.script.sketchpen.video_to_script`, so a converted script outlives the URLs."""
        wanted: list[tuple[str, str]] = []
        for index, scene in enumerate(video.scenes):
            if scene.image_url:
                wanted.append((scene.image_url, f"scene-{index + 1:02d}"))
        if video.audio_url:
            wanted.append((video.audio_url, "narration"))
        if include_video:
            if video.video_url:
                wanted.append((video.video_url, "video"))
            if video.thumbnail_url:
                wanted.append((video.thumbnail_url, "thumbnail"))
        mapping: dict[str, str] = {}
        for url, stem in wanted:
            if url in mapping:
                continue
            suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
            if not suffix or len(suffix) > 6:
                suffix = ".bin"
            path = await self.download(url, Path(folder) / f"{stem}{suffix}")
            mapping[url] = str(path)
        return mapping

    async def _stream_to(self, url: str, temp: Path, on_progress: ProgressCallback | None) -> None:
        own_origin = origin(self.base_url)
        for _hop in range(6):
            same_origin = origin(url) == own_origin
            headers = {"x-api-key": self._key} if same_origin else {}
            try:
                async with self._http.stream(
                    "GET", url, headers=headers, timeout=self._download_timeout()
                ) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        await response.aread()
                        raise parse_error(response, vendor=Vendor.SKETCHPEN)
                    await self._write_body(response, temp, on_progress)
                    return
            except httpx.TransportError as exc:
                raise _network_error(exc, "GET", url) from exc
        raise ApiError(
            code=UNEXPECTED_RESPONSE,
            message="Too many redirects for the media file.",
            url=url,
            vendor=Vendor.SKETCHPEN,
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
                vendor=Vendor.SKETCHPEN,
            )


def _network_error(exc: httpx.TransportError, method: str, url: str) -> ApiError:
    """A network failure as an `ApiError` of this vendor."""
    error = error_from_transport(exc, method=method, url=url)
    error.vendor = Vendor.SKETCHPEN
    return error


def _image_type(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    return {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}.get(
        suffix, "image/png"
    )


__all__ = [
    "IN_PROGRESS",
    "LIFECYCLE",
    "PROCESSING",
    "STOP_STATUSES",
    "Account",
    "Asset",
    "AssetLink",
    "Callback",
    "Caption",
    "Concurrency",
    "CreationUncertain",
    "Feature",
    "PollTiming",
    "Scene",
    "SceneDraft",
    "SketchpenClient",
    "StatusChange",
    "Theme",
    "Video",
    "VideoConfig",
    "VideoFailure",
    "VideoStateError",
    "VideoStatus",
    "Voice",
    "WebhookEvent",
    "api_base",
    "forget_not_offered",
    "parse_time",
    "parse_webhook",
    "skipped_between",
    "verify_webhook",
    "webhook_signature",
]
