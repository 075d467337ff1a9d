"""The Sketchpen contract's routes under /api/v1 (shared/spec/sketchpen-api.md).

Every keyed route runs through `sketch()`: key (401 UNAUTHORIZED / AUTH_ERROR / INVALID_TOKEN) →
scope (403 FORBIDDEN) → rate limit (429 with the plain-string body and Retry-After) → body →
handler. Errors use the envelope `{"error": {code, message, request_id[, details]}}`; every
response carries `X-Request-ID`. Field errors are 422 VALIDATION_ERROR with `details` of
`{loc, msg, type}` in FastAPI's shape (`loc` starts with "body" or "query").

Rate limits are fixed windows per key (spec §9), with separate buckets for reads and writes:
`sketchpen_read_limit` / `sketchpen_write_limit` per `rate_window_seconds`.
"""

from __future__ import annotations

import email.parser
import email.policy
import logging
import re
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from app.server import drafting
from app.server.api import Service, parse_json, read_limited
from app.server.config import ServiceConfig
from app.server.limits import FixedWindowLimiter
from app.server.sketchpen_pipeline import DraftRunner
from app.server.sketchpen_store import (
    MAX_IN_PROGRESS,
    STATUSES,
    AlreadyExists,
    Asset,
    Callback,
    NotEnoughCredits,
    SketchAuthError,
    SketchCaller,
    SketchStore,
    TooManyVideos,
    Video,
    VideoNotFound,
    WrongState,
    media_url,
)

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
REQUEST_ID_HEADER = "X-Request-ID"
TEXT_MAX = 2000
IMAGE_MAX_BYTES = 10 * 1024 * 1024
EVENTS = ("video.completed", "video.failed")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
#: Served media: cards, thumbnails, asset images, narration, videos (not the movie.json).
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,100}\.(?:png|jpg|webp|wav|mp4)$")


# -- the service part -------------------------------------------------------------------------


@dataclass
class Sketchpen:
    """The Sketchpen side of a running service: its store and its workers."""

    config: ServiceConfig
    store: SketchStore
    runner: DraftRunner
    limiter: FixedWindowLimiter

    @classmethod
    def open(cls, config: ServiceConfig) -> Sketchpen:
        store = SketchStore(config.db_path)
        limiter = FixedWindowLimiter(config.rate_window_seconds)
        return cls(config, store, DraftRunner(store, config), limiter)

    def start(self) -> None:
        self.config.sketchpen_dir.mkdir(parents=True, exist_ok=True)
        for voice in drafting.VOICES.values():
            _voice_preview(self.config, voice)
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()
        self.store.close()


