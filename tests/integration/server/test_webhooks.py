"""Webhooks: signed with the account's secret over the raw body, retried on failure."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.server.store import Delivery
from tests.integration.server.conftest import Running, tiny_script

FAST = {"webhook_delays": (0.05, 0.1, 0.1, 0.1, 0.1), "webhook_timeout": 2.0}


class Receiver:
    """A tiny HTTP receiver on 127.0.0.1 answering the listed statuses in turn (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.got = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.got:
                    receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.got.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_calls(self, count: int, timeout: float = 10.0) -> None:
        with self.got:
            assert self.got.wait_for(lambda: len(self.calls) >= count, timeout), self.calls

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Callable[[list[int]], Receiver]]:
    made: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for item in made:
        item.close()


def settled(service: Running, job_id: str) -> list[Delivery]:
    """The job's deliveries once none is pending any more (the receiver answers before the
    service records the attempt)."""
    deadline = time.monotonic() + 10
    while True:
        deliveries = service.store.deliveries(job_id=job_id)
        if deliveries and all(d.state != "pending" for d in deliveries):
            return deliveries
        assert time.monotonic() < deadline, deliveries
        time.sleep(0.02)


def failing_script(hook: str) -> dict[str, Any]:
    script = tiny_script(webhook_uri=hook)
    script["scenes"][0]["elements"].append({"type": "image", "src": "not/here.png"})
    return script


def test_signed_webhook_retried_after_500s(
    start_service: Callable[..., Running], receiver: Callable[[list[int]], Receiver]
) -> None:
    service = start_service(**FAST)
    hook = receiver([500, 500])
    account = service.account()
    secret = service.request("GET", "/api/account", account.live_key).json()["webhook_secret"]
    job_id = service.submit(account.live_key, failing_script(hook.url)).json()["job_id"]
    hook.wait_calls(3)
    bodies = {body for _, body in hook.calls}
    assert len(bodies) == 1  # identical bytes on every attempt
    body = bodies.pop()
    assert json.loads(body) == {
        "job_id": job_id,
        "status": "failed",
        "error": {"code": "RENDER_FAILED", "message": json.loads(body)["error"]["message"]},
    }
    for headers, raw in hook.calls:
        expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-phantomflow-signature"], f"sha256={expected}")
    deliveries = settled(service, job_id)
    assert [(d.state, d.attempts, d.last_status) for d in deliveries] == [("delivered", 3, 200)]


def test_webhook_gives_up_after_five_retries_and_test_keys_deliver_too(
    start_service: Callable[..., Running], receiver: Callable[[list[int]], Receiver]
) -> None:
    service = start_service(**FAST)
    hook = receiver([500] * 10)
    account = service.account()
    job_id = service.submit(account.test_key, failing_script(hook.url)).json()["job_id"]
    hook.wait_calls(6)
    deliveries = settled(service, job_id)
    assert [(d.state, d.attempts) for d in deliveries] == [("failed", 6)]
    time.sleep(0.5)
    assert len(hook.calls) == 6
    assert service.job(account.test_key, job_id)["status"] == "failed"  # job unaffected


def test_no_webhook_for_cancelled_jobs(
    held: Running, receiver: Callable[[list[int]], Receiver]
) -> None:
    hook = receiver([])
    key = held.account().live_key
    job_id = held.submit(key, tiny_script(webhook_uri=hook.url)).json()["job_id"]
    held.request("DELETE", f"/api/jobs/{job_id}", key)
    threading.Event().wait(0.3)
    assert hook.calls == []
    assert held.store.deliveries(job_id=job_id) == []
