"""One error value for everything a render service can answer, and the recovery it calls for.

Both vendors (PhantomFlow and Sketchpen) and whatever sits between us and them (proxies, the
network) fail in many body shapes. `parse_error` turns every one of them into an `ApiError` whose
`category` and `actions` the studio turns into a dialog with buttons, so no caller ever branches
on a message text or an HTTP library exception.
"""

from __future__ import annotations

import email.utils
import html
import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.redact import redact

RAW_EXCERPT_CHARS = 500


class Category(StrEnum):
    """What kind of failure it is; decides which recovery actions the dialog offers."""

    FIX_SCRIPT = "fix_script"
    CREDENTIALS = "credentials"
    MONEY = "money"
    PERMISSION = "permission"
    WAIT = "wait"
    STATE = "state"
    TRANSIENT = "transient"
    RENDER = "render"
    # The studio sent something a compatible server must not refuse (INVALID_JSON,
    # INVALID_REQUEST, IDEMPOTENCY_CONFLICT, BAD_REQUEST) or the server is not compatible.
    STUDIO_BUG = "studio_bug"
    # The server does not offer this feature at all (degradation, §0): hide the action.
    NOT_OFFERED = "not_offered"


class Action(StrEnum):
    """A recovery the studio can offer as a button; the studio owns labels and behaviour."""

    SHOW_PATH = "show_path"
    REFRESH_SCHEMA = "refresh_schema"
    ENTER_KEY = "enter_key"
    SET_UP_KEYRING = "set_up_keyring"
    USE_SCOPED_KEY = "use_scoped_key"
    BUY_CREDITS = "buy_credits"
    OPEN_BILLING = "open_billing"
    USE_TEST_KEY = "use_test_key"
    SHORTEN_VIDEO = "shorten_video"
    RENDER_LOCALLY = "render_locally"
    SAVE_AS_COPY = "save_as_copy"
    REFRESH = "refresh"
    CHOOSE_TEMPLATE = "choose_template"
    WAIT_AND_RETRY = "wait_and_retry"
    QUEUE_FOR_SLOT = "queue_for_slot"
    CANCEL_A_JOB = "cancel_a_job"
    REREAD = "reread"
    RETRY = "retry"
    CHECK_CONNECTION = "check_connection"
    CHECK_SUBMISSIONS = "check_submissions"
    CHECK_DISK_SPACE = "check_disk_space"
    CHECK_MEDIA = "check_media"
    EDIT_AND_RERENDER = "edit_and_rerender"
    SUBMIT_AS_NEW = "submit_as_new"
    # Sketchpen AI drafts (contract §10, §13): a failed video without scenes needs a new script;
    # a draft waiting in `refining` holds one of the 3 slots until approved or deleted.
    REGENERATE_SCRIPT = "regenerate_script"
    APPROVE_OR_DELETE_DRAFT = "approve_or_delete_draft"
    DELETE_VIDEO = "delete_video"
    # Sketchpen plans renew their credits (contract §13, 402): waiting is a way out too.
    WAIT_FOR_CREDITS = "wait_for_credits"
    REPORT_PROBLEM = "report_problem"
    COPY_DETAILS = "copy_details"


class Vendor(StrEnum):
    PHANTOMFLOW = "phantomflow"
    SKETCHPEN = "sketchpen"


# Codes invented by the client for failures without a server code.
NETWORK_CONNECT_FAILED = "NETWORK_CONNECT_FAILED"
NETWORK_TIMEOUT = "NETWORK_TIMEOUT"
NETWORK_CONNECTION_LOST = "NETWORK_CONNECTION_LOST"
UNEXPECTED_RESPONSE = "UNEXPECTED_RESPONSE"
NOT_OFFERED = "NOT_OFFERED"

RATE_LIMIT_CODES = frozenset({"RATE_LIMIT_EXCEEDED", "RATE_LIMITED"})
CONCURRENCY_CODES = frozenset({"CONCURRENCY_LIMIT_EXCEEDED", "MAX_CONCURRENT_VIDEOS"})