class SketchError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def envelope(
    status: int,
    code: str,
    message: str,
    request_id: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details is not None:
        error["details"] = details
    return JSONResponse({"error": error}, status, headers=headers)


def invalid(
    details: list[dict[str, Any]], message: str = "Request validation failed"
) -> SketchError:
    return SketchError(422, "VALIDATION_ERROR", message, details=details)


def detail(loc: list[str | int], msg: str, type: str = "value_error") -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": type}


def _pydantic_details(exc: ValidationError, root: str = "body") -> list[dict[str, Any]]:
    return [
        detail([root, *e["loc"]], e["msg"], e["type"])
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def window_text(seconds: float) -> str:
    """`<M> <unit>` for the rate-limit message: 60 → "1 minute", 2 → "2 seconds"."""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{seconds:g} seconds"


@dataclass
class SCtx:
    request: Request
    service: Service
    sketchpen: Sketchpen
    caller: SketchCaller
    body: bytes = b""

    @property
    def store(self) -> SketchStore:
        return self.sketchpen.store

    @property
    def account_id(self) -> str:
        return self.caller.account.id

    @property
    def base_url(self) -> str:
        return str(self.request.base_url).rstrip("/")


SHandler = Callable[[SCtx], Response]


async def _read(request: Request, limit: int) -> bytes:
    body = await read_limited(request, limit)
    if body is None:
        raise SketchError(
            400,
            "BAD_REQUEST",
            f"Request body is larger than the {limit // (1024 * 1024)} MiB limit",
        )
    return body


def _finish(response: Response, request_id: str) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


#: Each keyed endpoint's route name (the name the `faults` and `absent_routes` switches use).
ROUTE_NAMES: dict[Callable[..., Any], str] = {}


def _methods_offered(path: str, absent: set[str]) -> set[str]:
    """The methods this server answers on `path`, leaving out routes switched absent."""
    allowed: set[str] = set()
    for route in ROUTES:
        offered = ROUTE_NAMES.get(route.endpoint) not in absent
        if offered and route.methods and route.path_regex.match(path):
            allowed |= route.methods
    return allowed - {"HEAD"}


def _absent(request: Request, absent: set[str]) -> Response:
    """The `absent_routes` answer: what a hosted (FastAPI) Sketchpen without this endpoint
    says (spec §0), before any key check: 405 `{"detail": "Method Not Allowed"}` with `Allow`
    when the path has other methods, else 404 `{"detail": "Not Found"}`. No envelope, so the
    client can tell "not offered" from the enveloped NOT_FOUND of a missing video."""
    others = _methods_offered(request.url.path, absent)
    if others:
        allow = ", ".join(sorted(others))
        return JSONResponse({"detail": "Method Not Allowed"}, 405, headers={"Allow": allow})
    return JSONResponse({"detail": "Not Found"}, 404)


def sketch(
    name: str, scope: str | None, *, body_limit: int | None = None
) -> Callable[[SHandler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler: key → scope → rate limit → body → handler (`scope` None: any key).

    `name` is the route's name for the test switches: `name` in `ServiceConfig.faults` makes
    the route fail with INTERNAL_ERROR, `name + ":database"` with DATABASE_ERROR, and `name` in
    `ServiceConfig.absent_routes` answers as a hosted server lacking the endpoint (`_absent`)."""

    def decorate(handler: SHandler) -> Callable[[Request], Awaitable[Response]]:
        def admit(request: Request, service: Service, sketchpen: Sketchpen) -> SCtx | Response:
            """Key, scope and rate limit: the request's context, or the 429 answer."""
            try:
                caller = sketchpen.store.authenticate(request.headers.get("x-api-key"))
            except SketchAuthError as exc:
                raise SketchError(401, exc.code, exc.message) from None
            if scope is not None and not caller.allows(scope):
                raise SketchError(403, "FORBIDDEN", f"This API key lacks the {scope} scope")
            config = service.config
            write = request.method != "GET"
            limit = config.sketchpen_write_limit if write else config.sketchpen_read_limit
            bucket = f"sketchpen:{'write' if write else 'read'}:{caller.key_hash}"
            state = sketchpen.limiter.hit(bucket, limit)
            if not state.allowed:
                text = f"Rate limit exceeded: {limit} per {window_text(sketchpen.limiter.window)}"
                return JSONResponse(
                    {"error": text}, 429, headers={"Retry-After": str(state.retry_after or 1)}
                )
            return SCtx(request, service, sketchpen, caller)

        def run(ctx: SCtx) -> Response:
            faults = ctx.service.config.faults
            if name in faults:
                raise RuntimeError(f"fault switch '{name}' is on")
            if f"{name}:database" in faults:
                raise sqlite3.OperationalError(f"fault switch '{name}:database' is on")
            return handler(ctx)

        def admit_and_run(request: Request, service: Service, sketchpen: Sketchpen) -> Response:
            admitted = admit(request, service, sketchpen)
            return admitted if isinstance(admitted, Response) else run(admitted)

        async def endpoint(request: Request) -> Response:
            service: Service = request.app.state.service
            sketchpen: Sketchpen = request.app.state.sketchpen
            request_id = str(uuid.uuid4())
            if name in service.config.absent_routes:  # test switch: a hosted server without it
                return _finish(_absent(request, service.config.absent_routes), request_id)
            try:
                if body_limit is None:  # one thread-pool trip: polling stays cheap
                    response = await run_in_threadpool(admit_and_run, request, service, sketchpen)
                else:
                    admitted = await run_in_threadpool(admit, request, service, sketchpen)
                    if isinstance(admitted, Response):
                        response = admitted
                    else:
                        admitted.body = await _read(request, body_limit)
                        response = await run_in_threadpool(run, admitted)
            except SketchError as exc:
                response = envelope(
                    exc.status,
                    exc.code,
                    exc.message,
                    request_id,
                    details=exc.details,
                    headers=exc.headers,
                )
            except sqlite3.Error:
                log.exception(
                    "request %s (%s %s): database error", request_id, request.method, name
                )
                response = envelope(500, "DATABASE_ERROR", "A storage operation failed", request_id)
            except Exception:
                log.exception("request %s (%s %s) failed", request_id, request.method, name)
                response = envelope(500, "INTERNAL_ERROR", "Unexpected server error", request_id)
            return _finish(response, request_id)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        ROUTE_NAMES[endpoint] = name
        return endpoint

    return decorate


def _json_body(ctx: SCtx, *, optional: bool = False) -> Any:
    """The parsed JSON body; 400 BAD_REQUEST when it is not JSON or sent as another type."""
    if not ctx.body.strip():
        if optional:
            return None
        raise invalid([detail(["body"], "Field required", "missing")])
    content_type = ctx.request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise SketchError(
            400, "BAD_REQUEST", f"Content-Type must be application/json, not {content_type}"
        )
    try:
        return parse_json(ctx.body)
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise SketchError(400, "BAD_REQUEST", f"Malformed JSON body: {message}") from None


def _validate[T: BaseModel](model: type[T], data: Any) -> T:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(_pydantic_details(exc)) from None


def _uuid_or_404(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise SketchError(404, "NOT_FOUND", f"{what} not found") from None


# -- JSON shapes -------------------------------------------------------------------------------


def video_json(video: Video, base_url: str) -> dict[str, Any]:
    def url(name: str | None) -> str | None:
        return media_url(base_url, video.media_token, name) if name else None

    return {
        "id": video.id,
        "status": video.status,
        "prompt": video.prompt,
        "theme": video.theme,
        "scenes": [
            {
                "id": s["id"],
                "speech": s["speech"],
                "visual_description": s["visual_description"],
                "image_url": url(s.get("image")),
                "assets": list(s.get("assets") or []),
                "captions": list(s.get("captions") or []),
            }
            for s in video.scenes
        ],
        "video_url": url(video.video_file) if video.status == "completed" else None,
        "audio_url": url(video.audio_file),
        "thumbnail_url": url(video.thumbnail_file),
        "processing_time_sec": video.processing_time_sec if video.status == "completed" else None,
        "config": video.config,
        "created_at": video.created_at,
        "updated_at": video.updated_at,
        "error": (
            {"stage": video.error_stage, "message": video.error_message}
            if video.status == "failed"
            else None
        ),
        "credits_charged": video.credits_charged,
    }


def asset_json(asset: Asset, base_url: str) -> dict[str, Any]:
    return {
        "id": asset.id,
        "user_id": asset.account_id,
        "name": asset.name,
        "description": asset.description,
        "type": asset.type,
        "voice_id": asset.voice_id,
        "image_url": (
            media_url(base_url, asset.media_token, asset.image_file) if asset.image_file else None
        ),
        "created_at": asset.created_at,
    }


def callback_json(callback: Callback) -> dict[str, Any]:
    return {
        "id": callback.id,
        "user_id": callback.account_id,
        "url": callback.url,
        "event": callback.event,
        "secret": callback.secret,
        "is_active": callback.is_active,
        "created_at": callback.created_at,
    }


def _video_response(ctx: SCtx, video: Video, status: int = 200) -> JSONResponse:
    return JSONResponse(video_json(video, ctx.base_url), status)


# -- videos ------------------------------------------------------------------------------------

Text = Annotated[str, Field(min_length=1, max_length=TEXT_MAX)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class CreateVideo(_Body):
    prompt: Annotated[str, Field(min_length=1, max_length=TEXT_MAX)]
    fps: Annotated[int, Field(ge=1, le=60)] = 24
    aspect_ratio: Literal["16:9", "9:16", "1:1"] = "16:9"
    theme: str = "presentation"
    voice_id: str | None = None
    audio_mode: Literal["none", "single", "multi_voice"] = "single"
    bg_mode: Literal["white", "dynamic"] = "white"
    asset_ids: list[str] | None = None
    speaker_ids: list[str] | None = None


def _blank(value: str, loc: list[str | int]) -> dict[str, Any] | None:
    if value.strip():
        return None
    return detail(loc, "String should have at least 1 non-space character", "string_too_short")


def _owned_assets(ctx: SCtx, ids: list[str], loc: list[str | int]) -> list[dict[str, Any]]:
    problems = []
    for i, asset_id in enumerate(ids):
        try:
            known = ctx.store.get_asset(ctx.account_id, str(uuid.UUID(asset_id)))
        except ValueError:
            known = None
        if known is None:
            problems.append(detail([*loc, i], f"Unknown asset id '{asset_id}'"))
    return problems


@sketch("videos_create", "videos:write", body_limit=1024 * 1024)
def create_video(ctx: SCtx) -> Response:
    """POST /videos: 201 with the video in pending/scripting; 402, 422, 429."""
    body = _validate(CreateVideo, _json_body(ctx))
    problems: list[dict[str, Any]] = []
    blank = _blank(body.prompt, ["body", "prompt"])
    if blank:
        problems.append(blank)
    if body.theme not in drafting.THEMES:
        problems.append(
            detail(["body", "theme"], f"Unknown theme '{body.theme}'; see GET /themes", "enum")
        )
    if body.voice_id is not None and body.voice_id not in drafting.VOICES:
        problems.append(
            detail(
                ["body", "voice_id"], f"Unknown voice '{body.voice_id}'; see GET /voices", "enum"
            )
        )
    asset_ids = [str(a) for a in body.asset_ids or []]
    problems += _owned_assets(ctx, asset_ids, ["body", "asset_ids"])
    for i, speaker in enumerate(body.speaker_ids or []):
        if speaker not in asset_ids:
            problems.append(
                detail(["body", "speaker_ids", i], f"Speaker '{speaker}' is not in asset_ids")
            )
    if problems:
        raise invalid(problems)
    config = {
        "fps": body.fps,
        "aspect_ratio": body.aspect_ratio,
        "audio_mode": body.audio_mode,
        "bg_mode": body.bg_mode,
        "voice_id": body.voice_id,
        "asset_ids": [str(uuid.UUID(a)) for a in asset_ids],
        "speaker_ids": [str(uuid.UUID(s)) for s in body.speaker_ids or []],
    }
    try:
        video = ctx.store.create_video(
            ctx.caller, prompt=body.prompt, theme=body.theme, config=config, base_url=ctx.base_url
        )
    except NotEnoughCredits as exc:
        raise SketchError(402, "INSUFFICIENT_CREDITS", str(exc)) from None
    except TooManyVideos:
        raise _too_many() from None
    ctx.sketchpen.runner.wake()
    return _video_response(ctx, video, 201)


def _too_many() -> SketchError:
    return SketchError(
        429,
        "MAX_CONCURRENT_VIDEOS",
        f"You have {MAX_IN_PROGRESS} videos in progress (drafts in refining count); "
        "approve or delete one, or wait for one to finish",
    )


def _query_int(ctx: SCtx, name: str, default: int, low: int, high: int | None) -> int:
    text = ctx.request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise invalid(
            [
                detail(
                    ["query", name],
                    "Input should be a valid integer, unable to parse string as an integer",
                    "int_parsing",
                )
            ]
        ) from None
    if value < low:
        raise invalid(
            [
                detail(
                    ["query", name],
                    f"Input should be greater than or equal to {low}",
                    "greater_than_equal",
                )
            ]
        )
    if high is not None and value > high:
        raise invalid(
            [
                detail(
                    ["query", name],
                    f"Input should be less than or equal to {high}",
                    "less_than_equal",
                )
            ]
        )
    return value


@sketch("videos_list", "videos:read")
def list_videos(ctx: SCtx) -> Response:
    """GET /videos?status=&limit=&offset=: newest first, a bare array of full videos."""
    statuses: list[str] | None = None
    text = ctx.request.query_params.get("status")
    if text is not None:
        statuses = [s.strip() for s in text.split(",") if s.strip()]
        bad = [s for s in statuses if s not in STATUSES]
        if bad or not statuses:
            raise invalid(
                [
                    detail(
                        ["query", "status"],
                        f"Input should be one or more of {', '.join(STATUSES)} (got {text!r})",
                        "enum",
                    )
                ]
            )
    limit = _query_int(ctx, "limit", 20, 1, 100)
    offset = _query_int(ctx, "offset", 0, 0, 2**31 - 1)
    videos = ctx.store.list_videos(ctx.account_id, statuses=statuses, limit=limit, offset=offset)
    return JSONResponse([video_json(v, ctx.base_url) for v in videos])


def _video_id(ctx: SCtx) -> str:
    return _uuid_or_404(ctx.request.path_params["video_id"], "Video")


def _owned_video(ctx: SCtx) -> Video:
    try:
        return ctx.store.owned_video(ctx.account_id, _video_id(ctx))
    except VideoNotFound:
        raise SketchError(404, "NOT_FOUND", "Video not found") from None


def _state_call(ctx: SCtx, call: Callable[[], Video]) -> Video:
    try:
        return call()
    except VideoNotFound:
        raise SketchError(404, "NOT_FOUND", "Video not found") from None
    except WrongState as exc:
        raise SketchError(409, "INVALID_STATE", str(exc)) from None
    except TooManyVideos:
        raise _too_many() from None
    except NotEnoughCredits as exc:
        raise SketchError(402, "INSUFFICIENT_CREDITS", str(exc)) from None


@sketch("video_get", "videos:read")
def get_video(ctx: SCtx) -> Response:
    """GET /videos/{id}: the polling call."""
    return _video_response(ctx, _owned_video(ctx))


@sketch("video_approve", "videos:write", body_limit=1024 * 1024)
def approve_video(ctx: SCtx) -> Response:
    """POST /videos/{id}/approve: refining (or failed with scenes: retry) → visualising."""
    video_id = _video_id(ctx)
    video = _state_call(ctx, lambda: ctx.store.approve(ctx.caller, video_id))
    ctx.sketchpen.runner.wake()
    return _video_response(ctx, video)


class Regenerate(_Body):
    feedback: Annotated[str, Field(max_length=TEXT_MAX)] = ""


@sketch("video_regenerate", "videos:write", body_limit=1024 * 1024)
def regenerate_video(ctx: SCtx) -> Response:
    """POST /videos/{id}/regenerate {feedback}: refining or failed without scenes → scripting."""
    data = _json_body(ctx, optional=True)
    body = _validate(Regenerate, {} if data is None else data)
    video_id = _video_id(ctx)
    video = _state_call(ctx, lambda: ctx.store.regenerate(ctx.caller, video_id, body.feedback))
    ctx.sketchpen.runner.wake()
    return _video_response(ctx, video)


class ScenePatch(_Body):
    speech: Text | None = None
    visual_description: Text | None = None


@sketch("scene_patch", "videos:write", body_limit=1024 * 1024)
def patch_scene(ctx: SCtx) -> Response:
    """PATCH /videos/{id}/scenes/{scene_id}: edit one scene in refining; 200 full video."""
    body = _validate(ScenePatch, _json_body(ctx))
    if body.speech is None and body.visual_description is None:
        raise invalid(
            [detail(["body"], "Send at least one of speech, visual_description", "missing")]
        )
    problems = [
        p
        for p in (
            _blank(body.speech, ["body", "speech"]) if body.speech is not None else None,
            _blank(body.visual_description, ["body", "visual_description"])
            if body.visual_description is not None
            else None,
        )
        if p
    ]
    if problems:
        raise invalid(problems)
    video_id = _video_id(ctx)
    scene_id = ctx.request.path_params["scene_id"]

    def change(scenes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for scene in scenes:
            if scene["id"] == scene_id:
                if body.speech is not None:
                    scene["speech"] = body.speech
                if body.visual_description is not None:
                    scene["visual_description"] = body.visual_description
                return scenes
        raise SketchError(404, "NOT_FOUND", "Scene not found")

    video = _state_call(
        ctx, lambda: ctx.store.edit_scenes(ctx.caller, video_id, change, action="edit scenes of")
    )
    return _video_response(ctx, video)


class SceneItem(_Body):
    id: str | None = None
    speech: Text
    visual_description: Text
    assets: list[str] | None = None


_SCENE_LIST = TypeAdapter(
    Annotated[list[SceneItem], Field(min_length=1, max_length=drafting.MAX_SCENES)],
    config=ConfigDict(strict=True),
)


@sketch("scenes_put", "videos:write", body_limit=4 * 1024 * 1024)
def put_scenes(ctx: SCtx) -> Response:
    """PUT /videos/{id}/scenes [scene, …]: the whole list, in play order (refining only)."""
    data = _json_body(ctx)
    try:
        items = _SCENE_LIST.validate_python(data)
    except ValidationError as exc:
        raise invalid(_pydantic_details(exc)) from None
    problems: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        for field in ("speech", "visual_description"):
            blank = _blank(getattr(item, field), ["body", i, field])
            if blank:
                problems.append(blank)
        problems += _owned_assets(ctx, item.assets or [], ["body", i, "assets"])
    if problems:
        raise invalid(problems)
    video_id = _video_id(ctx)

    def change(scenes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        known = {s["id"]: s for s in scenes}
        seen: set[str] = set()
        bad: list[dict[str, Any]] = []
        out: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            if item.id is None:
                scene: dict[str, Any] = {
                    "id": str(uuid.uuid4()),
                    "image": None,
                    "assets": [],
                    "captions": [],
                }
            elif item.id in seen:
                bad.append(detail(["body", i, "id"], f"Duplicate scene id '{item.id}'"))
                continue
            elif item.id not in known:
                bad.append(detail(["body", i, "id"], f"Unknown scene id '{item.id}'"))
                continue
            else:
                seen.add(item.id)
                scene = dict(known[item.id])
            scene["speech"] = item.speech
            scene["visual_description"] = item.visual_description
            if item.assets is not None:
                scene["assets"] = [str(uuid.UUID(a)) for a in item.assets]
            out.append(scene)
        if bad:
            raise invalid(bad)
        return out

    video = _state_call(
        ctx, lambda: ctx.store.edit_scenes(ctx.caller, video_id, change, action="edit scenes of")
    )
    return _video_response(ctx, video)


@sketch("video_delete", "videos:write")
def delete_video(ctx: SCtx) -> Response:
    """DELETE /videos/{id}: 204 unless it is being processed; media removed, no refund."""
    video_id = _video_id(ctx)
    video = _state_call(ctx, lambda: ctx.store.delete_video(ctx.caller, video_id))
    ctx.sketchpen.runner.remove_media(video.id)
    return Response(status_code=204)


# -- themes, voices, account -------------------------------------------------------------------


async def themes(request: Request) -> Response:
    """GET /themes: no key needed (a key sent is ignored)."""
    body = [
        {"id": t.id, "name": t.name, "description": t.description} for t in drafting.THEMES.values()
    ]
    return _finish(JSONResponse(body), str(uuid.uuid4()))


def _voice_preview(config: ServiceConfig, voice: drafting.Voice) -> None:
    """A short tone-bed sample of the voice, written once (at start) for `preview_url`."""
    path = config.sketchpen_dir / "voices" / f"{voice.id}.wav"
    if not path.is_file():
        timing = drafting.narrate("This is how this voice sounds.")
        drafting.write_tone_bed(path, [(timing.duration, timing.captions, voice.pitch)])


async def voices(request: Request) -> Response:
    """GET /voices: {"voices": […]}, the tone-bed voices this service renders offline."""
    base = str(request.base_url).rstrip("/")
    out = []
    for voice in drafting.VOICES.values():
        out.append(
            {
                "id": voice.id,
                "name": voice.name,
                "description": voice.description,
                "tags": list(voice.tags),
                "preview_url": media_url(base, "voices", f"{voice.id}.wav"),
            }
        )
    return _finish(JSONResponse({"voices": out}), str(uuid.uuid4()))


@sketch("sketchpen_account", None)
def account(ctx: SCtx) -> Response:
    """GET /account: balance, the 3-video slots, and the key's mode."""
    return JSONResponse(
        {
            "credits_balance": ctx.store.balance(ctx.account_id),
            "concurrency": {
                "limit": MAX_IN_PROGRESS,
                "active": ctx.store.in_progress(ctx.account_id),
            },
            "key_mode": ctx.caller.key_mode,
        }
    )


# -- assets ------------------------------------------------------------------------------------


class CreateAsset(_Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=TEXT_MAX)] = ""
    type: Literal["character", "object"]
    voice_id: str | None = None


@sketch("assets_create", "assets:write", body_limit=1024 * 1024)
def create_asset(ctx: SCtx) -> Response:
    """POST /assets: a character needs a voice_id (it can speak)."""
    body = _validate(CreateAsset, _json_body(ctx))
    problems = [p for p in (_blank(body.name, ["body", "name"]),) if p]
    if body.type == "character" and body.voice_id is None:
        problems.append(detail(["body", "voice_id"], "Field required for a character", "missing"))
    if body.voice_id is not None and body.voice_id not in drafting.VOICES:
        problems.append(
            detail(
                ["body", "voice_id"], f"Unknown voice '{body.voice_id}'; see GET /voices", "enum"
            )
        )
    if problems:
        raise invalid(problems)
    asset = ctx.store.create_asset(
        ctx.account_id,
        name=body.name.strip(),
        description=body.description,
        type=body.type,
        voice_id=body.voice_id,
    )
    return JSONResponse(asset_json(asset, ctx.base_url), 201)


@sketch("assets_list", "assets:read")
def list_assets(ctx: SCtx) -> Response:
    """GET /assets?type=character|object."""
    kind = ctx.request.query_params.get("type")
    if kind is not None and kind not in ("character", "object"):
        raise invalid(
            [detail(["query", "type"], "Input should be 'character' or 'object'", "literal_error")]
        )
    assets = ctx.store.list_assets(ctx.account_id, kind)
    return JSONResponse([asset_json(a, ctx.base_url) for a in assets])


def _image_kind(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _multipart_file(ctx: SCtx) -> bytes:
    content_type = ctx.request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise SketchError(400, "BAD_REQUEST", "Send the image as multipart/form-data, part 'file'")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + ctx.body)
    if not message.is_multipart():
        raise SketchError(400, "BAD_REQUEST", "Malformed multipart body")
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
    raise invalid([detail(["body", "file"], "Field required", "missing")])


@sketch("asset_image", "assets:write", body_limit=IMAGE_MAX_BYTES + 1024 * 1024)
def upload_asset_image(ctx: SCtx) -> Response:
    """POST /assets/{id}/image (multipart `file`): PNG, JPEG or WebP up to 10 MiB."""
    asset_id = _uuid_or_404(ctx.request.path_params["asset_id"], "Asset")
    asset = ctx.store.get_asset(ctx.account_id, asset_id)
    if asset is None:
        raise SketchError(404, "NOT_FOUND", "Asset not found")
    data = _multipart_file(ctx)
    if len(data) > IMAGE_MAX_BYTES:
        raise invalid([detail(["body", "file"], "The image is larger than 10 MiB")])
    kind = _image_kind(data)
    if kind is None:
        raise invalid([detail(["body", "file"], "The file is not a PNG, JPEG or WebP image")])
    folder = ctx.sketchpen.config.sketchpen_dir / "assets" / asset.id
    folder.mkdir(parents=True, exist_ok=True)
    name = f"image-{uuid.uuid4().hex[:8]}.{kind}"
    part = folder / (name + ".part")
    part.write_bytes(data)
    part.replace(folder / name)
    for old in folder.glob("image-*"):
        if old.name != name:
            old.unlink(missing_ok=True)
    ctx.store.set_asset_image(asset.id, name)
    updated = ctx.store.get_asset(ctx.account_id, asset.id)
    assert updated is not None
    return JSONResponse(asset_json(updated, ctx.base_url))


class LinkAsset(_Body):
    asset_id: str


@sketch("asset_link", "assets:write", body_limit=1024 * 1024)
def link_asset(ctx: SCtx) -> Response:
    """POST /assets/videos/{video_id}/refs {asset_id}: 201; 409 CONFLICT or INVALID_STATE."""
    body = _validate(LinkAsset, _json_body(ctx))
    problems = _owned_assets(ctx, [body.asset_id], ["body", "asset_id"])
    if problems:
        problems[0]["loc"] = ["body", "asset_id"]
        raise invalid(problems)
    asset_id = str(uuid.UUID(body.asset_id))
    video_id = _video_id(ctx)
    try:
        created = ctx.store.link_asset(ctx.caller, video_id, asset_id)
    except VideoNotFound:
        raise SketchError(404, "NOT_FOUND", "Video not found") from None
    except WrongState as exc:
        raise SketchError(409, "INVALID_STATE", str(exc)) from None
    except AlreadyExists:
        raise SketchError(409, "CONFLICT", "The asset is already linked to this video") from None
    return JSONResponse({"video_id": video_id, "asset_id": asset_id, "created_at": created}, 201)


# -- callbacks ---------------------------------------------------------------------------------


class CreateCallback(_Body):
    url: Annotated[str, Field(min_length=1, max_length=TEXT_MAX)]
    event: Literal["video.completed", "video.failed"]


def _callback_url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "Not a valid URL"
    if not host:
        return "Not a valid URL"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return None
    return "URL must use https (http only for 127.0.0.1, ::1 or localhost)"


@sketch("callbacks_create", "callbacks:write", body_limit=1024 * 1024)
def create_callback(ctx: SCtx) -> Response:
    """POST /callbacks {url, event}: 201 with its secret; a duplicate is 409 CONFLICT."""
    body = _validate(CreateCallback, _json_body(ctx))
    problem = _callback_url_problem(body.url)
    if problem:
        raise invalid([detail(["body", "url"], problem, "url_scheme")])
    try:
        callback = ctx.store.create_callback(ctx.account_id, body.url, body.event)
    except AlreadyExists:
        raise SketchError(
            409, "CONFLICT", "This URL is already registered for this event"
        ) from None
    return JSONResponse(callback_json(callback), 201)


@sketch("callbacks_list", "callbacks:read")
def list_callbacks(ctx: SCtx) -> Response:
    """GET /callbacks."""
    return JSONResponse([callback_json(c) for c in ctx.store.list_callbacks(ctx.account_id)])


@sketch("callback_delete", "callbacks:write")
def delete_callback(ctx: SCtx) -> Response:
    """DELETE /callbacks/{id}: 204, or 404."""
    callback_id = _uuid_or_404(ctx.request.path_params["callback_id"], "Callback")
    if not ctx.store.delete_callback(ctx.account_id, callback_id):
        raise SketchError(404, "NOT_FOUND", "Callback not found")
    return Response(status_code=204)


# -- files and unknown paths -------------------------------------------------------------------


async def files(request: Request) -> Response:
    """GET /files/{token}/{name}: media by unguessable token, no key, byte ranges."""
    request_id = str(uuid.uuid4())
    service: Service = request.app.state.service
    sketchpen: Sketchpen = request.app.state.sketchpen
    token = request.path_params["token"]
    name = request.path_params["name"]
    root = service.config.sketchpen_dir
    folder: Path | None = None
    if token == "voices":
        folder = root / "voices"
    elif re.fullmatch(r"[0-9a-f]{32}", token):
        try:
            if "files:database" in service.config.faults:
                raise sqlite3.OperationalError("fault switch 'files:database' is on")
            owner = await run_in_threadpool(sketchpen.store.media_owner, token)
        except sqlite3.Error:
            log.exception("request %s (GET files): database error", request_id)
            response = envelope(500, "DATABASE_ERROR", "A storage operation failed", request_id)
            return _finish(response, request_id)
        if owner is not None:
            folder = root / ("videos" if owner[0] == "video" else "assets") / owner[1]
    path = folder / name if folder is not None and _FILE_NAME.match(name) else None
    if path is None or not path.is_file():
        return _finish(envelope(404, "NOT_FOUND", "File not found", request_id), request_id)
    return _finish(FileResponse(path), request_id)


async def unknown(request: Request) -> Response:
    """Any other /api/v1 path: 404 NOT_FOUND (or 405 for a known path with another method)."""
    request_id = str(uuid.uuid4())
    service: Service = request.app.state.service
    allowed = _methods_offered(request.url.path, service.config.absent_routes)
    if allowed:
        methods = ", ".join(sorted(allowed))
        return _finish(
            envelope(
                405,
                "BAD_REQUEST",
                f"Method {request.method} is not allowed on {request.url.path}; use {methods}",
                request_id,
                headers={"Allow": methods},
            ),
            request_id,
        )
    return _finish(
        envelope(404, "NOT_FOUND", f"No such endpoint: {request.url.path}", request_id), request_id
    )


ROUTES = [
    Route(PREFIX + "/videos", create_video, methods=["POST"]),
    Route(PREFIX + "/videos", list_videos, methods=["GET"]),
    Route(PREFIX + "/videos/{video_id}", get_video, methods=["GET"]),
    Route(PREFIX + "/videos/{video_id}", delete_video, methods=["DELETE"]),
    Route(PREFIX + "/videos/{video_id}/approve", approve_video, methods=["POST"]),
    Route(PREFIX + "/videos/{video_id}/regenerate", regenerate_video, methods=["POST"]),
    Route(PREFIX + "/videos/{video_id}/scenes", put_scenes, methods=["PUT"]),
    Route(PREFIX + "/videos/{video_id}/scenes/{scene_id}", patch_scene, methods=["PATCH"]),
    Route(PREFIX + "/themes", themes, methods=["GET"]),
    Route(PREFIX + "/voices", voices, methods=["GET"]),
    Route(PREFIX + "/assets", create_asset, methods=["POST"]),
    Route(PREFIX + "/assets", list_assets, methods=["GET"]),
    Route(PREFIX + "/assets/{asset_id}/image", upload_asset_image, methods=["POST"]),
    Route(PREFIX + "/assets/videos/{video_id}/refs", link_asset, methods=["POST"]),
    Route(PREFIX + "/callbacks", create_callback, methods=["POST"]),
    Route(PREFIX + "/callbacks", list_callbacks, methods=["GET"]),
    Route(PREFIX + "/callbacks/{callback_id}", delete_callback, methods=["DELETE"]),
    Route(PREFIX + "/account", account, methods=["GET"]),
    Route(PREFIX + "/files/{token}/{name}", files, methods=["GET"]),
]


def routes() -> list[Route]:
    """The Sketchpen routes, then a catch-all so unknown /api/v1 paths answer in its envelope."""
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return [
        *ROUTES,
        Route(PREFIX, unknown, methods=methods),
        Route(PREFIX + "/{rest:path}", unknown, methods=methods),
    ]
