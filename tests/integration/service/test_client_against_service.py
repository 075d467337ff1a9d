"""The studio's client against the real local service over loopback.

Every error code is produced by a real request and must come back as the right category; the
retry policy is checked against real 429s, real INTERNAL_ERRORs, and a proxy that loses answers,
stalls or answers with HTML pages, while the service's ledger proves nothing was billed twice.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.service.errors import Action, ApiError, Category, NotOffered, parse_error
from app.service.phantomflow import PhantomFlowClient, SubmissionUncertain
from app.service.retry import RetryPolicy, WaitNotice, WaitReason
from tests.integration.server.conftest import tiny_script

from .conftest import DROP, HTML_500, HTML_502, STALL, FaultProxy, Running

pytestmark = pytest.mark.timeout(120)


class Sleeps:
    """Records waits; sleeps for real only a token amount so the service's clock still moves."""

    def __init__(self, real: bool = False) -> None:
        self.calls: list[float] = []
        self.real = real

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(seconds if self.real else 0)


def client(
    base: str,
    key: str,
    tmp_path: Path,
    *,
    sleeps: Sleeps | None = None,
    timeout: float = 10.0,
    on_wait: Callable[[WaitNotice], None] | None = None,
) -> PhantomFlowClient:
    return PhantomFlowClient(
        base,
        key,
        timeout=timeout,
        cache_dir=tmp_path / "cache",
        sleep=sleeps or Sleeps(),
        on_wait=on_wait,
        retry_policy=RetryPolicy(),
    )


