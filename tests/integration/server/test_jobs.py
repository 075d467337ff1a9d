"""Job lifecycle, listing and pagination, cancellation while rendering, restart reconciliation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from app.server.store import Caller, Store, Submission
from tests.integration.server.conftest import Running, tiny_script


def test_job_object_while_queued(held: Running) -> None:
    key = held.account().live_key
    job_id = held.submit(key).json()["job_id"]
    job = held.job(key, job_id)
    assert job == {
        "job_id": job_id,
        "status": "queued",
        "progress": 0,
        "created_at": job["created_at"],
        "started_at": None,
        "completed_at": None,
        "estimated_credits": 1,
        "credits_used": None,
        "duration_seconds": None,
        "output_url": None,
        "error": None,
        "template_id": None,
    }
    assert job["created_at"].endswith("Z") and len(job["created_at"]) == 20


def test_keyset_pages_stay_stable_when_new_jobs_arrive(held: Running) -> None:
    account = held.account("enterprise", 1000, rate_limit=1000, concurrency_limit=100)
    key = account.live_key
    for _ in range(7):
        assert held.submit(key).status_code == 202
    everything = held.request("GET", "/api/jobs?limit=100", key).json()["jobs"]
    order = [(j["created_at"], j["job_id"]) for j in everything]
    assert order == sorted(order, reverse=True)  # newest first, ties by job_id
    first = held.request("GET", "/api/jobs?limit=3", key).json()
    assert [j["job_id"] for j in first["jobs"]] == [j["job_id"] for j in everything[:3]]
    for _ in range(2):  # new jobs must not shift the pages still to come
        held.submit(key)
    seen = [j["job_id"] for j in first["jobs"]]
    cursor = first["next_cursor"]
    while cursor:
        page = held.request("GET", "/api/jobs", key, params={"limit": 3, "cursor": cursor}).json()
        seen += [j["job_id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
    assert seen == [j["job_id"] for j in everything]
    test_job = held.submit(account.test_key).json()["job_id"]
    listed = held.request("GET", "/api/jobs?status=queued,rendering&limit=100", key).json()
    assert test_job in [j["job_id"] for j in listed["jobs"]]  # both key modes
    assert held.request("GET", "/api/jobs?status=completed", key).json() == {
        "jobs": [],
        "next_cursor": None,
    }


def test_other_accounts_jobs_are_not_found(held: Running) -> None:
    mine, theirs = held.account(), held.account()
    job_id = held.submit(mine.live_key).json()["job_id"]
    for method, path in (
        ("GET", f"/api/jobs/{job_id}"),
        ("DELETE", f"/api/jobs/{job_id}"),
        ("GET", f"/api/jobs/{job_id}/output"),
    ):
        response = held.request(method, path, theirs.live_key)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert held.request("GET", "/api/jobs", theirs.live_key).json()["jobs"] == []
    assert held.job(mine.live_key, job_id)["status"] == "queued"


def test_cancel_while_rendering_refunds_and_output_is_not_ready(
    start_service: Callable[..., Running],
) -> None:
    service = start_service(finish_gate=threading.Event())
    account = service.account(credits=50)
    job_id = service.submit(account.live_key, tiny_script(3)).json()["job_id"]
    job = service.wait_status(account.live_key, job_id, ("rendering",))
    assert job["started_at"] is not None and job["completed_at"] is None
    output = service.request("GET", f"/api/jobs/{job_id}/output", account.live_key)
    assert output.status_code == 409 and output.json()["error"]["code"] == "INVALID_STATE"
    cancelled = service.request("DELETE", f"/api/jobs/{job_id}", account.live_key).json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["completed_at"] is not None and cancelled["credits_used"] == 0
    assert service.store.balance(account.account_id) == 50
    service.config.finish_gate.set()  # type: ignore[union-attr]
    # the slot notices the cancel; the job stays cancelled
    assert service.job(account.live_key, job_id)["status"] == "cancelled"


def test_clean_stop_fails_active_jobs_and_refunds(
    start_service: Callable[..., Running], tmp_path: Path
) -> None:
    folder = tmp_path / "restart"
    first = start_service(data_dir=folder, finish_gate=threading.Event())
    account = first.account(credits=20)
    rendering = first.submit(account.live_key, tiny_script(2)).json()["job_id"]
    first.wait_status(account.live_key, rendering, ("rendering",))
    queued = first.submit(account.live_key, tiny_script(3)).json()["job_id"]
    assert first.store.balance(account.account_id) == 15
    first.thread.stop()
    second = start_service(data_dir=folder)
    for job_id in (rendering, queued):
        job = second.job(account.live_key, job_id)
        assert job["status"] == "failed"
        assert job["error"] == {
            "code": "INTERNAL_ERROR",
            "message": "The service stopped while rendering",
        }
        assert job["credits_used"] == 0
    assert second.store.balance(account.account_id) == 20


def test_start_after_a_crash_reconciles_what_the_dead_process_left(
    start_service: Callable[..., Running], tmp_path: Path
) -> None:
    """A crash leaves rows `queued`/`rendering` with open reservations; the next start fails
    and refunds them."""
    folder = tmp_path / "crashed"
    store = Store(folder / "service.sqlite3")
    account = store.create_account("pro", 30)
    caller = Caller(store.get_account(account.account_id), "live")

    def submission(seconds: int) -> Submission:
        return Submission("live", seconds, "{}", None, None, "http://127.0.0.1:1")

    running = store.submit_job(caller, submission(4), concurrency_limit=10).job
    store.claim_next_job()
    waiting = store.submit_job(caller, submission(5), concurrency_limit=10).job
    assert store.balance(account.account_id) == 21
    store.close()  # the "crash": no shutdown code ran

    service = start_service(data_dir=folder)
    for job_id in (running.id, waiting.id):
        job = service.job(account.live_key, job_id)
        assert job["status"] == "failed"
        assert job["error"]["message"] == "The service stopped while rendering"
    assert service.store.balance(account.account_id) == 30
    refunds = [e for e in service.store.ledger(account.account_id) if e.kind == "refund"]
    assert sorted(e.amount for e in refunds) == [4, 5]