_A = Action
# code → (category, actions). Copy details is appended to every entry by `_actions_for`.
_CODE_TABLE: dict[str, tuple[Category, tuple[Action, ...]]] = {
    # PhantomFlow (seed 000 + the two project rows)
    "INVALID_JSON": (Category.STUDIO_BUG, (_A.REPORT_PROBLEM,)),
    "SCHEMA_VALIDATION_ERROR": (Category.FIX_SCRIPT, (_A.SHOW_PATH, _A.REFRESH_SCHEMA)),
    "VALIDATION_ERROR": (Category.FIX_SCRIPT, (_A.SHOW_PATH,)),
    "INVALID_REQUEST": (Category.STUDIO_BUG, (_A.REPORT_PROBLEM,)),
    "UNAUTHORIZED": (Category.CREDENTIALS, (_A.ENTER_KEY,)),
    "INSUFFICIENT_CREDITS": (
        Category.MONEY,
        (_A.BUY_CREDITS, _A.USE_TEST_KEY, _A.SHORTEN_VIDEO, _A.RENDER_LOCALLY),
    ),
    "FORBIDDEN": (Category.PERMISSION, (_A.SAVE_AS_COPY,)),
    "NOT_FOUND": (Category.PERMISSION, (_A.REFRESH,)),
    "TEMPLATE_NOT_FOUND": (Category.PERMISSION, (_A.CHOOSE_TEMPLATE,)),
    "RATE_LIMIT_EXCEEDED": (Category.WAIT, (_A.WAIT_AND_RETRY,)),
    "CONCURRENCY_LIMIT_EXCEEDED": (Category.WAIT, (_A.QUEUE_FOR_SLOT, _A.CANCEL_A_JOB)),
    "INTERNAL_ERROR": (Category.TRANSIENT, (_A.RETRY,)),
    "RENDER_FAILED": (Category.RENDER, (_A.CHECK_MEDIA, _A.EDIT_AND_RERENDER)),
    "INVALID_STATE": (Category.STATE, (_A.REREAD,)),
    "IDEMPOTENCY_CONFLICT": (Category.STUDIO_BUG, (_A.SUBMIT_AS_NEW, _A.REPORT_PROBLEM)),
    # Sketchpen (seed 004) codes not above
    "AUTH_ERROR": (Category.CREDENTIALS, (_A.ENTER_KEY,)),
    "INVALID_TOKEN": (Category.CREDENTIALS, (_A.ENTER_KEY,)),
    "CONFLICT": (Category.STATE, (_A.REREAD,)),
    "INVALID_PLAN": (Category.MONEY, (_A.OPEN_BILLING,)),
    "PAYMENT_FAILED": (Category.MONEY, (_A.OPEN_BILLING,)),
    "BAD_REQUEST": (Category.STUDIO_BUG, (_A.REPORT_PROBLEM,)),
    "RATE_LIMITED": (Category.WAIT, (_A.WAIT_AND_RETRY,)),
    "MAX_CONCURRENT_VIDEOS": (Category.WAIT, (_A.QUEUE_FOR_SLOT, _A.CANCEL_A_JOB)),
    "DATABASE_ERROR": (Category.TRANSIENT, (_A.RETRY, _A.CHECK_DISK_SPACE)),
    # Client-side codes
    NETWORK_CONNECT_FAILED: (Category.TRANSIENT, (_A.RETRY, _A.CHECK_CONNECTION)),
    NETWORK_TIMEOUT: (Category.TRANSIENT, (_A.RETRY, _A.CHECK_CONNECTION)),
    NETWORK_CONNECTION_LOST: (Category.TRANSIENT, (_A.RETRY, _A.CHECK_CONNECTION)),
    UNEXPECTED_RESPONSE: (Category.STUDIO_BUG, (_A.REPORT_PROBLEM,)),
    NOT_OFFERED: (Category.NOT_OFFERED, ()),
}

# Where a vendor's recovery differs from the shared table.
_VENDOR_OVERRIDES: dict[tuple[Vendor, str], tuple[Category, tuple[Action, ...]]] = {
    (Vendor.SKETCHPEN, "FORBIDDEN"): (Category.PERMISSION, (_A.USE_SCOPED_KEY,)),
    (Vendor.SKETCHPEN, "INSUFFICIENT_CREDITS"): (
        Category.MONEY,
        (_A.OPEN_BILLING, _A.WAIT_FOR_CREDITS, _A.USE_TEST_KEY),
    ),
    (Vendor.SKETCHPEN, "VALIDATION_ERROR"): (Category.FIX_SCRIPT, (_A.SHOW_PATH,)),
    (Vendor.SKETCHPEN, "MAX_CONCURRENT_VIDEOS"): (
        Category.WAIT,
        (_A.QUEUE_FOR_SLOT, _A.APPROVE_OR_DELETE_DRAFT),
    ),
}