async def raises(call: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call
    return caught.value


def test_every_error_code_is_parsed_into_its_category(held: Running, tmp_path: Path) -> None:
    # Two concurrent jobs as on Free, without Free's 10 requests a minute.
    me = held.account("enterprise", 100, rate_limit=1000, concurrency_limit=2)
    other = held.account("pro", 100)
    broke = held.account("pro", 0)

    async def main() -> None:
        async with (
            client(held.url, me.live_key, tmp_path) as pf,
            client(held.url, other.live_key, tmp_path) as them,
            client(held.url, broke.live_key, tmp_path) as poor,
            client(held.url, "ve_live_" + "0" * 32, tmp_path) as nobody,
        ):
            error = await raises(pf.render(b'{"scenes": ['))
            assert (error.code, error.category) == ("INVALID_JSON", Category.STUDIO_BUG)

            error = await raises(pf.render({"scenes": [{"duration": "long"}]}))
            assert (error.code, error.category) == ("SCHEMA_VALIDATION_ERROR", Category.FIX_SCRIPT)
            assert error.path is not None and error.path.startswith("scenes.0")

            error = await raises(pf.create_template("   ", tiny_script()))
            assert (error.code, error.path) == ("VALIDATION_ERROR", "name")
            assert error.category is Category.FIX_SCRIPT

            async with httpx.AsyncClient() as raw:
                response = await raw.post(
                    held.url + "/api/render/template",
                    json={"variables": {}},
                    headers={"x-api-key": me.live_key},
                )
            error = parse_error(response)
            assert (error.code, error.category) == ("INVALID_REQUEST", Category.STUDIO_BUG)

            error = await raises(nobody.list_jobs())
            assert (error.code, error.category) == ("UNAUTHORIZED", Category.CREDENTIALS)
            assert error.actions[0] is Action.ENTER_KEY

            error = await raises(poor.render(tiny_script(3)))
            assert (error.code, error.category) == ("INSUFFICIENT_CREDITS", Category.MONEY)
            assert (error.required, error.balance) == (3, 0)

            public = await them.create_template("Theirs", tiny_script(), is_public=True)
            error = await raises(pf.update_template(public.id, name="Mine now"))
            assert (error.code, error.category) == ("FORBIDDEN", Category.PERMISSION)
            assert error.actions[0] is Action.SAVE_AS_COPY

            error = await raises(pf.get_job(str(uuid.uuid4())))
            assert (error.code, error.category) == ("NOT_FOUND", Category.PERMISSION)
            assert not isinstance(error, NotOffered)

            error = await raises(pf.render_template("tpl_000000000000", {}))
            assert (error.code, error.category) == ("TEMPLATE_NOT_FOUND", Category.PERMISSION)
            assert error.actions[0] is Action.CHOOSE_TEMPLATE

            first = await pf.render(tiny_script(), idempotency_key="same-key")
            error = await raises(pf.render(tiny_script(2), idempotency_key="same-key"))
            assert (error.code, error.category) == ("IDEMPOTENCY_CONFLICT", Category.STUDIO_BUG)

            await pf.render(tiny_script())
            # 2 active jobs; the third waits for a slot.
            error = await raises(pf.render(tiny_script()))
            assert error.code == "CONCURRENCY_LIMIT_EXCEEDED" and error.category is Category.WAIT
            assert error.is_concurrency_limit and error.retry_after is not None

            cancelled = await pf.cancel_job(first.job_id)
            assert cancelled.status == "cancelled"
            error = await raises(pf.cancel_job(first.job_id))
            assert (error.code, error.category) == ("INVALID_STATE", Category.STATE)

    asyncio.run(main())


def test_internal_error_is_retried_then_reported(held: Running, tmp_path: Path) -> None:
    me = held.account("pro", 100)
    held.config.faults.add("account")
    sleeps = Sleeps()

    async def main() -> None:
        async with client(held.url, me.live_key, tmp_path, sleeps=sleeps) as pf:
            error = await raises(pf.account())
            assert (error.code, error.category) == ("INTERNAL_ERROR", Category.TRANSIENT)
            assert error.attempts == 5 and error.request_id
            assert "Traceback" not in error.raw
            held.config.faults.discard("account")
            account = await pf.account()
            assert account.plan == "pro" and account.credits_balance == 100

    try:
        asyncio.run(main())
    finally:
        held.config.faults.discard("account")
    assert len(sleeps.calls) == 4


def test_render_failure_is_a_render_category_job_error(
    start_service: Callable[..., Running], tmp_path: Path
) -> None:
    service = start_service()
    me = service.account("pro", 100)
    script = tiny_script()
    script["scenes"][0]["elements"].append(
        {"type": "image", "src": "http://127.0.0.1:9/missing.png"}
    )

    async def main() -> None:
        async with client(service.url, me.live_key, tmp_path, sleeps=Sleeps(real=True)) as pf:
            accepted = await pf.render(script)
            job = await pf.wait_for_job(accepted.job_id, interval=0.1, timeout=60)
            assert job.status == "failed"
            error = job.error_value()
            assert error is not None
            assert (error.code, error.category) == ("RENDER_FAILED", Category.RENDER)
            assert error.job_id == accepted.job_id
            account = await pf.account()
            assert account.credits_balance == 100  # failures are not charged

    asyncio.run(main())


def test_client_waits_out_a_real_rate_limit(
    start_service: Callable[..., Running], tmp_path: Path
) -> None:
    service = start_service(rate_window_seconds=2.0)
    me = service.account("free", 100)
    notices: list[WaitNotice] = []
    sleeps = Sleeps(real=True)

    async def main() -> None:
        async with client(
            service.url, me.live_key, tmp_path, sleeps=sleeps, on_wait=notices.append
        ) as pf:
            for _ in range(10):
                await pf.list_jobs()
            assert pf.account_state.snapshot.rate_limit is not None
            assert pf.account_state.snapshot.rate_limit.remaining == 0
            started = time.monotonic()
            page = await pf.list_jobs()  # the 11th: 429, wait Retry-After, succeed
            assert page.jobs == []
            assert time.monotonic() - started >= 0.9

    asyncio.run(main())
    assert notices and notices[0].reason is WaitReason.RATE_LIMIT
    assert 1.0 <= notices[0].seconds <= 2.0


def _jobs_of(service: Running, account_id: str) -> list[Any]:
    return service.store.list_jobs(account_id, statuses=None, limit=100, after=None)


def test_lost_answer_to_a_first_submission_is_not_resent(held: Running, tmp_path: Path) -> None:
    me = held.account("pro", 100)

    async def main() -> SubmissionUncertain:
        host, port = held.url.removeprefix("http://").split(":")
        proxy = await FaultProxy(host, int(port)).start()
        proxy.plan("POST", "/api/render", DROP)
        try:
            async with client(proxy.url, me.live_key, tmp_path) as pf:
                with pytest.raises(SubmissionUncertain) as caught:
                    await pf.render(tiny_script(5))
                return caught.value
        finally:
            await proxy.close()

    error = asyncio.run(main())
    jobs = _jobs_of(held, me.account_id)
    assert len(jobs) == 1  # the service made the job once and was never asked again
    assert held.store.balance(me.account_id) == 95
    assert not error.safe_to_resend
    assert [j.job_id for j in error.candidates] == [jobs[0].id]


def test_stalled_submission_times_out_without_a_second_job(held: Running, tmp_path: Path) -> None:
    me = held.account("pro", 100)

    async def main() -> SubmissionUncertain:
        host, port = held.url.removeprefix("http://").split(":")
        proxy = await FaultProxy(host, int(port)).start()
        proxy.plan("POST", "/api/render", STALL)
        try:
            async with client(proxy.url, me.live_key, tmp_path, timeout=1.0) as pf:
                with pytest.raises(SubmissionUncertain) as caught:
                    await pf.render(tiny_script(4))
                return caught.value
        finally:
            await proxy.close()

    error = asyncio.run(main())
    assert error.code == "NETWORK_TIMEOUT" and error.ambiguous
    assert len(_jobs_of(held, me.account_id)) == 1
    assert held.store.balance(me.account_id) == 96
    assert len(error.candidates) == 1


def test_after_an_echo_a_lost_answer_is_resent_and_replayed(held: Running, tmp_path: Path) -> None:
    me = held.account("pro", 100)

    async def main() -> tuple[str, str, list[tuple[str, str, str]]]:
        host, port = held.url.removeprefix("http://").split(":")
        proxy = await FaultProxy(host, int(port)).start()
        try:
            async with client(proxy.url, me.live_key, tmp_path) as pf:
                first = await pf.render(tiny_script(2))  # the service echoes the key
                assert pf.echoes_idempotency_key
                proxy.plan("POST", "/api/render", DROP, HTML_502)
                second = await pf.render(tiny_script(3))
                assert second.replayed
                return first.job_id, second.job_id, proxy.seen
        finally:
            await proxy.close()

    first, second, seen = asyncio.run(main())
    assert [b for m, _, b in seen if m == "POST"] == ["pass", DROP, HTML_502, "pass"]
    jobs = _jobs_of(held, me.account_id)
    assert sorted(j.id for j in jobs) == sorted([first, second])
    assert held.store.balance(me.account_id) == 100 - 2 - 3  # the 3-credit job billed once


def test_proxy_html_errors_are_retried_for_reads(held: Running, tmp_path: Path) -> None:
    me = held.account("pro", 100)
    sleeps = Sleeps()

    async def main() -> list[tuple[str, str, str]]:
        host, port = held.url.removeprefix("http://").split(":")
        proxy = await FaultProxy(host, int(port)).start()
        proxy.plan("GET", "/api/jobs", HTML_502, HTML_500)
        try:
            async with client(proxy.url, me.live_key, tmp_path, sleeps=sleeps) as pf:
                page = await pf.list_jobs()
                assert page.jobs == []
                return proxy.seen
        finally:
            await proxy.close()

    seen = asyncio.run(main())
    assert [b for _, _, b in seen] == [HTML_502, HTML_500, "pass"]
    assert len(sleeps.calls) == 2
    assert 0.5 <= sleeps.calls[0] <= 1.0 and 1.0 <= sleeps.calls[1] <= 2.0


def test_proxy_html_error_on_a_first_submission_is_not_resent(
    held: Running, tmp_path: Path
) -> None:
    me = held.account("pro", 100)

    async def main() -> SubmissionUncertain:
        host, port = held.url.removeprefix("http://").split(":")
        proxy = await FaultProxy(host, int(port)).start()
        proxy.plan("POST", "/api/render", HTML_502)
        try:
            async with client(proxy.url, me.live_key, tmp_path) as pf:
                with pytest.raises(SubmissionUncertain) as caught:
                    await pf.render(tiny_script())
                return caught.value
        finally:
            await proxy.close()

    error = asyncio.run(main())
    assert error.status == 502 and "HTML error page" in error.message
    assert _jobs_of(held, me.account_id) == [] and error.candidates == ()


def test_schema_etag_round_trip_and_output_download(
    start_service: Callable[..., Running], tmp_path: Path
) -> None:
    service = start_service()
    me = service.account("pro", 100)
    progress: list[tuple[int, int | None]] = []

    async def main() -> None:
        async with client(service.url, me.test_key, tmp_path, sleeps=Sleeps(real=True)) as pf:
            fresh = await pf.fetch_schema(activate=False)
            assert fresh.etag and fresh.source == service.url
            cached = await pf.fetch_schema(activate=False)
            assert cached.source.endswith("(cached)") and cached.document == fresh.document
            accepted = await pf.render(tiny_script())
            job = await pf.wait_for_job(accepted.job_id, interval=0.1, timeout=60)
            assert job.status == "completed", job
            dest = tmp_path / "out" / "movie.mp4"
            await pf.download_output(job, dest, lambda r, t: progress.append((r, t)))
            assert dest.read_bytes()[4:8] == b"ftyp"
            assert sorted(p.name for p in dest.parent.iterdir()) == ["movie.mp4"]
            assert pf.account_state.snapshot.credits_balance == 100  # test key: free

    asyncio.run(main())
    assert progress[-1][0] == progress[-1][1]


def test_details_text_of_a_real_error_carries_no_key(held: Running, tmp_path: Path) -> None:
    me = held.account("pro", 0)

    async def main() -> ApiError:
        async with client(held.url, me.live_key, tmp_path) as pf:
            return await raises(pf.render(tiny_script()))

    error = asyncio.run(main())
    text = error.details_text({"Reelsmith": "test"})
    assert me.live_key not in text and me.live_key not in error.raw
    assert "Request ID:" in text
    assert json.loads(error.raw)["error"]["code"] == "INSUFFICIENT_CREDITS"
