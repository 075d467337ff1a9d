"""Helpers for the Sketchpen integration tests: a real service on 127.0.0.1 with short stages
and 320×180 videos, raw httpx calls, and direct looks at the ledger."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from app.server.sketchpen_store import SketchStore
from tests.integration.server.conftest import Running

#: Short stages and small frames keep a whole lifecycle well under two seconds.
FAST: dict[str, Any] = {"sketchpen_stage_seconds": 0.05, "sketchpen_short_side": 180}
#: Three sentences → three scenes.
PROMPT = "Plants make food from light. They drink water through roots. Oxygen is released."


@dataclass
class Sketch:
    """A running service with one account and its Sketchpen keys."""

    running: Running
    account_id: str
    live: str
    test: str

    @property
    def url(self) -> str:
        return self.running.url + "/api/v1"

    @property
    def store(self) -> SketchStore:
        store: SketchStore = self.running.thread.app.state.sketchpen.store
        return store

    @property
    def config(self) -> Any:
        return self.running.config

    def call(self, method: str, path: str, key: str | None = "live", **kw: Any) -> httpx.Response:
        """`key` is "live", "test", None (no header) or a literal key."""
        headers = dict(kw.pop("headers", {}) or {})
        if key is not None:
            headers["x-api-key"] = {"live": self.live, "test": self.test}.get(key, key)
        return self.running.client.request(method, self.url + path, headers=headers, **kw)

    def create(self, key: str = "live", **body: Any) -> dict[str, Any]:
        body.setdefault("prompt", PROMPT)
        body.setdefault("fps", 10)
        response = self.call("POST", "/videos", key, json=body)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    def video(self, video_id: str, key: str = "live") -> dict[str, Any]:
        response = self.call("GET", f"/videos/{video_id}", key)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def wait(
        self, video_id: str, *statuses: str, key: str = "live", timeout: float = 60.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            video = self.video(video_id, key)
            if video["status"] in statuses:
                return video
            if time.monotonic() > deadline:
                raise AssertionError(f"video stayed {video['status']}: {video}")
            time.sleep(0.02)

    def draft(self, key: str = "live", **body: Any) -> dict[str, Any]:
        """A video waiting in refining."""
        return self.wait(self.create(key, **body)["id"], "refining", key=key)

    def approve(self, video_id: str, key: str = "live") -> httpx.Response:
        return self.call("POST", f"/videos/{video_id}/approve", key)

    def balance(self) -> int:
        return self.store.balance(self.account_id)

    def ledger(self, video_id: str) -> list[tuple[str, int]]:
        """The video's ledger entries in order: ("reserve", −N) charges, ("refund", +k)."""
        rows = self.running.store.ledger(self.account_id)
        return [(row.kind, row.amount) for row in rows if row.job_id == video_id]


def open_sketch(start: Callable[..., Running], credits: int = 100, **overrides: Any) -> Sketch:
    running = start(**{**FAST, **overrides})
    account = running.account("pro", credits)
    keys = running.thread.app.state.sketchpen.store.create_keys(account.account_id)
    return Sketch(running, account.account_id, keys.live_key, keys.test_key)


def assert_envelope(
    response: httpx.Response, status: int, code: str, *, message: str | None = None
) -> dict[str, Any]:
    """The Sketchpen envelope with this status and code, a UUID request id echoed in the
    X-Request-ID header."""
    import uuid

    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    uuid.UUID(error["request_id"])
    assert response.headers["x-request-id"] == error["request_id"]
    if message is not None:
        assert message in error["message"], error["message"]
    assert "Traceback" not in response.text
    return error
