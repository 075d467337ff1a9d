"""Real renders (64×64 at 10 fps): settlement, output streaming with ranges, RENDER_FAILED."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.server.conftest import Running, assert_error, tiny_script


@pytest.fixture
def service(start_service: Callable[..., Running]) -> Running:
    return start_service(render_processes=1)


def test_completed_job_settles_to_ceil_of_the_real_duration(service: Running) -> None:
    account = service.account(credits=10)
    # 1.04 s is 10 frames at 10 fps: 1.0 s of video, so 1 credit of the 2 reserved is used.
    accepted = service.submit(account.live_key, tiny_script(1.04))
    assert accepted.json()["estimated_credits"] == 2
    job = service.wait_status(account.live_key, accepted.json()["job_id"], ("completed", "failed"))
    assert job["status"] == "completed", job
    assert job["progress"] == 1
    assert job["duration_seconds"] == 1.0
    assert job["credits_used"] == 1
    assert job["output_url"] == f"{service.url}/api/jobs/{job['job_id']}/output"
    assert job["started_at"] is not None and job["completed_at"] is not None
    ledger = [(e.kind, e.amount) for e in service.store.ledger(account.account_id)]
    assert ledger == [("grant", 10), ("reserve", -2), ("settle", 1)]
    assert service.store.balance(account.account_id) == 9
    # a finished job cannot be cancelled
    assert_error(
        service.request("DELETE", f"/api/jobs/{job['job_id']}", account.live_key),
        409,
        "INVALID_STATE",
        message="Job is already completed",
    )


def test_output_is_streamed_with_range_support(service: Running) -> None:
    account = service.account()
    job_id = service.submit(account.test_key).json()["job_id"]
    job = service.wait_status(account.test_key, job_id, ("completed", "failed"))
    assert job["status"] == "completed", job
    assert job["credits_used"] == 0  # sandbox
    whole = service.request("GET", f"/api/jobs/{job_id}/output", account.live_key)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    assert int(whole.headers["content-length"]) == len(whole.content) > 100
    assert whole.content[4:8] == b"ftyp"
    etag = whole.headers["etag"]
    part = service.request(
        "GET", f"/api/jobs/{job_id}/output", account.live_key, headers={"Range": "bytes=10-99"}
    )
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-99/{len(whole.content)}"
    assert part.content == whole.content[10:100]
    tail = service.request(
        "GET", f"/api/jobs/{job_id}/output", account.live_key, headers={"Range": "bytes=-16"}
    )
    assert tail.content == whole.content[-16:]
    beyond = service.request(
        "GET",
        f"/api/jobs/{job_id}/output",
        account.live_key,
        headers={"Range": f"bytes={len(whole.content)}-"},
    )
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(whole.content)}"
    assert service.request("GET", f"/api/jobs/{job_id}/output", None).status_code == 401
    other = service.account().live_key
    assert_error(service.request("GET", f"/api/jobs/{job_id}/output", other), 404, "NOT_FOUND")
    assert (
        etag
        == service.request("GET", f"/api/jobs/{job_id}/output", account.live_key).headers["etag"]
    )


def test_missing_and_unreadable_media_fail_with_the_renderers_message(
    service: Running, tmp_path: Path
) -> None:
    account = service.account(credits=10)
    missing = tmp_path / "gone.png"
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not an image")
    for src in (missing, broken):
        script = tiny_script(1)
        script["scenes"][0]["elements"].append({"type": "image", "src": str(src)})
        job_id = service.submit(account.live_key, script).json()["job_id"]
        job = service.wait_status(account.live_key, job_id, ("completed", "failed"))
        assert job["status"] == "failed"
        assert job["error"]["code"] == "RENDER_FAILED"
        assert job["error"]["message"].startswith("scenes.0.elements.1: ")
        assert len(job["error"]["message"]) > len("scenes.0.elements.1: ")
        assert job["credits_used"] == 0
    assert service.store.balance(account.account_id) == 10
    assert not list(service.config.outputs_dir.glob("*.mp4"))


def test_completed_webhook_body(service: Running, tmp_path: Path) -> None:
    from tests.integration.server.test_webhooks import Receiver

    hook = Receiver([])
    try:
        account = service.account()
        job_id = service.submit(account.live_key, tiny_script(1, webhook_uri=hook.url)).json()[
            "job_id"
        ]
        hook.wait_calls(1, timeout=60)
        assert json.loads(hook.calls[0][1]) == {
            "job_id": job_id,
            "status": "completed",
            "output_url": f"{service.url}/api/jobs/{job_id}/output",
            "duration_seconds": 1.0,
            "credits_used": 1,
        }
    finally:
        hook.close()
