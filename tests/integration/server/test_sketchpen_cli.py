"""`serve create-account --json` prints Sketchpen keys that work, stored only hashed; the default
account's keys file carries them too."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from app.server.config import ServiceConfig
from app.server.runner import ServiceThread
from tests.integration.server.conftest import Running

ROOT = Path(__file__).resolve().parents[3]


def test_create_account_json_has_working_sketchpen_keys(
    tmp_path: Path, start_service: Callable[..., Running]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve", "create-account", "--plan", "pro",
         "--credits", "7", "--data", str(tmp_path), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    account = json.loads(result.stdout)
    live, test = account["sketchpen_live_key"], account["sketchpen_test_key"]
    assert live.startswith("sk_live_") and len(live) == 40
    assert test.startswith("sk_test_") and len(test) == 40
    database = (tmp_path / "service.sqlite3").read_bytes()
    assert live.encode() not in database and test.encode() not in database
    running = start_service(data_dir=tmp_path)
    for key, mode in ((live, "live"), (test, "test")):
        me = running.client.get(running.url + "/api/v1/account", headers={"x-api-key": key})
        assert me.status_code == 200, me.text
        assert me.json() == {
            "credits_balance": 7,
            "concurrency": {"limit": 3, "active": 0},
            "key_mode": mode,
        }
    # The PhantomFlow side refuses Sketchpen keys, and the other way round.
    pf = running.client.get(running.url + "/api/account", headers={"x-api-key": live})
    assert pf.status_code == 401
    sk = running.client.get(
        running.url + "/api/v1/account", headers={"x-api-key": account["live_key"]}
    )
    assert sk.status_code == 401 and sk.json()["error"]["code"] == "AUTH_ERROR"


def test_default_account_file_carries_sketchpen_keys(tmp_path: Path) -> None:
    config = ServiceConfig(data_dir=tmp_path, port=0)
    with ServiceThread(config) as service:
        keys = json.loads(config.default_account_file.read_text())
        import httpx

        me = httpx.get(
            service.url + "/api/v1/account", headers={"x-api-key": keys["sketchpen_live_key"]}
        )
        assert me.status_code == 200 and me.json()["credits_balance"] == config.default_credits
        assert keys["sketchpen_test_key"].startswith("sk_test_")
