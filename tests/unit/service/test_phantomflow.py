"""The PhantomFlow client's own logic: schema cache, submissions, degradation, downloads.

httpx.MockTransport stands in for the server here to pin down exact answers (ETag revalidation,
a connection dropped mid-body); behaviour against the real service is in tests/integration.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.script.schema import active_schema, set_active_schema
from app.service.errors import ApiError, Category, NotOffered
from app.service.phantomflow import (
    Feature,
    Job,
    PhantomFlowClient,
    SlotWait,
    SubmissionUncertain,
    forget_not_offered,
)
from app.service.retry import RetryPolicy, WaitNotice, WaitReason

BASE = "http://127.0.0.1:48213"
KEY = "ve_live_0123456789abcdef0123456789abcdef"
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:test:schema",
    "type": "object",
    "required": ["scenes"],
}
JOB_ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"

Handler = Callable[[httpx.Request], httpx.Response]


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    forget_not_offered()
    yield
    forget_not_offered()
    set_active_schema(None)


def client_for(
    handler: Handler,
    tmp_path: Path,
    *,
    base: str = BASE,
    on_wait: Callable[[WaitNotice], None] | None = None,
    sleeps: Sleeps | None = None,
) -> PhantomFlowClient:
    return PhantomFlowClient(
        base,
        KEY,
        transport=httpx.MockTransport(handler),
        cache_dir=tmp_path / "cache",
        sleep=sleeps or Sleeps(),
        on_wait=on_wait,
        retry_policy=RetryPolicy(),
    )


def run(coro: Callable[[], Any]) -> Any:
    return asyncio.run(coro())


def job_json(status: str = "completed", **extra: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "job_id": JOB_ID,
        "status": status,
        "progress": 1 if status == "completed" else 0.5,
        "created_at": "2025-05-04T09:30:12Z",
        "started_at": None,
        "completed_at": None,
        "estimated_credits": 5,
        "credits_used": None,
        "duration_seconds": None,
        "output_url": f"{BASE}/api/jobs/{JOB_ID}/output" if status == "completed" else None,
        "error": None,
        "template_id": None,
    }
    job.update(extra)
    return job


RATE = {"X-RateLimit-Limit": "120", "X-RateLimit-Remaining": "117", "X-RateLimit-Reset": "17"}


# -- schema ---------------------------------------------------------------------------------


def test_schema_is_cached_and_revalidated_with_its_etag(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("if-none-match") == '"sha256-1"':
            return httpx.Response(304, headers={"ETag": '"sha256-1"'})
        return httpx.Response(200, json=SCHEMA, headers={"ETag": '"sha256-1"'})

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            first = await client.fetch_schema()
            assert first.etag == '"sha256-1"' and first.source == BASE
            assert active_schema() is first
            second = await client.fetch_schema()
            assert second.source == f"{BASE} (cached)"
            assert second.document == SCHEMA
            assert client.schema_fallback_reason is None

    run(main)
    assert "if-none-match" not in seen[0].headers
    assert seen[1].headers["if-none-match"] == '"sha256-1"'
    assert all("x-api-key" not in r.headers for r in seen)  # public endpoint, not rate-counted


def test_304_answer_uses_the_disk_copy_even_for_a_new_client(tmp_path: Path) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(200, json=SCHEMA, headers={"ETag": '"e1"'})
        assert request.headers["if-none-match"] == '"e1"'
        return httpx.Response(304, headers={"ETag": '"e1"'})

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            await client.fetch_schema()
        async with client_for(handler, tmp_path) as client:
            schema = await client.fetch_schema()
            assert schema.document == SCHEMA and schema.etag == '"e1"'

    run(main)


def test_corrupt_cache_file_is_ignored(tmp_path: Path) -> None:
    sent_etags: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_etags.append(request.headers.get("if-none-match"))
        return httpx.Response(200, json=SCHEMA, headers={"ETag": '"e2"'})

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            await client.fetch_schema()
            cache_files = list((tmp_path / "cache").glob("*.json"))
            assert len(cache_files) == 1
            cache_files[0].write_text('{"etag": "\\"e2\\"", "document": {"type": 12')
            schema = await client.fetch_schema()
            assert schema.source == BASE  # fetched afresh, not "(cached)"

    run(main)
    assert sent_etags == [None, None]  # the corrupt copy's ETag was not trusted


def test_corrupt_cache_and_no_server_falls_back_to_bundled(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused")

    cache = tmp_path / "cache"
    cache.mkdir()

    async def main() -> None:
        client = client_for(handler, tmp_path)
        # Write garbage where this server's cache entry lives.
        client._schema_cache_file().write_text("not json at all")
        async with client:
            schema = await client.fetch_schema()
            assert schema.is_bundled
            assert isinstance(client.schema_fallback_reason, ApiError)
            assert client.schema_fallback_reason.code == "NETWORK_CONNECT_FAILED"

    run(main)


def test_server_failure_falls_back_to_the_cached_copy(tmp_path: Path) -> None:
    up = True

    def handler(request: httpx.Request) -> httpx.Response:
        if up:
            return httpx.Response(200, json=SCHEMA, headers={"ETag": '"e3"'})
        return httpx.Response(503, text="<html><title>503</title></html>")

    async def main() -> None:
        nonlocal up
        async with client_for(handler, tmp_path) as client:
            await client.fetch_schema()
            up = False
            schema = await client.fetch_schema()
            assert schema.source.endswith("(cached)")
            assert isinstance(client.schema_fallback_reason, ApiError)
            assert client.schema_fallback_reason.attempts == 5

    run(main)


def test_a_served_schema_that_is_not_json_is_not_cached(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="{oops", headers={"ETag": '"bad"'})

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            schema = await client.fetch_schema()
            assert schema.is_bundled
            assert not list((tmp_path / "cache").glob("*.json"))

    run(main)


# -- submissions ----------------------------------------------------------------------------


def test_render_sends_a_key_and_updates_the_account_state(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        key = request.headers["idempotency-key"]
        body = {"job_id": JOB_ID, "status": "queued", "estimated_credits": 5}
        body["credits_remaining"] = 995
        return httpx.Response(202, json=body, headers={"Idempotency-Key": key, **RATE})

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            accepted = await client.render('{"scenes": [{"duration": 5}]}')
            assert accepted.job_id == JOB_ID and accepted.credits_remaining == 995
            assert client.account_state.snapshot.credits_balance == 995
            assert client.account_state.snapshot.rate_limit is not None
            assert client.echoes_idempotency_key
            assert accepted.idempotency_key == seen[0].headers["idempotency-key"]

    run(main)
    assert seen[0].headers["x-api-key"] == KEY
    assert seen[0].content == b'{"scenes": [{"duration": 5}]}'
    assert len(seen[0].headers["idempotency-key"]) == 36


def test_ambiguous_submit_without_echo_is_not_resent(tmp_path: Path) -> None:
    posts: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(request)
            raise httpx.ReadTimeout("timed out")
        recent = job_json("queued", created_at="2999-01-01T00:00:00Z")
        old = job_json("completed", job_id="old", created_at="2001-01-01T00:00:00Z")
        return httpx.Response(200, json={"jobs": [recent, old], "next_cursor": None})

    async def main() -> SubmissionUncertain:
        async with client_for(handler, tmp_path) as client:
            with pytest.raises(SubmissionUncertain) as caught:
                await client.render({"scenes": []}, idempotency_key="k-1")
            return caught.value

    error = run(main)
    assert len(posts) == 1
    assert error.idempotency_key == "k-1"
    assert not error.safe_to_resend and not error.lookup_failed
    assert [j.job_id for j in error.candidates] == [JOB_ID]
    assert "may have gone through" in error.message
    assert error.category is Category.TRANSIENT


def test_ambiguous_submit_after_echo_is_resent_with_the_same_key(tmp_path: Path) -> None:
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        key = request.headers["idempotency-key"]
        keys.append(key)
        if len(keys) == 1:
            return httpx.Response(
                202, json={"job_id": "first", "status": "queued"}, headers={"Idempotency-Key": key}
            )
        if len(keys) == 2:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(
            202,
            json={"job_id": JOB_ID, "status": "queued"},
            headers={"Idempotency-Key": key, "Idempotent-Replayed": "true"},
        )

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            await client.render({"scenes": []})
            accepted = await client.render({"scenes": [1]}, idempotency_key="k-2")
            assert accepted.job_id == JOB_ID and accepted.replayed

    run(main)
    assert keys[1:] == ["k-2", "k-2"]


def test_refused_connection_is_resent_even_before_any_echo(tmp_path: Path) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("Connection refused")
        return httpx.Response(202, json={"job_id": JOB_ID, "status": "queued"})

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            assert (await client.render({"scenes": []})).job_id == JOB_ID

    run(main)
    assert calls == 2


def test_waiting_for_a_slot_resubmits_with_the_same_key(tmp_path: Path) -> None:
    keys: list[str] = []
    notices: list[WaitNotice] = []
    waits: list[SlotWait] = []
    looks = 0
    now = [1000.0]

    class Clocked(Sleeps):
        async def __call__(self, seconds: float) -> None:
            self.calls.append(seconds)
            now[0] += seconds

    sleeps = Clocked()

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal looks
        if request.url.path == "/api/account":  # the slot watch: 2/2 busy, then 1/2
            looks += 1
            active = 2 if looks < 3 else 1
            return httpx.Response(200, json={"concurrency": {"limit": 2, "active": active}})
        keys.append(request.headers["idempotency-key"])
        if len(keys) < 3:
            body = {"error": {"code": "CONCURRENCY_LIMIT_EXCEEDED", "message": "2 jobs active"}}
            return httpx.Response(429, json=body, headers={"Retry-After": "4"})
        return httpx.Response(202, json={"job_id": JOB_ID, "status": "queued"})

    async def main() -> None:
        async with PhantomFlowClient(
            BASE,
            KEY,
            transport=httpx.MockTransport(handler),
            cache_dir=tmp_path / "cache",
            sleep=sleeps,
            on_wait=notices.append,
            clock=lambda: now[0],
        ) as client:
            accepted = await client.render_template(
                "tpl_a1b2c3d4e5f6", {"x": 1}, wait_for_slot=60, on_slot_wait=waits.append
            )
            assert accepted.job_id == JOB_ID

    run(main)
    # Refused; 2/2 busy at two looks 2 s apart (the local poll interval); 1/2 at the third:
    # resubmitted, refused again (another submission took the slot); 1/2: resubmitted, accepted.
    assert len(set(keys)) == 1 and len(keys) == 3 and looks == 4
    assert sleeps.calls == [2.0, 2.0]
    assert [n.reason for n in notices] == [WaitReason.SLOT, WaitReason.SLOT]
    assert [w.text for w in waits] == ["waiting for a free slot (2/2 busy)…"] * 2
    assert [w.refusals for w in waits] == [1, 1]


def test_concurrency_limit_without_waiting_is_raised(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "CONCURRENCY_LIMIT_EXCEEDED", "message": "2 jobs active"}}
        return httpx.Response(429, json=body, headers={"Retry-After": "4"})

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            with pytest.raises(ApiError) as caught:
                await client.render({"scenes": []})
            assert caught.value.is_concurrency_limit and caught.value.retry_after == 4.0

    run(main)


def test_rate_limited_read_waits_and_announces_it(tmp_path: Path) -> None:
    calls = 0
    notices: list[WaitNotice] = []
    sleeps = Sleeps()

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            body = {"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "10 per minute"}}
            return httpx.Response(429, json=body, headers={"Retry-After": "3", **RATE})
        return httpx.Response(200, json={"jobs": [], "next_cursor": None}, headers=RATE)

    async def main() -> None:
        async with client_for(handler, tmp_path, on_wait=notices.append, sleeps=sleeps) as client:
            page = await client.list_jobs(status=["queued", "rendering"], limit=5)
            assert page.jobs == []

    run(main)
    assert sleeps.calls == [3.0]
    assert notices[0].reason is WaitReason.RATE_LIMIT


# -- degradation ----------------------------------------------------------------------------


def test_missing_account_endpoint_degrades_to_header_state(tmp_path: Path) -> None:
    account_calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal account_calls
        if request.url.path == "/api/account":
            account_calls += 1
            return httpx.Response(404, json={"detail": "Not Found"})
        return httpx.Response(200, json={"jobs": [], "next_cursor": None}, headers=RATE)

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            await client.list_jobs()
            account = await client.account()
            assert not account.from_endpoint
            assert account.rate_limit is not None and account.rate_limit.remaining == 117
            assert not client.is_offered(Feature.ACCOUNT)
            await client.account()
        # Remembered per (base URL, key): a new client for the same server does not ask again.
        async with client_for(handler, tmp_path) as client:
            await client.account()

    run(main)
    assert account_calls == 1


def test_enveloped_404_is_not_a_missing_feature(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404, json={"error": {"code": "NOT_FOUND", "message": "Job not found"}}
        )

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            with pytest.raises(ApiError) as caught:
                await client.get_job(JOB_ID)
            assert not isinstance(caught.value, NotOffered)
            assert caught.value.code == "NOT_FOUND"
            assert client.is_offered(Feature.JOB_READ)

    run(main)


def test_missing_single_job_read_falls_back_to_the_list(tmp_path: Path) -> None:
    single_reads = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal single_reads
        if request.url.path == f"/api/jobs/{JOB_ID}":
            single_reads += 1
            return httpx.Response(405, text="Method Not Allowed")
        if request.url.path.startswith("/api/templates/"):
            return httpx.Response(501, text="")
        return httpx.Response(200, json={"jobs": [job_json("rendering")], "next_cursor": None})

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            job = await client.get_job(JOB_ID)
            assert job.status == "rendering"
            assert not client.is_offered(Feature.JOB_READ)
            assert (await client.get_job(JOB_ID)).job_id == JOB_ID
            with pytest.raises(NotOffered) as caught:
                await client.get_template("tpl_a1b2c3d4e5f6")
            assert caught.value.category is Category.NOT_OFFERED
            assert caught.value.feature == "template_read"
            assert client.is_offered(Feature.TEMPLATE_UPDATE)  # each feature on its own

    run(main)
    assert single_reads == 1


def test_account_endpoint_fills_the_state(tmp_path: Path) -> None:
    secret = "pfwh_5c0d8e2b9a7f41d3b6e0c4a1f2d9e7b3"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "plan": "pro",
                "credits_balance": 984,
                "key_mode": "live",
                "rate_limit": {"limit": 120, "remaining": 118, "reset": 1746351072},
                "concurrency": {"limit": 10, "active": 1},
                "webhook_secret": secret,
            },
        )

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            account = await client.account()
            assert account.plan == "pro" and account.from_endpoint
            assert secret not in repr(account)
            snap = client.account_state.snapshot
            assert (snap.credits_balance, snap.concurrency_limit, snap.plan) == (984, 10, "pro")

    run(main)


# -- jobs -----------------------------------------------------------------------------------


def test_wait_for_job_reports_progress_and_slows_down_when_quota_is_low(tmp_path: Path) -> None:
    states = [("queued", 0.0, "100"), ("rendering", 0.5, "10"), ("completed", 1.0, "10")]
    sleeps = Sleeps()

    def handler(request: httpx.Request) -> httpx.Response:
        status, progress, remaining = states.pop(0)
        headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": remaining}
        return httpx.Response(200, json=job_json(status, progress=progress), headers=headers)

    seen: list[tuple[str, float | None]] = []

    async def main() -> Job:
        async with client_for(handler, tmp_path, sleeps=sleeps) as client:
            return await client.wait_for_job(
                JOB_ID, on_progress=lambda j: seen.append((j.status, j.progress))
            )

    job = run(main)
    assert job.status == "completed"
    assert seen == [("queued", 0.0), ("rendering", 0.5), ("completed", 1.0)]
    assert sleeps.calls == [2.0, 4.0]  # loopback base 2 s, doubled under 20 % remaining


def test_failed_job_exposes_a_render_error() -> None:
    job = Job.model_validate(
        job_json("failed", error={"code": "RENDER_FAILED", "message": "cannot open x.mp4"})
    )
    error = job.error_value()
    assert error is not None and error.category is Category.RENDER and error.job_id == JOB_ID


def test_unexpected_answer_shape_is_an_error_value(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"jobs": "nope"})

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            with pytest.raises(ApiError) as caught:
                await client.list_jobs()
            assert caught.value.code == "UNEXPECTED_RESPONSE"
            assert caught.value.category is Category.STUDIO_BUG

    run(main)


# -- downloads ------------------------------------------------------------------------------


class DroppingStream(httpx.AsyncByteStream):
    """Yields part of the body, then loses the connection."""

    def __init__(self, part: bytes) -> None:
        self.part = part

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.part
        raise httpx.ReadError("Connection reset by peer")


def test_download_writes_through_a_temp_file_and_sends_the_key_home_only(tmp_path: Path) -> None:
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 50
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        # A stream, as a real transport gives: `content=` would hand over a pre-read body.
        stream = httpx.ByteStream(data)
        return httpx.Response(200, stream=stream, headers={"Content-Length": str(len(data))})

    progress: list[tuple[int, int | None]] = []
    dest = tmp_path / "out" / "movie.mp4"

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            await client.download_output(
                Job.model_validate(job_json()), dest, lambda r, t: progress.append((r, t))
            )
            cdn = job_json(output_url="https://cdn.phantomflow.dev/output/a1.mp4")
            await client.download_output(Job.model_validate(cdn), tmp_path / "cdn.mp4")

    run(main)
    assert dest.read_bytes() == data
    assert progress[-1] == (len(data), len(data))
    assert seen[0].headers["x-api-key"] == KEY
    assert "x-api-key" not in seen[1].headers
    assert sorted(p.name for p in dest.parent.iterdir()) == ["movie.mp4"]


def test_interrupted_download_leaves_no_output_and_no_partial(tmp_path: Path) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(
            200, headers={"Content-Length": "1000"}, stream=DroppingStream(b"x" * 400)
        )

    dest = tmp_path / "movie.mp4"

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            with pytest.raises(ApiError) as caught:
                await client.download_output(Job.model_validate(job_json()), dest)
            assert caught.value.code == "NETWORK_CONNECTION_LOST"
            assert caught.value.job_id == JOB_ID

    run(main)
    assert calls == 5  # a GET is retried like any safe read
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []


def test_short_body_is_not_accepted_as_output(tmp_path: Path) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        body = b"x" * (400 if calls == 1 else 1000)
        stream = httpx.ByteStream(body)
        return httpx.Response(200, stream=stream, headers={"Content-Length": "1000"})

    dest = tmp_path / "movie.mp4"
    existing = tmp_path / ".movie.mp4.stale.part"
    existing.write_bytes(b"old partial")

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            await client.download_output(Job.model_validate(job_json()), dest)

    run(main)
    assert dest.read_bytes() == b"x" * 1000 and calls == 2
    assert existing.read_bytes() == b"old partial"  # another download's partial is untouched


def test_output_of_an_unfinished_job_is_refused_without_a_request(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            with pytest.raises(ApiError) as caught:
                await client.download_output(Job.model_validate(job_json("queued")), tmp_path / "o")
            assert caught.value.code == "INVALID_STATE"

    run(main)


# -- templates ------------------------------------------------------------------------------


def test_template_calls(tmp_path: Path) -> None:
    template = {
        "id": "tpl_a1b2c3d4e5f6",
        "name": "Demo",
        "is_public": False,
        "owner": "me",
        "variables": ["headline"],
        "created_at": "2025-05-04T09:00:00Z",
        "updated_at": "2025-05-04T09:00:00Z",
        "script": {"scenes": []},
    }
    seen: list[tuple[str, str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        seen.append((request.method, request.url.path, body))
        if request.method == "GET" and request.url.path == "/api/templates":
            return httpx.Response(200, json={"templates": [{**template, "script": None}]})
        if request.method == "POST":
            return httpx.Response(201, json=template)
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json=template)

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            listed = await client.list_templates()
            assert listed[0].script is None and listed[0].variables == ["headline"]
            created = await client.create_template("Demo", {"scenes": []})
            assert created.id == "tpl_a1b2c3d4e5f6"
            assert (await client.get_template(created.id)).owner == "me"
            await client.update_template(created.id, is_public=True)
            await client.delete_template(created.id)
            with pytest.raises(ValueError):
                await client.update_template(created.id)

    run(main)
    assert seen[1] == (
        "POST",
        "/api/templates",
        {"name": "Demo", "script": {"scenes": []}, "is_public": False},
    )
    assert seen[3] == ("PUT", "/api/templates/tpl_a1b2c3d4e5f6", {"is_public": True})
    assert seen[4][0] == "DELETE"


def test_template_create_is_not_resent_after_a_timeout(tmp_path: Path) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadTimeout("timed out")

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            with pytest.raises(ApiError) as caught:
                await client.create_template("Demo", {"scenes": []})
            assert caught.value.ambiguous

    run(main)
    assert calls == 1


def test_delete_retried_after_a_reset_treats_404_as_done(tmp_path: Path) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ReadError("Connection reset by peer")
        return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": "gone"}})

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            await client.delete_template("tpl_a1b2c3d4e5f6")

    run(main)
    assert calls == 2


def test_client_repr_masks_the_key(tmp_path: Path) -> None:
    client = client_for(lambda r: httpx.Response(200), tmp_path)
    assert KEY not in repr(client)
    assert "ve_live_…cdef" in repr(client)
    asyncio.run(client.aclose())


def test_wait_for_job_gives_up_after_its_timeout(tmp_path: Path) -> None:
    clock = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=job_json("rendering"))

    async def main() -> ApiError:
        client = PhantomFlowClient(
            BASE, KEY, transport=httpx.MockTransport(handler), sleep=sleep, clock=lambda: clock[0]
        )
        async with client:
            with pytest.raises(ApiError) as caught:
                await client.wait_for_job(JOB_ID, timeout=5.0)
            return caught.value

    error = run(main)
    assert error.code == "JOB_WAIT_TIMEOUT" and error.category is Category.WAIT
    assert error.job_id == JOB_ID
    assert sleeps == [2.0, 2.0, 2.0]


def test_download_redirected_to_a_cdn_resumes_there(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    cdn = "https://cdn.phantomflow.dev/output/a1.mp4"
    seen: list[tuple[str, str | None, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        seen.append((url, request.headers.get("range"), request.headers.get("if-range")))
        if not url.startswith(cdn):
            return httpx.Response(302, headers={"Location": cdn})
        wanted = request.headers.get("range")
        if wanted is None:  # first try: the connection drops after 1000 bytes
            headers = {"Content-Length": str(len(data)), "ETag": '"v1"'}
            return httpx.Response(200, headers=headers, stream=DroppingStream(data[:1000]))
        first = int(wanted.removeprefix("bytes=").rstrip("-"))
        headers = {
            "Content-Length": str(len(data) - first),
            "Content-Range": f"bytes {first}-{len(data) - 1}/{len(data)}",
            "ETag": '"v1"',
        }
        return httpx.Response(206, headers=headers, stream=httpx.ByteStream(data[first:]))

    dest = tmp_path / "out" / "movie.mp4"

    async def main() -> None:
        async with client_for(handler, tmp_path) as client:
            await client.download_output(Job.model_validate(job_json()), dest)

    run(main)
    assert dest.read_bytes() == data
    assert [(u == cdn, r, i) for u, r, i in seen] == [
        (False, None, None),
        (True, None, None),
        (False, "bytes=1000-", '"v1"'),
        (True, "bytes=1000-", '"v1"'),
    ]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["movie.mp4"]
