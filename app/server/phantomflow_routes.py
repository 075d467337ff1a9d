"""The PhantomFlow contract's routes (shared/spec/phantomflow-api.md), one handler per endpoint.

Each handler runs after the common checks of `api.keyed` (key → rate limit → body read) and
continues the contract's order itself: JSON parse → idempotency → required fields/types → value
rules → lookup/ownership → schema → credits → concurrency. Scripts are checked with the studio's
own validator (`app.script.validate`), so the service and the editor never disagree.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.script.cost import estimate_credits
from app.script.jsonpath import format_path
from app.script.lint import script_rules
from app.script.model import Movie
from app.script.schema import build_schema, bundled_schema, schema_text
from app.script.templates import find_variables, substitute
from app.script.validate import validate_data
from app.server.api import ApiError, Ctx, Service, keyed, parse_json
from app.server.jobs import estimate_wait, output_url
from app.server.limits import limits_of
from app.server.store import (
    TEMPLATE_ID_PATTERN,
    ConcurrencyExceeded,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidState,
    Job,
    NotFound,
    Submission,
    SubmitResult,
    Template,
)

STATUSES = ("queued", "rendering", "completed", "failed", "cancelled")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
NAME_MAX = 100
RENDER_PATH = "/api/render"
TEMPLATE_RENDER_PATH = "/api/render/template"


# -- shared helpers ---------------------------------------------------------------------------


def _first_problem(data: Any, *, skip: set[tuple[str | int, ...]] | None = None) -> Any:
    """The first schema violation (then cross-field rule) of a script, or None."""
    skip = skip or set()
    problems = [p for p in validate_data(data, schema=bundled_schema()) if p.path not in skip]
    if not problems:
        problems = [p for p in script_rules(data) if p.path not in skip]
    return problems[0] if problems else None


def _validated_movie(data: Any) -> Movie:
    """The resolved script as a Movie, or SCHEMA_VALIDATION_ERROR at its first violation."""
    problem = _first_problem(data)
    if problem is not None:
        raise ApiError(
            400, "SCHEMA_VALIDATION_ERROR", problem.message, path=format_path(problem.path)
        )
    try:
        return Movie.model_validate(data)
    except ValidationError as exc:  # the schema and the models agree; this is a safety net
        first = exc.errors()[0]
        path = ".".join(str(part) for part in first["loc"])
        raise ApiError(400, "SCHEMA_VALIDATION_ERROR", first["msg"], path=path) from None


def _template_problem(script: Any) -> None:
    """Schema-check a template script: a placeholder string is accepted in any position (its
    value is only known at render time, when the resolved script is checked again)."""
    unresolved = substitute(script, {}).unresolved
    problem = _first_problem(script, skip=unresolved)
    if problem is not None:
        raise ApiError(
            400, "SCHEMA_VALIDATION_ERROR", problem.message, path=format_path(problem.path)
        )


def _body_hash(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _idempotency_key(ctx: Ctx) -> str | None:
    key = ctx.request.headers.get("idempotency-key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            400, "INVALID_REQUEST", "Idempotency-Key must be 1-255 visible ASCII characters"
        )
    return key


def _replay(ctx: Ctx, path: str, key: str | None, body_hash: str) -> Response | None:
    if key is None:
        return None
    try:
        found = ctx.store.replay(
            ctx.account_id, path, key, body_hash, ctx.service.config.idempotency_ttl_seconds
        )
    except IdempotencyConflict:
        raise ApiError(
            409, "IDEMPOTENCY_CONFLICT", "Idempotency-Key was used with a different body"
        ) from None
    return None if found is None else _accepted(found)


def _accepted(result: SubmitResult) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return JSONResponse(
        {
            "job_id": result.job.id,
            "status": result.job.status,
            "estimated_credits": result.job.estimated_credits,
            "credits_remaining": result.balance,
        },
        202,
        headers=headers,
    )


def _submit(
    ctx: Ctx,
    movie_data: Any,
    movie: Movie,
    *,
    path: str,
    key: str | None,
    body_hash: str,
    template_id: str | None,
) -> Response:
    """Reserve and queue: credits, then concurrency, atomically with the idempotency record."""
    _, concurrency = limits_of(ctx.caller.account)
    submission = Submission(
        key_mode=ctx.caller.key_mode,
        estimated_credits=estimate_credits(movie),
        script=json.dumps(movie_data, ensure_ascii=False),
        webhook_uri=movie.webhook_uri,
        template_id=template_id,
        base_url=ctx.base_url,
    )
    try:
        result = ctx.store.submit_job(
            ctx.caller,
            submission,
            concurrency_limit=concurrency,
            idempotency=(path, key, body_hash) if key is not None else None,
            idempotency_ttl=ctx.service.config.idempotency_ttl_seconds,
        )
    except IdempotencyConflict:
        raise ApiError(
            409, "IDEMPOTENCY_CONFLICT", "Idempotency-Key was used with a different body"
        ) from None
    except InsufficientCredits as exc:
        raise ApiError(
            402, "INSUFFICIENT_CREDITS", str(exc), required=exc.required, balance=exc.balance
        ) from None
    except ConcurrencyExceeded as exc:
        raise ApiError(
            429,
            "CONCURRENCY_LIMIT_EXCEEDED",
            str(exc),
            headers={"Retry-After": str(estimate_wait(exc.active))},
        ) from None
    if not result.replayed:
        ctx.service.runner.wake()
    return _accepted(result)


def job_json(job: Job) -> dict[str, Any]:
    """The documented job object (spec §2.5); every field present, null when empty."""
    completed = job.status == "completed"
    return {
        "job_id": job.id,
        "status": job.status,
        "progress": 1 if completed else (0 if job.status == "queued" else round(job.progress, 4)),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "estimated_credits": job.estimated_credits,
        "credits_used": None if job.is_active else job.credits_used,
        "duration_seconds": job.duration_seconds if completed else None,
        "output_url": output_url(job) if completed else None,
        "error": (
            {"code": job.error_code, "message": job.error_message}
            if job.status == "failed"
            else None
        ),
        "template_id": job.template_id,
    }


def _template_json(template: Template, account_id: str, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": template.id,
        "name": template.name,
        "is_public": template.is_public,
        "owner": "me" if template.account_id == account_id else "other",
        "variables": template.variables,
        "created_at": template.created_at,
        "updated_at": template.updated_at,
    }
    if full:
        out["script"] = template.script
    return out


def _object_body(ctx: Ctx) -> dict[str, Any]:
    data = parse_json(ctx.body)
    if not isinstance(data, dict):
        raise ApiError(400, "INVALID_REQUEST", "Request body must be a JSON object")
    return data


def _visible_template(ctx: Ctx, template_id: str) -> Template:
    """A template the caller may read (own or public), else NOT_FOUND."""
    template = (
        ctx.store.get_template(template_id) if TEMPLATE_ID_PATTERN.match(template_id) else None
    )
    if template is None or (template.account_id != ctx.account_id and not template.is_public):
        raise ApiError(404, "NOT_FOUND", "Template not found")
    return template


def _owned_job(ctx: Ctx) -> Job:
    job_id = ctx.request.path_params["job_id"]
    try:
        uuid.UUID(job_id)
        return ctx.store.owned_job(ctx.account_id, job_id, summary=True)
    except (ValueError, NotFound):
        raise ApiError(404, "NOT_FOUND", "Job not found") from None


# -- renders ----------------------------------------------------------------------------------


@keyed("render", body=True)
def render(ctx: Ctx) -> Response:
    """POST /api/render: validate a movie script, reserve its estimate, queue it."""
    data = parse_json(ctx.body)
    key = _idempotency_key(ctx)
    body_hash = _body_hash(data)
    replayed = _replay(ctx, RENDER_PATH, key, body_hash)
    if replayed is not None:
        return replayed
    movie = _validated_movie(data)
    return _submit(
        ctx, data, movie, path=RENDER_PATH, key=key, body_hash=body_hash, template_id=None
    )


@keyed("render_template", body=True)
def render_template(ctx: Ctx) -> Response:
    """POST /api/render/template: substitute variables into a visible template and queue it."""
    data = parse_json(ctx.body)
    key = _idempotency_key(ctx)
    body_hash = _body_hash(data)
    replayed = _replay(ctx, TEMPLATE_RENDER_PATH, key, body_hash)
    if replayed is not None:
        return replayed
    if not isinstance(data, dict):
        raise ApiError(400, "INVALID_REQUEST", "Request body must be a JSON object")
    template_id = data.get("template_id")
    if template_id is None:
        raise ApiError(400, "INVALID_REQUEST", "template_id is required")
    if not isinstance(template_id, str):
        raise ApiError(400, "INVALID_REQUEST", "template_id must be a string")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ApiError(400, "INVALID_REQUEST", "variables must be a JSON object")
    has_webhook = "webhook_uri" in data
    webhook = data.get("webhook_uri")
    if webhook is not None and not isinstance(webhook, str):
        raise ApiError(400, "INVALID_REQUEST", "webhook_uri must be a string")
    template = (
        ctx.store.get_template(template_id) if TEMPLATE_ID_PATTERN.match(template_id) else None
    )
    if template is None or (template.account_id != ctx.account_id and not template.is_public):
        raise ApiError(404, "TEMPLATE_NOT_FOUND", f"Template {template_id} does not exist")
    sub = substitute(template.script, variables)
    if sub.missing:
        names = list(sub.missing)
        raise ApiError(
            400,
            "VALIDATION_ERROR",
            f"Missing template variables: {', '.join(names)}",
            path=f"variables.{names[0]}",
        )
    resolved = sub.data
    if has_webhook and isinstance(resolved, dict):
        resolved = {k: v for k, v in resolved.items() if k != "webhook_uri"}
        if webhook is not None:
            resolved["webhook_uri"] = webhook
    movie = _validated_movie(resolved)
    return _submit(
        ctx,
        resolved,
        movie,
        path=TEMPLATE_RENDER_PATH,
        key=key,
        body_hash=body_hash,
        template_id=template.id,
    )


async def schema(request: Request) -> Response:
    """GET /api/render/schema: public; a valid key is counted, any other key is ignored."""
    service: Service = request.app.state.service
    text, etag = service.extras["schema"]
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    key = request.headers.get("x-api-key")
    if key:
        try:
            caller = await run_in_threadpool(service.store.authenticate, key)
        except Exception:
            caller = None
        if caller is not None:
            limit, _ = limits_of(caller.account)
            state = service.limiter.hit(caller.account.id, limit)
            if not state.allowed:  # a public document is never refused; report the full window
                state = service.limiter.peek(caller.account.id, limit)
            headers.update({k: v for k, v in state.headers().items() if k != "Retry-After"})
    matches = [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]
    if etag in matches or "*" in matches:
        return Response(status_code=304, headers=headers)
    return Response(text, 200, headers=headers, media_type="application/schema+json")


# -- jobs -------------------------------------------------------------------------------------


def _encode_cursor(job: Job, snapshot: int) -> str:
    """Opaque: the last job's keyset position and the listing's snapshot (newest seq)."""
    raw = json.dumps([job.created_at, job.id, snapshot]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, job_id, snapshot = json.loads(raw)
        if not (isinstance(created_at, str) and isinstance(job_id, str) and type(snapshot) is int):
            raise ValueError(cursor)
        return created_at, job_id, snapshot
    except (ValueError, TypeError, binascii.Error):
        raise ApiError(
            400, "VALIDATION_ERROR", "cursor is not a valid cursor", path="cursor"
        ) from None


@keyed("jobs_list", inline=True)
def list_jobs(ctx: Ctx) -> Response:
    """GET /api/jobs: newest first, keyset-paged (new jobs never shift later pages).
    Runs on the event loop (a polling read: indexed, scripts not read, at most 101 rows)."""
    params = ctx.request.query_params
    statuses: list[str] | None = None
    if "status" in params:
        statuses = [s.strip() for s in params["status"].split(",")]
        bad = [s for s in statuses if s not in STATUSES]
        if bad or not statuses:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                f"status must be one or more of {', '.join(STATUSES)}",
                path="status",
            )
    limit = 20
    if "limit" in params:
        text = params["limit"]
        if not text.isdigit() or not 1 <= int(text) <= 100:
            raise ApiError(
                400, "VALIDATION_ERROR", "limit must be an integer from 1 to 100", path="limit"
            )
        limit = int(text)
    if "cursor" in params:
        created_at, job_id, snapshot = _decode_cursor(params["cursor"])
        after: tuple[str, str] | None = (created_at, job_id)
    else:
        after, snapshot = None, ctx.store.last_seq()
    jobs = ctx.store.list_jobs(
        ctx.account_id,
        statuses=statuses,
        limit=limit + 1,
        after=after,
        max_seq=snapshot,
        summary=True,
    )
    page = jobs[:limit]
    next_cursor = _encode_cursor(page[-1], snapshot) if len(jobs) > limit else None
    return JSONResponse({"jobs": [job_json(j) for j in page], "next_cursor": next_cursor})


@keyed("job_get", inline=True)
def get_job(ctx: Ctx) -> Response:
    """GET /api/jobs/{job_id}. Runs on the event loop (one primary-key read, script not read)."""
    return JSONResponse(job_json(_owned_job(ctx)))


@keyed("job_cancel")
def cancel_job(ctx: Ctx) -> Response:
    """DELETE /api/jobs/{job_id}: cancel an active job; the whole reservation comes back."""
    job = _owned_job(ctx)
    try:
        cancelled = ctx.store.cancel_job(ctx.account_id, job.id)
    except NotFound:
        raise ApiError(404, "NOT_FOUND", "Job not found") from None
    except InvalidState as exc:
        raise ApiError(409, "INVALID_STATE", f"Job is already {exc}") from None
    ctx.service.runner.cancel(job.id)
    return JSONResponse(job_json(cancelled))


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) of a single satisfiable range; None for no/ignored range header.
    Raises 416 for an unsatisfiable one. Multiple ranges are answered with the whole file."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # suffix range: the last N bytes
        length = int(last_text)
        if length == 0 or size == 0:
            raise ApiError(
                416,
                "INVALID_REQUEST",
                "Range not satisfiable",
                headers={"Content-Range": f"bytes */{size}"},
            )
        return max(0, size - length), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise ApiError(
            416,
            "INVALID_REQUEST",
            "Range not satisfiable",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return first, min(last, size - 1)


def _file_chunks(path: str, first: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        handle.seek(first)
        left = length
        while left > 0:
            chunk = handle.read(min(256 * 1024, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


@keyed("job_output")
def job_output(ctx: Ctx) -> Response:
    """GET /api/jobs/{job_id}/output: the video of a completed job, with single-range support.
    The file path comes from the job row, never from the request, so nothing else is served."""
    job = _owned_job(ctx)
    if job.status != "completed":
        raise ApiError(409, "INVALID_STATE", f"Job is {job.status}; its output is not ready")
    path = job.output_path
    try:
        stat = os.stat(path) if path else None
    except OSError:
        stat = None
    if path is None or stat is None:
        raise ApiError(404, "NOT_FOUND", "The job's output is no longer available")
    size = stat.st_size
    # Size and modification time: a file rewritten in place, even at the same size, gets a new
    # tag, so a client resuming with If-Range receives the whole new file instead of a splice.
    etag = f'"{job.id}-{size}-{stat.st_mtime_ns:x}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes"}
    wanted = _byte_range(ctx.request.headers.get("range"), size)
    if wanted is not None and ctx.request.headers.get("if-range", etag) != etag:
        wanted = None  # the file changed since the client's partial copy: send it whole
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            _file_chunks(path, 0, size), 200, headers=headers, media_type="video/mp4"
        )
    first, last = wanted
    length = last - first + 1
    headers["Content-Length"] = str(length)
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(
        _file_chunks(path, first, length), 206, headers=headers, media_type="video/mp4"
    )


# -- templates --------------------------------------------------------------------------------


def _template_fields(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Types first (INVALID_REQUEST), then value rules (VALIDATION_ERROR), like create/PUT."""
    fields: dict[str, Any] = {k: data[k] for k in ("name", "script", "is_public") if k in data}
    if partial and not fields:
        raise ApiError(400, "INVALID_REQUEST", "Send at least one of name, script, is_public")
    if not partial:
        for required in ("name", "script"):
            if required not in fields:
                raise ApiError(400, "INVALID_REQUEST", f"{required} is required")
    if "name" in fields and not isinstance(fields["name"], str):
        raise ApiError(400, "INVALID_REQUEST", "name must be a string")
    if "script" in fields and not isinstance(fields["script"], dict):
        raise ApiError(400, "INVALID_REQUEST", "script must be a JSON object")
    if "is_public" in fields and not isinstance(fields["is_public"], bool):
        raise ApiError(400, "INVALID_REQUEST", "is_public must be a boolean")
    if "name" in fields:
        name = fields["name"].strip()
        if not name:
            raise ApiError(400, "VALIDATION_ERROR", "Template name must not be empty", path="name")
        if len(name) > NAME_MAX:
            raise ApiError(
                400,
                "VALIDATION_ERROR",
                f"Template name must be at most {NAME_MAX} characters",
                path="name",
            )
        fields["name"] = name
    return fields


