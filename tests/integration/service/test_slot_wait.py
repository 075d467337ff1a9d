"""Waiting for a free slot (§7 "Queue it") against the real local service.

The account's slots are really full (jobs held in `rendering`/`queued` by the service's gates),
a job really finishes, and the ledger proves the waiting submission was billed once even when
the answer to the submission that landed was lost on the way back.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from app.service.errors import ApiError
from app.service.phantomflow import PhantomFlowClient, SlotWait, SlotWaitAbandoned
from app.service.retry import WaitNotice, WaitReason
from tests.integration.server.conftest import tiny_script

from .conftest import DROP, PASS, FaultProxy, Running

pytestmark = pytest.mark.timeout(120)


def pf_client(
    base: str,
    key: str,
    tmp_path: Path,
    *,
    poll_interval: float = 0.1,
    on_wait: Callable[[WaitNotice], None] | None = None,
) -> PhantomFlowClient:
    return PhantomFlowClient(
        base,
        key,
        timeout=10.0,
        cache_dir=tmp_path / "cache",
        poll_interval=poll_interval,
        on_wait=on_wait,
    )


def _upstream(service: Running) -> tuple[str, int]:
    host, port = service.url.removeprefix("http://").split(":")
    return host, int(port)


def test_waiting_submit_lands_when_a_job_finishes_and_is_billed_once(
    start_service: Callable[..., Running], tmp_path: Path
) -> None:
    finish = threading.Event()
    service = start_service(finish_gate=finish)
    me = service.account("enterprise", 100, rate_limit=1000, concurrency_limit=2)
    waits: list[SlotWait] = []

    def on_slot_wait(wait: SlotWait) -> None:
        waits.append(wait)
        if len(waits) == 2:
            finish.set()  # the rendering job finishes: a slot frees

    async def main() -> tuple[list[str], str, bool, list[tuple[str, str, str]]]:
        proxy = await FaultProxy(*_upstream(service)).start()
        try:
            async with pf_client(proxy.url, me.live_key, tmp_path) as pf:
                first = await pf.render(tiny_script(1))
                second = await pf.render(tiny_script(2))
                # The refusal passes; the answer to the submission that lands is lost on the
                # way back (the service made the job), so the client must resend the same key.
                proxy.plan("POST", "/api/render", PASS, DROP)
                accepted = await pf.render(
                    tiny_script(3), wait_for_slot=60, on_slot_wait=on_slot_wait
                )
                done = await pf.wait_for_job(accepted.job_id, interval=0.1, timeout=60)
                assert done.status == "completed", done
                for job_id in (first.job_id, second.job_id):
                    assert (await pf.wait_for_job(job_id, interval=0.1, timeout=60)).is_terminal
                ids = [first.job_id, second.job_id, accepted.job_id]
                return ids, accepted.idempotency_key, accepted.replayed, proxy.seen
        finally:
            await proxy.close()

    ids, key, replayed, seen = asyncio.run(main())
    assert waits[0].text == "waiting for a free slot (2/2 busy)…"
    assert (waits[0].active, waits[0].limit, waits[0].refusals) == (2, 2, 1)
    assert [w.active for w in waits[:2]] == [2, 2]
    # Three POSTs for the third job: refused, landed (answer lost), replayed.
    posts = [behaviour for method, _, behaviour in seen if method == "POST"]
    assert posts == ["pass", "pass", "pass", DROP, "pass"]
    assert replayed and key
    jobs = service.store.list_jobs(me.account_id, statuses=None, limit=100, after=None)
    assert sorted(j.id for j in jobs) == sorted(ids)
    reserves = [e for e in service.store.ledger(me.account_id) if e.kind == "reserve"]
    assert sorted(e.job_id or "" for e in reserves) == sorted(ids)
    assert service.store.balance(me.account_id) == 100 - 1 - 2 - 3


def test_abandoning_the_wait_creates_nothing(held: Running, tmp_path: Path) -> None:
    me = held.account("enterprise", 100, rate_limit=1000, concurrency_limit=2)
    abandon = asyncio.Event()
    waits: list[SlotWait] = []

    def on_slot_wait(wait: SlotWait) -> None:
        waits.append(wait)
        if len(waits) == 3:
            abandon.set()

    async def main() -> SlotWaitAbandoned:
        async with pf_client(held.url, me.live_key, tmp_path) as pf:
            await pf.render(tiny_script(1))
            await pf.render(tiny_script(2))
            with pytest.raises(SlotWaitAbandoned) as caught:
                await pf.render(
                    tiny_script(3), wait_for_slot=60, on_slot_wait=on_slot_wait, abandon=abandon
                )
            return caught.value

    error = asyncio.run(main())
    assert error.code == "SLOT_WAIT_ABANDONED" and error.idempotency_key
    assert [w.text for w in waits] == ["waiting for a free slot (2/2 busy)…"] * 3
    jobs = held.store.list_jobs(me.account_id, statuses=None, limit=100, after=None)
    assert len(jobs) == 2
    assert held.store.balance(me.account_id) == 100 - 1 - 2


def test_slot_watch_spreads_its_looks_over_the_rate_window(
    start_service: Callable[..., Running], tmp_path: Path
) -> None:
    # 8 requests per 4 s window: polling every 0.05 s would be refused within a fraction of a
    # second; the watch must pace itself so no look is ever rate-limited.
    service = start_service(start_gate=threading.Event(), rate_window_seconds=4.0)
    me = service.account("enterprise", 100, rate_limit=8, concurrency_limit=1)
    notices: list[WaitNotice] = []
    waits: list[SlotWait] = []

    async def main() -> ApiError:
        async with pf_client(
            service.url, me.live_key, tmp_path, poll_interval=0.05, on_wait=notices.append
        ) as pf:
            await pf.render(tiny_script(1))
            with pytest.raises(ApiError) as caught:
                await pf.render(tiny_script(2), wait_for_slot=3.0, on_slot_wait=waits.append)
            return caught.value

    error = asyncio.run(main())
    assert error.code == "CONCURRENCY_LIMIT_EXCEEDED"  # still busy when the wait ran out
    assert [n for n in notices if n.reason is WaitReason.RATE_LIMIT] == []
    assert 2 <= len(waits) <= 7
    assert all(w.active == 1 and w.limit == 1 for w in waits)
    assert all(w.next_check > 0.05 for w in waits[1:])  # slower than the bare poll interval
