"""Every error body shape of both vendors, proxies and the network becomes the right ApiError."""

from __future__ import annotations

import email.utils
import json

import httpx
import pytest

from app.service.errors import (
    Action,
    ApiError,
    Category,
    Vendor,
    classify,
    error_from_transport,
    parse_error,
    parse_retry_after,
)

URL = "https://api.phantomflow.dev/api/render"


def answer(
    status: int,
    body: object = None,
    *,
    text: str | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> httpx.Response:
    """A real response produced through httpx's transport machinery, then parsed."""
    if text is None:
        text = "" if body is None else json.dumps(body)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            content=text.encode(),
            headers={"content-type": content_type, **(headers or {})},
        )

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        return client.post(URL, json={"scenes": []}, headers={"x-api-key": "ve_live_" + "a" * 32})


def test_envelope_with_path() -> None:
    body = {
        "error": {
            "code": "SCHEMA_VALIDATION_ERROR",
            "message": "Expected number, received string",
            "path": "scenes.0.duration",
        }
    }
    error = parse_error(answer(400, body))
    assert (error.status, error.code, error.path) == (
        400,
        "SCHEMA_VALIDATION_ERROR",
        "scenes.0.duration",
    )
    assert error.message == "Expected number, received string"
    assert error.category is Category.FIX_SCRIPT
    assert error.actions[:2] == (Action.SHOW_PATH, Action.REFRESH_SCHEMA)
    assert error.enveloped
    assert error.method == "POST" and error.url == URL


def test_root_path_is_kept_as_empty_string() -> None:
    body = {"error": {"code": "SCHEMA_VALIDATION_ERROR", "message": "not an object", "path": ""}}
    error = parse_error(answer(400, body))
    assert error.path == ""
    assert error.paths == ("",)


def test_envelope_with_required_and_balance() -> None:
    body = {
        "error": {
            "code": "INSUFFICIENT_CREDITS",
            "message": "Render needs 30 credits, balance is 12",
            "required": 30,
            "balance": 12,
        }
    }
    error = parse_error(answer(402, body))
    assert (error.required, error.balance) == (30, 12)
    assert error.category is Category.MONEY
    assert Action.BUY_CREDITS in error.actions and Action.USE_TEST_KEY in error.actions
    assert Action.RENDER_LOCALLY in error.actions


def test_sketchpen_credits_are_read_from_the_message_when_absent() -> None:
    body = {
        "error": {
            "code": "INSUFFICIENT_CREDITS",
            "message": "Insufficient credits. Required: 5, Available: 2",
            "request_id": "abc-123",
        }
    }
    error = parse_error(answer(402, body), vendor=Vendor.SKETCHPEN)
    assert (error.required, error.balance, error.request_id) == (5, 2, "abc-123")


def test_envelope_with_request_id_and_details() -> None:
    body = {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "Request validation failed",
            "request_id": "abc-123",
            "details": [
                {"loc": ["body", "prompt"], "msg": "Field required"},
                {"loc": ["body", "scenes", 3, "speech"], "msg": "too long", "type": "x"},
            ],
        }
    }
    error = parse_error(answer(422, body), vendor=Vendor.SKETCHPEN)
    assert error.request_id == "abc-123"
    assert [d.msg for d in error.details] == ["Field required", "too long"]
    assert error.paths == ("prompt", "scenes.3.speech")
    assert error.details[1].type == "x"
    assert error.category is Category.FIX_SCRIPT


def test_plain_string_rate_limit_body() -> None:
    error = parse_error(
        answer(429, {"error": "Rate limit exceeded: 10 per 1 day"}, headers={"Retry-After": "23"})
    )
    assert error.code == "RATE_LIMITED"
    assert error.message == "Rate limit exceeded: 10 per 1 day"
    assert error.retry_after == 23.0
    assert error.rate_window == 86400.0
    assert error.is_rate_limit and not error.is_concurrency_limit
    assert error.category is Category.WAIT
    assert error.actions[0] is Action.WAIT_AND_RETRY
    assert not error.enveloped


def test_fastapi_detail_string() -> None:
    error = parse_error(answer(404, {"detail": "Not Found"}))
    assert error.code == "HTTP_404"
    assert error.message == "Not Found"
    assert not error.enveloped
    assert error.category is Category.PERMISSION


def test_fastapi_detail_list() -> None:
    body = {
        "detail": [
            {"loc": ["query", "limit"], "msg": "Input should be a valid integer", "type": "int"}
        ]
    }
    error = parse_error(answer(422, body))
    assert error.code == "VALIDATION_ERROR"
    assert error.paths == ("limit",)
    assert error.details[0].type == "int"


