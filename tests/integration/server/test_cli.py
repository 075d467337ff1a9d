"""`reelsmith serve` as a separate process: URL on the first line, default account, Ctrl-C,
and a crash (SIGKILL) mid-render reconciled by the next start."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.integration.server.conftest import Running, tiny_script

ROOT = Path(__file__).resolve().parents[3]


def start_serve(
    data: Path, *extra: str, stderr: Any = subprocess.DEVNULL
) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", "0", "--data", str(data), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    return process, url


def stop_serve(process: subprocess.Popen[str]) -> None:
    """Ctrl-C: a clean stop exits 0 (the caller's finally kills what is left on failure)."""
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0


def kill_serve(process: subprocess.Popen[str]) -> None:
    """SIGKILL of the service's whole process group (render workers too), if still running."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/render/schema", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("service did not answer")


def test_create_account_prints_json_once(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "create-account", "--plan", "starter",
         "--credits", "42", "--data", str(tmp_path), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    account = json.loads(result.stdout)
    assert set(account) == {
        "account_id", "plan", "credits", "live_key", "test_key",
        "sketchpen_live_key", "sketchpen_test_key",
    }  # fmt: skip
    assert account["plan"] == "starter" and account["credits"] == 42
    assert account["live_key"].startswith("ve_live_") and len(account["live_key"]) == 40
    assert account["test_key"].startswith("ve_test_")
    assert account["live_key"].encode() not in (tmp_path / "service.sqlite3").read_bytes()


def test_serve_prints_url_creates_default_account_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    process, url = start_serve(tmp_path)
    try:
        wait_ready(url)
        keys_file = tmp_path / "default-account.json"
        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        account = json.loads(keys_file.read_text())
        me = httpx.get(url + "/api/account", headers={"x-api-key": account["live_key"]})
        assert me.status_code == 200 and me.json()["plan"] == "pro"
        stop_serve(process)
    finally:
        kill_serve(process)


def test_serve_warns_when_its_event_loop_is_blocked(tmp_path: Path) -> None:
    # The whole process stopped for 0.4 s (SIGSTOP … SIGCONT): the loop could not run, and the
    # warning on stderr says so, with the time it began and how long, keys never shown.
    log_path = tmp_path / "serve.err"
    with open(log_path, "w") as err:
        process, url = start_serve(tmp_path / "data", "--stall-warning-ms", "150", stderr=err)
    try:
        wait_ready(url)
        os.kill(process.pid, signal.SIGSTOP)
        time.sleep(0.4)
        os.kill(process.pid, signal.SIGCONT)
        assert httpx.get(url + "/api/render/schema", timeout=10).status_code == 200
        deadline = time.monotonic() + 10
        while "event loop was blocked" not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        stop_serve(process)
    finally:
        kill_serve(process)
    shape = re.compile(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d WARNING app\.server\.stallwatch: the "
        r"event loop was blocked for (\d+) ms from \d\d:\d\d:\d\d\.\d{3}: every request waited$"
    )
    lines = [line for line in log_path.read_text().splitlines() if "blocked" in line]
    matches = [shape.match(line) for line in lines]
    assert all(matches), lines
    blocked_ms = max(int(m.group(1)) for m in matches if m)
    assert 350 <= blocked_ms < 5000, lines
    live_key = json.loads((tmp_path / "data" / "default-account.json").read_text())["live_key"]
    assert live_key not in log_path.read_text()


def test_crash_mid_render_is_reconciled_on_the_next_start(
    tmp_path: Path, start_service: Callable[..., Running]
) -> None:
    process, url = start_serve(tmp_path)
    try:
        wait_ready(url)
        account = json.loads((tmp_path / "default-account.json").read_text())
        key = account["live_key"]
        headers = {"x-api-key": key}
        job_id = httpx.post(url + "/api/render", headers=headers, json=tiny_script(300)).json()[
            "job_id"
        ]
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/api/jobs/{job_id}", headers=headers).json()["status"] != (
            "rendering"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the service and its render workers
        process.wait()
    service = start_service(data_dir=tmp_path)
    job = service.job(key, job_id)
    assert job["status"] == "failed"
    assert job["error"] == {
        "code": "INTERNAL_ERROR",
        "message": "The service stopped while rendering",
    }
    assert job["credits_used"] == 0
    assert service.store.balance(account["account_id"]) == 1000