@keyed("templates_create", body=True)
def create_template(ctx: Ctx) -> Response:
    """POST /api/templates."""
    fields = _template_fields(_object_body(ctx), partial=False)
    _template_problem(fields["script"])
    template = ctx.store.create_template(
        ctx.account_id,
        fields["name"],
        fields["script"],
        list(find_variables(fields["script"])),
        fields.get("is_public", False),
    )
    return JSONResponse(_template_json(template, ctx.account_id, full=True), 201)


@keyed("templates_list")
def list_templates(ctx: Ctx) -> Response:
    """GET /api/templates: own templates and every public one, without scripts."""
    templates = ctx.store.visible_templates(ctx.account_id)
    return JSONResponse(
        {"templates": [_template_json(t, ctx.account_id, full=False) for t in templates]}
    )


@keyed("template_get")
def get_template(ctx: Ctx) -> Response:
    """GET /api/templates/{id}."""
    template = _visible_template(ctx, ctx.request.path_params["template_id"])
    return JSONResponse(_template_json(template, ctx.account_id, full=True))


def _writable_template(ctx: Ctx) -> Template:
    template = _visible_template(ctx, ctx.request.path_params["template_id"])
    if template.account_id != ctx.account_id:
        raise ApiError(403, "FORBIDDEN", f"Template {template.id} belongs to another account")
    return template