@pytest.mark.parametrize(("status", "phrase"), [(502, "Bad Gateway"), (503, "Service Unavailable")])
def test_html_page_from_a_proxy(status: int, phrase: str) -> None:
    page = f"<html><head><title>{status} {phrase}</title></head><body><h1>nginx</h1></body></html>"
    error = parse_error(answer(status, text=page, content_type="text/html"))
    assert error.message == f"The server answered with an HTML error page ({status} {phrase})."
    assert error.code == f"HTTP_{status}"
    assert error.category is Category.TRANSIENT
    assert error.actions[0] is Action.RETRY
    assert error.raw.startswith("<html>")


def test_html_title_that_adds_information_is_kept() -> None:
    page = "<html><title>Cloudflare: origin unreachable</title></html>"
    error = parse_error(answer(502, text=page, content_type="text/html"))
    assert error.message.endswith("(502 Bad Gateway): Cloudflare: origin unreachable.")


def test_empty_body() -> None:
    error = parse_error(answer(500, text=""))
    assert error.code == "HTTP_500"
    assert "empty body" in error.message
    assert error.category is Category.TRANSIENT


def test_invalid_json_body() -> None:
    error = parse_error(answer(500, text='{"error": {"code": "INTERNAL', content_type="text/plain"))
    assert error.code == "HTTP_500"
    assert "not JSON" in error.message
    assert error.raw == '{"error": {"code": "INTERNAL'


def test_json_that_is_not_an_object() -> None:
    error = parse_error(answer(400, ["what"]))
    assert error.code == "HTTP_400"
    assert error.category is Category.STUDIO_BUG


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (400, Category.STUDIO_BUG),
        (401, Category.CREDENTIALS),
        (402, Category.MONEY),
        (403, Category.PERMISSION),
        (404, Category.PERMISSION),
        (409, Category.STATE),
        (418, Category.STUDIO_BUG),
        (422, Category.FIX_SCRIPT),
        (429, Category.WAIT),
        (500, Category.TRANSIENT),
        (504, Category.TRANSIENT),
    ],
)
def test_unknown_codes_follow_the_http_class(status: int, category: Category) -> None:
    error = parse_error(answer(status, {"error": {"code": "BRAND_NEW", "message": "?"}}))
    assert error.code == "BRAND_NEW"
    assert error.category is category


@pytest.mark.parametrize(
    ("code", "status", "category", "first_action"),
    [
        ("INVALID_JSON", 400, Category.STUDIO_BUG, Action.REPORT_PROBLEM),
        ("SCHEMA_VALIDATION_ERROR", 400, Category.FIX_SCRIPT, Action.SHOW_PATH),
        ("VALIDATION_ERROR", 400, Category.FIX_SCRIPT, Action.SHOW_PATH),
        ("INVALID_REQUEST", 400, Category.STUDIO_BUG, Action.REPORT_PROBLEM),
        ("UNAUTHORIZED", 401, Category.CREDENTIALS, Action.ENTER_KEY),
        ("INSUFFICIENT_CREDITS", 402, Category.MONEY, Action.BUY_CREDITS),
        ("FORBIDDEN", 403, Category.PERMISSION, Action.SAVE_AS_COPY),
        ("NOT_FOUND", 404, Category.PERMISSION, Action.REFRESH),
        ("TEMPLATE_NOT_FOUND", 404, Category.PERMISSION, Action.CHOOSE_TEMPLATE),
        ("RATE_LIMIT_EXCEEDED", 429, Category.WAIT, Action.WAIT_AND_RETRY),
        ("CONCURRENCY_LIMIT_EXCEEDED", 429, Category.WAIT, Action.QUEUE_FOR_SLOT),
        ("INTERNAL_ERROR", 500, Category.TRANSIENT, Action.RETRY),
        ("RENDER_FAILED", 500, Category.RENDER, Action.CHECK_MEDIA),
        ("INVALID_STATE", 409, Category.STATE, Action.REREAD),
        ("IDEMPOTENCY_CONFLICT", 409, Category.STUDIO_BUG, Action.SUBMIT_AS_NEW),
    ],
)
def test_every_phantomflow_code(
    code: str, status: int, category: Category, first_action: Action
) -> None:
    error = parse_error(answer(status, {"error": {"code": code, "message": "m"}}))
    assert error.category is category
    assert error.actions[0] is first_action
    assert error.actions[-1] is Action.COPY_DETAILS


