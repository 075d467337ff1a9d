"""Fixtures: real services on 127.0.0.1 (uvicorn in a thread) over temporary data folders."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.server.config import ServiceConfig
from app.server.runner import ServiceThread
from app.server.store import NewAccount, Store


def tiny_script(seconds: float = 1.0, **extra: Any) -> dict[str, Any]:
    """A 64×64, 10 fps movie: renders in well under a second."""
    return {
        "width": 64,
        "height": 64,
        "fps": 10,
        "quality": "low",
        "scenes": [
            {
                "duration": seconds,
                "background": "#203040",
                "elements": [{"type": "text", "text": "Hi", "font_size": 20}],
            }
        ],
        **extra,
    }


@dataclass
class Running:
    """A started service with a client; `account()` makes accounts straight in its store."""

    thread: ServiceThread
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.thread.url

    @property
    def config(self) -> ServiceConfig:
        return self.thread.config

    @property
    def store(self) -> Store:
        return self.thread.service.store

    def account(self, plan: str = "pro", credits: int = 1000, **limits: int) -> NewAccount:
        return self.store.create_account(
            plan,
            credits,
            rate_limit=limits.get("rate_limit"),
            concurrency_limit=limits.get("concurrency_limit"),
        )

    def request(self, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if key is not None:
            headers["x-api-key"] = key
        return self.client.request(method, self.url + path, headers=headers, **kw)

    def submit(self, key: str, script: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return self.request("POST", "/api/render", key, json=script or tiny_script(), **kw)

    def job(self, key: str, job_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/api/jobs/{job_id}", key)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def wait_status(
        self, key: str, job_id: str, statuses: tuple[str, ...], timeout: float = 60.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(key, job_id)
            if job["status"] in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job stayed {job['status']}: {job}")
            time.sleep(0.05)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """start_service(**config) → a running service; all are stopped at the end of the test."""
    started: list[Running] = []

    def start(data_dir: Path | None = None, **overrides: Any) -> Running:
        settings: dict[str, Any] = {"create_default_account": False, "port": 0}
        settings.update(overrides)
        folder = data_dir or tmp_path / f"service-{len(started)}"
        thread = ServiceThread(ServiceConfig(data_dir=folder, **settings)).start()
        running = Running(thread, httpx.Client(timeout=30.0))
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        running.client.close()
        running.thread.stop()


@pytest.fixture
def held(start_service: Callable[..., Running]) -> Running:
    """A service whose render slots never take a job: jobs stay `queued` until cancelled."""
    import threading

    return start_service(start_gate=threading.Event())


def assert_error(response: httpx.Response, status: int, code: str, **extras: Any) -> dict[str, Any]:
    """The response is the documented envelope with this status, code and extras."""
    assert response.status_code == status, response.text
    body = response.json()
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, body
    assert isinstance(error["message"], str) and error["message"]
    for name, value in extras.items():
        assert error.get(name) == value, (name, body)
    assert "Traceback" not in response.text
    return error