def _category_for_status(status: int | None) -> tuple[Category, tuple[Action, ...]]:
    """Unknown codes follow their HTTP class (both contracts say so)."""
    if status is None or status >= 500:
        return Category.TRANSIENT, (_A.RETRY,)
    if status == 429:
        return Category.WAIT, (_A.WAIT_AND_RETRY,)
    if status == 401:
        return Category.CREDENTIALS, (_A.ENTER_KEY,)
    if status == 402:
        return Category.MONEY, (_A.BUY_CREDITS,)
    if status in (403, 404, 410):
        return Category.PERMISSION, (_A.REFRESH,)
    if status == 409:
        return Category.STATE, (_A.REREAD,)
    if status == 422:
        return Category.FIX_SCRIPT, (_A.SHOW_PATH,)
    return Category.STUDIO_BUG, (_A.REPORT_PROBLEM,)


def classify(
    code: str, status: int | None, vendor: Vendor = Vendor.PHANTOMFLOW
) -> tuple[Category, tuple[Action, ...]]:
    """The category and recovery actions for a code (falling back to the HTTP class)."""
    entry = _VENDOR_OVERRIDES.get((vendor, code)) or _CODE_TABLE.get(code)
    category, actions = entry if entry is not None else _category_for_status(status)
    if Action.COPY_DETAILS not in actions:
        actions = (*actions, Action.COPY_DETAILS)
    return category, actions


@dataclass(frozen=True)
class ErrorDetail:
    """One item of a `details` list (`loc` as given, `path` as a dot path for highlighting)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str | None = None

    @property
    def path(self) -> str:
        """`["body", "prompt"]` → `prompt`; `["query", "limit"]` → `limit`; indexes stay."""
        parts = list(self.loc)
        if parts and parts[0] in ("body", "query", "path", "header"):
            parts = parts[1:]
        return ".".join(str(p) for p in parts)


class ApiError(Exception):
    """A failure of a call to a render service, as data the studio can act on.

    Carries no API key: every text is redacted on the way in, and `repr` shows only the code.
    """

    def __init__(
        self,
        *,
        code: str,
        message: str,
        status: int | None = None,
        path: str | None = None,
        required: int | None = None,
        balance: int | None = None,
        retry_after: float | None = None,
        reset_at: float | None = None,
        rate_window: float | None = None,
        request_id: str | None = None,
        details: Sequence[ErrorDetail] = (),
        raw: str = "",
        method: str | None = None,
        url: str | None = None,
        enveloped: bool = False,
        never_reached: bool = False,
        vendor: Vendor = Vendor.PHANTOMFLOW,
        category: Category | None = None,
        actions: Sequence[Action] | None = None,
        job_id: str | None = None,
    ) -> None:
        self.code = code
        self.message = redact(message)
        super().__init__(self.message)
        self.status = status
        self.path = path
        self.required = required
        self.balance = balance
        self.retry_after = retry_after
        self.reset_at = reset_at
        self.rate_window = rate_window
        self.request_id = request_id
        self.details = tuple(details)
        self.raw = redact(raw[:RAW_EXCERPT_CHARS])
        self.method = method
        self.url = redact(_strip_query(url)) if url else None
        self.enveloped = enveloped
        self.never_reached = never_reached
        self.vendor = vendor
        self.job_id = job_id
        self.attempts = 1
        default_category, default_actions = classify(code, status, vendor)
        self.category = category if category is not None else default_category
        self.actions: tuple[Action, ...] = (
            tuple(actions) if actions is not None else default_actions
        )

    @property
    def is_network(self) -> bool:
        """No HTTP answer at all (refused, DNS, timeout, reset)."""
        return self.status is None

    @property
    def ambiguous(self) -> bool:
        """The request may or may not have been processed: it may have reached the server.

        A non-idempotent request must not be resent blindly after such a failure.
        """
        if self.status is None:
            return not self.never_reached
        return self.status >= 500

    @property
    def is_rate_limit(self) -> bool:
        if self.code in RATE_LIMIT_CODES:
            return True
        return self.status == 429 and self.code not in CONCURRENCY_CODES

    @property
    def is_concurrency_limit(self) -> bool:
        return self.code in CONCURRENCY_CODES

    @property
    def paths(self) -> tuple[str, ...]:
        """Every field the server blamed: `path`, then each detail's path."""
        out: list[str] = []
        if self.path is not None:
            out.append(self.path)
        out.extend(d.path for d in self.details if d.path not in out)
        return tuple(out)

    def details_text(self, versions: Mapping[str, str] | None = None) -> str:
        """The "Copy details" text: what support needs, never a key or a traceback."""
        lines = [f"Code: {self.code}", f"Message: {self.message}"]
        if self.status is not None:
            lines.append(f"HTTP status: {self.status}")
        else:
            reached = "no" if self.never_reached else "unknown"
            lines.append(f"HTTP status: none (network failure; reached the server: {reached})")
        if self.method and self.url:
            lines.append(f"Request: {self.method} {self.url}")
        if self.path is not None:
            lines.append(f"Path: {self.path or '(root)'}")
        for detail in self.details:
            lines.append(f"Detail: {detail.path or '(root)'}: {detail.msg}")
        if self.required is not None or self.balance is not None:
            lines.append(f"Credits: required {self.required}, balance {self.balance}")
        if self.retry_after is not None:
            lines.append(f"Retry after: {self.retry_after:g} s")
        if self.request_id:
            lines.append(f"Request ID: {self.request_id}")
        if self.job_id:
            lines.append(f"Job ID: {self.job_id}")
        if self.attempts > 1:
            lines.append(f"Attempts: {self.attempts}")
        lines.append(f"Category: {self.category.value}")
        for name, version in (versions or {}).items():
            lines.append(f"{name}: {version}")
        return redact("\n".join(lines))

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r})"


