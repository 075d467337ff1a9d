"""The public schema endpoint: the studio's schema, strong ETag, 304, counted only with a key."""

from __future__ import annotations

import json

from app.script.schema import build_schema, schema_text
from tests.integration.server.conftest import Running


def test_schema_is_the_studios_with_etag_and_304(held: Running) -> None:
    response = held.request("GET", "/api/render/schema")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/schema+json")
    assert response.text == schema_text(build_schema())
    assert json.loads(response.text)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    etag = response.headers["etag"]
    assert etag.startswith('"sha256-') and not etag.startswith("W/")
    assert response.headers["cache-control"] == "no-cache"
    assert "x-ratelimit-limit" not in response.headers
    cached = held.request("GET", "/api/render/schema", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    stale = held.request("GET", "/api/render/schema", headers={"If-None-Match": '"old"'})
    assert stale.status_code == 200


def test_a_valid_key_on_the_schema_is_rate_counted(held: Running) -> None:
    key = held.account().live_key
    counted = held.request("GET", "/api/render/schema", key)
    assert counted.headers["x-ratelimit-remaining"] == "119"
    after = held.request("GET", "/api/account", key)
    assert after.headers["x-ratelimit-remaining"] == "118"


def test_small_answers_do_not_wait_for_delayed_acks(held: Running) -> None:
    """With Nagle's algorithm on, every keep-alive answer waited ~40 ms for a delayed ACK."""
    import statistics
    import time

    held.request("GET", "/api/render/schema")  # open the keep-alive connection
    times = []
    for _ in range(15):
        start = time.perf_counter()
        held.request("GET", "/api/render/schema", headers={"If-None-Match": '"x"'})
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.025