@keyed("template_put", body=True)
def update_template(ctx: Ctx) -> Response:
    """PUT /api/templates/{id}: any non-empty subset of name, script, is_public."""
    fields = _template_fields(_object_body(ctx), partial=True)
    template = _writable_template(ctx)
    script = fields.get("script")
    if script is not None:
        _template_problem(script)
    updated = ctx.store.update_template(
        template.id,
        name=fields.get("name"),
        script=script,
        variables=list(find_variables(script)) if script is not None else None,
        is_public=fields.get("is_public"),
    )
    return JSONResponse(_template_json(updated, ctx.account_id, full=True))


@keyed("template_delete")
def delete_template(ctx: Ctx) -> Response:
    """DELETE /api/templates/{id}: jobs keep their template_id."""
    template = _writable_template(ctx)
    ctx.store.delete_template(template.id)
    return Response(status_code=204)


# -- account ----------------------------------------------------------------------------------


@keyed("account")
def account(ctx: Ctx) -> Response:
    """GET /api/account: plan, balance after open reservations, limits, webhook secret."""
    acct = ctx.caller.account
    _, concurrency = limits_of(acct)
    return JSONResponse(
        {
            "plan": acct.plan,
            "credits_balance": ctx.store.balance(acct.id),
            "key_mode": ctx.caller.key_mode,
            "rate_limit": {
                "limit": ctx.rate.limit,
                "remaining": ctx.rate.remaining,
                "reset": ctx.rate.reset,
            },
            "concurrency": {
                "limit": concurrency,
                "active": len(ctx.store.active_jobs(acct.id)),
            },
            "webhook_secret": acct.webhook_secret,
        }
    )


def schema_document() -> tuple[str, str]:
    """The served schema text and its strong ETag (a hash of the exact bytes served)."""
    text = schema_text(build_schema())
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return text, f'"sha256-{digest[:32]}"'


def routes() -> list[Route]:
    return [
        Route("/api/render", render, methods=["POST"]),
        Route("/api/render/template", render_template, methods=["POST"]),
        Route("/api/render/schema", schema, methods=["GET"]),
        Route("/api/jobs", list_jobs, methods=["GET"]),
        Route("/api/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/api/jobs/{job_id}", cancel_job, methods=["DELETE"]),
        Route("/api/jobs/{job_id}/output", job_output, methods=["GET"]),
        Route("/api/templates", create_template, methods=["POST"]),
        Route("/api/templates", list_templates, methods=["GET"]),
        Route("/api/templates/{template_id}", get_template, methods=["GET"]),
        Route("/api/templates/{template_id}", update_template, methods=["PUT"]),
        Route("/api/templates/{template_id}", delete_template, methods=["DELETE"]),
        Route("/api/account", account, methods=["GET"]),
    ]