class NotOffered(ApiError):
    """The server does not offer this endpoint at all (404/405/501 without a PhantomFlow envelope).

    Callers hide the action; the client remembers it per (base URL, key).
    """

    def __init__(self, feature: str, *, status: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("message", f"This server does not offer {feature.replace('_', ' ')}.")
        super().__init__(code=NOT_OFFERED, status=status, **kwargs)
        self.feature = feature


def _strip_query(url: str) -> str:
    """Query strings may carry tokens on hosted CDN URLs; the copied details keep only the path."""
    parts = urlsplit(url)
    if not parts.scheme:
        return url.split("?", 1)[0]
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP-date; None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return max(0.0, seconds)
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        try:
            return int(float(value.strip()))
        except ValueError:
            return None


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _parse_details(items: object) -> list[ErrorDetail]:
    if not isinstance(items, list):
        return []
    out: list[ErrorDetail] = []
    for item in items:
        if not isinstance(item, dict):
            if isinstance(item, str):
                out.append(ErrorDetail(loc=(), msg=item))
            continue
        loc_raw = item.get("loc", ())
        if isinstance(loc_raw, list | tuple):
            loc = tuple(p if isinstance(p, str | int) else str(p) for p in loc_raw)
        elif isinstance(loc_raw, str):
            loc = tuple(loc_raw.split("."))
        else:
            loc = ()
        msg = item.get("msg")
        out.append(
            ErrorDetail(
                loc=loc,
                msg=msg if isinstance(msg, str) else json.dumps(msg),
                type=_as_str(item.get("type")),
            )
        )
    return out


_CREDITS_TEXT = re.compile(r"Required:\s*(\d+)\s*,\s*Available:\s*(\d+)", re.IGNORECASE)
_LIMIT_TEXT = re.compile(r"(\d+)\s+per\s+(\d+)\s+(second|minute|hour|day)s?\b", re.IGNORECASE)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def rate_window_from_text(text: str) -> float | None:
    """`"Rate limit exceeded: 10 per 1 day"` → 86400.0 (the window length in seconds)."""
    match = _LIMIT_TEXT.search(text)
    if not match:
        return None
    return float(int(match.group(2)) * _UNIT_SECONDS[match.group(3).lower()])


def _status_phrase(response: httpx.Response) -> str:
    phrase = response.reason_phrase
    return f"{response.status_code} {phrase}".strip()


def _fallback_code(status: int) -> str:
    if status == 429:
        return "RATE_LIMITED"
    return f"HTTP_{status}"


def parse_error(
    response: httpx.Response,
    *,
    vendor: Vendor = Vendor.PHANTOMFLOW,
    now: float | None = None,
) -> ApiError:
    """Turn any non-success response into an `ApiError`, whatever its body looks like.

    The response must already be read (`await response.aread()` for streamed responses).
    """
    status = response.status_code
    headers = response.headers
    content = response.content
    text = content.decode("utf-8", errors="replace")
    try:
        request: httpx.Request | None = response.request
    except RuntimeError:  # a response built by hand has no request
        request = None
    method = request.method if request is not None else None
    url = str(request.url) if request is not None else None

    code: str | None = None
    message: str | None = None
    path: str | None = None
    required: int | None = None
    balance: int | None = None
    request_id: str | None = headers.get("x-request-id")
    details: list[ErrorDetail] = []
    enveloped = False

    body: object = None
    parsed = False
    if content.strip():
        try:
            body = json.loads(text)
            parsed = True
        except ValueError:
            parsed = False

    if not content.strip():
        message = f"The server answered {_status_phrase(response)} with an empty body."
    elif not parsed:
        content_type = headers.get("content-type", "").lower()
        if "html" in content_type or text.lstrip().startswith("<"):
            title_match = _TITLE.search(text)
            title = html.unescape(title_match.group(1)).strip() if title_match else ""
            title = " ".join(title.split())[:120]
            message = (
                f"The server answered with an HTML error page ({_status_phrase(response)})"
                + (f": {title}" if title and title not in _status_phrase(response) else "")
                + "."
            )
        else:
            message = (
                f"The server answered {_status_phrase(response)} with a body that is not JSON."
            )
    elif isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code = _as_str(error.get("code"))
            enveloped = code is not None
            message = _as_str(error.get("message"))
            path = _as_str(error.get("path"))
            required = _as_int(error.get("required"))
            balance = _as_int(error.get("balance"))
            request_id = _as_str(error.get("request_id")) or request_id
            details = _parse_details(error.get("details"))
        elif isinstance(error, str):
            # Sketchpen's rate-limit body: a plain string, no code.
            message = error
            if status == 429:
                code = "RATE_LIMITED"
        elif "detail" in body:
            detail = body["detail"]
            if isinstance(detail, str):
                message = detail
            elif isinstance(detail, list):
                details = _parse_details(detail)
                message = "The request was rejected by validation."
                if status == 422:
                    code = "VALIDATION_ERROR"
            else:
                message = json.dumps(detail)[:200]
        if message is None:
            message = f"The server answered {_status_phrase(response)}."
    else:
        message = f"The server answered {_status_phrase(response)} with an unexpected body."

    if code is None:
        code = _fallback_code(status)
    assert message is not None

    if code == "INSUFFICIENT_CREDITS" and (required is None or balance is None):
        # Sketchpen puts the figures only in the text; the spec allows reading them from it.
        match = _CREDITS_TEXT.search(message)
        if match:
            required = required if required is not None else int(match.group(1))
            balance = balance if balance is not None else int(match.group(2))

    retry_after = parse_retry_after(headers.get("retry-after"), now=now)
    reset = _int_header(headers, "x-ratelimit-reset")
    rate_window = rate_window_from_text(message) if status == 429 else None

    return ApiError(
        code=code,
        message=message,
        status=status,
        path=path,
        required=required,
        balance=balance,
        retry_after=retry_after,
        reset_at=float(reset) if reset is not None else None,
        rate_window=rate_window,
        request_id=request_id,
        details=details,
        raw=text,
        method=method,
        url=url,
        enveloped=enveloped,
        vendor=vendor,
    )


def error_from_transport(
    exc: httpx.TransportError, *, method: str | None = None, url: str | None = None
) -> ApiError:
    """A network failure as an `ApiError` (status None), saying whether the server saw it.

    Connect failures (refused, DNS, TLS handshake, connect timeout) and pool timeouts happen
    before a byte of the request left, so the request provably never reached the server. Read
    or write timeouts and connection resets happen after sending began: ambiguous.
    """
    host = urlsplit(url).netloc if url else "the server"
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return ApiError(
            code=NETWORK_TIMEOUT,
            message=f"Could not connect to {host} in time.",
            never_reached=True,
            method=method,
            url=url,
        )
    if isinstance(exc, httpx.ConnectError):
        return ApiError(
            code=NETWORK_CONNECT_FAILED,
            message=f"Could not connect to {host}: {_short(exc)}",
            never_reached=True,
            method=method,
            url=url,
        )
    if isinstance(exc, httpx.TimeoutException):
        return ApiError(
            code=NETWORK_TIMEOUT,
            message=f"{host} did not answer in time.",
            method=method,
            url=url,
        )
    return ApiError(
        code=NETWORK_CONNECTION_LOST,
        message=f"The connection to {host} was lost: {_short(exc)}",
        method=method,
        url=url,
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