@pytest.mark.parametrize(
    ("code", "status", "category", "first_action"),
    [
        ("UNAUTHORIZED", 401, Category.CREDENTIALS, Action.ENTER_KEY),
        ("AUTH_ERROR", 401, Category.CREDENTIALS, Action.ENTER_KEY),
        ("INVALID_TOKEN", 401, Category.CREDENTIALS, Action.ENTER_KEY),
        ("FORBIDDEN", 403, Category.PERMISSION, Action.USE_SCOPED_KEY),
        ("NOT_FOUND", 404, Category.PERMISSION, Action.REFRESH),
        ("CONFLICT", 409, Category.STATE, Action.REREAD),
        ("INVALID_STATE", 409, Category.STATE, Action.REREAD),
        ("INSUFFICIENT_CREDITS", 402, Category.MONEY, Action.OPEN_BILLING),
        ("INVALID_PLAN", 400, Category.MONEY, Action.OPEN_BILLING),
        ("PAYMENT_FAILED", 400, Category.MONEY, Action.OPEN_BILLING),
        ("VALIDATION_ERROR", 422, Category.FIX_SCRIPT, Action.SHOW_PATH),
        ("BAD_REQUEST", 400, Category.STUDIO_BUG, Action.REPORT_PROBLEM),
        ("RATE_LIMITED", 429, Category.WAIT, Action.WAIT_AND_RETRY),
        ("MAX_CONCURRENT_VIDEOS", 429, Category.WAIT, Action.QUEUE_FOR_SLOT),
        ("INTERNAL_ERROR", 500, Category.TRANSIENT, Action.RETRY),
        ("DATABASE_ERROR", 500, Category.TRANSIENT, Action.RETRY),
    ],
)
def test_every_sketchpen_code(
    code: str, status: int, category: Category, first_action: Action
) -> None:
    assert classify(code, status, Vendor.SKETCHPEN)[0] is category
    assert classify(code, status, Vendor.SKETCHPEN)[1][0] is first_action


def test_concurrency_429_is_not_a_rate_limit() -> None:
    body = {"error": {"code": "CONCURRENCY_LIMIT_EXCEEDED", "message": "10 jobs"}}
    error = parse_error(answer(429, body, headers={"Retry-After": "25"}))
    assert error.is_concurrency_limit and not error.is_rate_limit
    assert error.retry_after == 25.0


def test_rate_limit_reset_header_is_kept_for_the_retry_fallback() -> None:
    body = {"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "120 requests per minute"}}
    error = parse_error(answer(429, body, headers={"X-RateLimit-Reset": "1746351072"}))
    assert error.retry_after is None
    assert error.reset_at == 1746351072.0


def test_request_id_header_is_used_when_the_body_has_none() -> None:
    error = parse_error(answer(500, text="", headers={"X-Request-ID": "req-9"}))
    assert error.request_id == "req-9"


def test_retry_after_delta_seconds() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("-3") == 0.0


def test_retry_after_http_date() -> None:
    now = 1_746_351_000.0
    value = email.utils.formatdate(now + 42, usegmt=True)
    assert parse_retry_after(value, now=now) == pytest.approx(42.0)
    past = email.utils.formatdate(now - 100, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "Mon, 99 Foo 2025"])
def test_retry_after_garbage_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_connect_error_never_reached_the_server() -> None:
    error = error_from_transport(
        httpx.ConnectError("[Errno 111] Connection refused"), method="POST", url=URL
    )
    assert error.status is None and error.is_network
    assert error.never_reached and not error.ambiguous
    assert error.code == "NETWORK_CONNECT_FAILED"
    assert error.category is Category.TRANSIENT
    assert Action.CHECK_CONNECTION in error.actions


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("timed out"),
        httpx.WriteTimeout("timed out"),
        httpx.ReadError("Connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_failures_after_sending_are_ambiguous(exc: httpx.TransportError) -> None:
    error = error_from_transport(exc, method="POST", url=URL)
    assert error.ambiguous and not error.never_reached
    assert error.category is Category.TRANSIENT


def test_connect_timeout_never_reached() -> None:
    error = error_from_transport(httpx.ConnectTimeout("slow"), method="GET", url=URL)
    assert error.never_reached
    assert error.code == "NETWORK_TIMEOUT"


def test_keys_never_appear_in_messages_repr_or_details() -> None:
    key = "ve_live_0123456789abcdef0123456789abcdef"
    body = {"error": {"code": "UNAUTHORIZED", "message": f"Key {key} was revoked"}}
    error = parse_error(answer(401, body))
    error.job_id = "a1b2c3d4"
    text = error.details_text({"Reelsmith": "0.1.0", "httpx": httpx.__version__})
    for shown in (str(error), repr(error), error.raw, text, error.message):
        assert key not in shown
    assert "[redacted]" in error.message
    assert "Code: UNAUTHORIZED" in text
    assert "Job ID: a1b2c3d4" in text
    assert "Reelsmith: 0.1.0" in text
    assert f"Request: POST {URL}" in text


def test_details_text_lists_what_support_needs() -> None:
    body = {
        "error": {
            "code": "SCHEMA_VALIDATION_ERROR",
            "message": "Expected number",
            "path": "scenes.0.duration",
            "request_id": "r-1",
        }
    }
    text = parse_error(answer(400, body)).details_text()
    assert "Path: scenes.0.duration" in text
    assert "Request ID: r-1" in text
    assert "HTTP status: 400" in text
    assert "Traceback" not in text


def test_query_strings_are_dropped_from_recorded_urls() -> None:
    error = ApiError(code="X", message="m", url="https://cdn.example/o.mp4?token=secret123")
    assert error.url == "https://cdn.example/o.mp4"
