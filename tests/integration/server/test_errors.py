"""Every error code of seed 000 (plus INVALID_STATE, IDEMPOTENCY_CONFLICT), by real requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tests.integration.server.conftest import Running, assert_error, tiny_script

RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def test_invalid_json_names_line_and_column_and_empty_body(held: Running) -> None:
    key = held.account().live_key
    broken = held.request(
        "POST",
        "/api/render",
        key,
        content=b'{\n  "scenes": [\n    {"duration": 1 "x": 2}]}',
        headers={"content-type": "application/json"},
    )
    error = assert_error(broken, 400, "INVALID_JSON")
    assert error["message"] == "Expecting ',' delimiter: line 3 column 20"
    assert_error(held.request("POST", "/api/render", key, content=b""), 400, "INVALID_JSON")
    assert_error(held.request("POST", "/api/render", key, content=b"NaN"), 400, "INVALID_JSON")
    assert_error(
        held.request("POST", "/api/templates", key, content=b"\xff\xfe{"), 400, "INVALID_JSON"
    )


def test_schema_validation_error_has_the_validators_path(held: Running) -> None:
    key = held.account().live_key
    script = tiny_script()
    script["scenes"][0]["duration"] = "5"
    assert_error(
        held.submit(key, script),
        400,
        "SCHEMA_VALIDATION_ERROR",
        path="scenes.0.duration",
        message="Expected number, received string",
    )
    assert_error(
        held.request("POST", "/api/render", key, json=[1]), 400, "SCHEMA_VALIDATION_ERROR", path=""
    )
    # A cross-field rule of the studio's validator is a schema error of the script too.
    two = tiny_script()
    two["scenes"][0]["transition"] = {"type": "fade"}
    assert_error(held.submit(key, two), 400, "SCHEMA_VALIDATION_ERROR", path="scenes.0.transition")


def test_validation_errors_name_the_request_field(held: Running) -> None:
    key = held.account().live_key
    assert_error(
        held.request("POST", "/api/templates", key, json={"name": "  ", "script": tiny_script()}),
        400,
        "VALIDATION_ERROR",
        path="name",
        message="Template name must not be empty",
    )
    for query, path in (("limit=0", "limit"), ("limit=abc", "limit"), ("status=done", "status")):
        assert_error(
            held.request("GET", f"/api/jobs?{query}", key), 400, "VALIDATION_ERROR", path=path
        )
    assert_error(
        held.request("GET", "/api/jobs?cursor=%%%", key), 400, "VALIDATION_ERROR", path="cursor"
    )
    script = tiny_script()
    script["scenes"][0]["elements"][0]["text"] = "{{headline}} {{subtitle}}"
    script["scenes"][0]["duration"] = "{{secs}}"
    created = held.request("POST", "/api/templates", key, json={"name": "T", "script": script})
    assert created.status_code == 201, created.text
    assert created.json()["variables"] == ["secs", "headline", "subtitle"]
    error = assert_error(
        held.request(
            "POST",
            "/api/render/template",
            key,
            json={"template_id": created.json()["id"], "variables": {"headline": "x"}},
        ),
        400,
        "VALIDATION_ERROR",
        path="variables.secs",
    )
    assert "secs" in error["message"] and "subtitle" in error["message"]


def test_invalid_request_for_missing_fields_and_too_large_bodies(held: Running) -> None:
    key = held.account().live_key
    assert_error(
        held.request("POST", "/api/render/template", key, json={"variables": {}}),
        400,
        "INVALID_REQUEST",
        message="template_id is required",
    )
    assert_error(
        held.request(
            "POST", "/api/render/template", key, json={"template_id": "tpl_x", "variables": []}
        ),
        400,
        "INVALID_REQUEST",
    )
    assert_error(
        held.request("POST", "/api/templates", key, json={"name": "x"}), 400, "INVALID_REQUEST"
    )
    big = b'{"pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    error = assert_error(
        held.request("POST", "/api/render", key, content=big), 413, "INVALID_REQUEST"
    )
    assert "5 MiB" in error["message"]


def test_unauthorized_for_every_kind_of_bad_key_without_rate_headers(held: Running) -> None:
    account = held.account()
    held.store.revoke_key(account.test_key)
    unknown = "ve_live_" + "0" * 32
    cases = {
        None: "Missing",
        "nonsense": "Malformed",
        unknown: "Unknown",
        account.test_key: "revoked",
    }
    for key, word in cases.items():
        response = held.request("GET", "/api/account", key)
        error = assert_error(response, 401, "UNAUTHORIZED")
        assert word in error["message"]
        assert not any(h in response.headers for h in RATE_HEADERS)
    # The schema is public: a bad key there is ignored.
    assert held.request("GET", "/api/render/schema", "nonsense").status_code == 200


def test_insufficient_credits_reports_required_and_balance(held: Running) -> None:
    account = held.account(credits=3)
    error = assert_error(
        held.submit(account.live_key, tiny_script(4.2)),
        402,
        "INSUFFICIENT_CREDITS",
        required=5,
        balance=3,
    )
    assert error["message"] == "Render needs 5 credits, balance is 3"
    # The sandbox key renders anyway and never touches the balance.
    sandbox = held.submit(account.test_key, tiny_script(4.2))
    assert sandbox.status_code == 202
    assert sandbox.json()["credits_remaining"] == 3


def test_forbidden_not_found_and_template_not_found(held: Running) -> None:
    owner, other = held.account(), held.account()
    public = held.request(
        "POST",
        "/api/templates",
        owner.live_key,
        json={"name": "Pub", "script": tiny_script(), "is_public": True},
    ).json()
    error = assert_error(
        held.request("PUT", f"/api/templates/{public['id']}", other.live_key, json={"name": "x"}),
        403,
        "FORBIDDEN",
    )
    assert public["id"] in error["message"]
    assert_error(
        held.request("GET", "/api/jobs/00000000-0000-4000-8000-000000000000", owner.live_key),
        404,
        "NOT_FOUND",
    )
    assert_error(
        held.request("GET", "/api/templates/tpl_000000000000", owner.live_key), 404, "NOT_FOUND"
    )
    assert_error(
        held.request(
            "POST", "/api/render/template", owner.live_key, json={"template_id": "tpl_000000000000"}
        ),
        404,
        "TEMPLATE_NOT_FOUND",
        message="Template tpl_000000000000 does not exist",
    )


def test_rate_limit_on_the_eleventh_request_then_ok_after_retry_after(
    start_service: Callable[..., Running],
) -> None:
    service = start_service(rate_window_seconds=2.0, start_gate=threading.Event())
    account = service.account(plan="free")
    for i in range(10):
        # live and test keys share the window
        key = account.live_key if i % 2 else account.test_key
        response = service.request("GET", "/api/account", key)
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "10"
        assert response.headers["x-ratelimit-remaining"] == str(9 - i)
    refused = service.request("GET", "/api/jobs", account.live_key)
    assert_error(refused, 429, "RATE_LIMIT_EXCEEDED")
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 2
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert int(refused.headers["x-ratelimit-reset"]) >= int(time.time())
    time.sleep(retry_after + 0.05)
    again = service.request("GET", "/api/jobs", account.live_key)
    assert again.status_code == 200, again.text
    assert again.headers["x-ratelimit-remaining"] != "0"


def test_third_concurrent_job_on_free_is_refused(held: Running) -> None:
    account = held.account(plan="free")
    first = held.submit(account.live_key)
    second = held.submit(account.test_key)  # both key modes count
    assert first.status_code == second.status_code == 202
    third = held.submit(account.live_key)
    error = assert_error(third, 429, "CONCURRENCY_LIMIT_EXCEEDED")
    assert error["message"] == "2 jobs already queued or rendering"
    assert 1 <= int(third.headers["retry-after"]) <= 300
    assert "x-ratelimit-limit" in third.headers
    # Its reservation was never made: balance only lost the first job's estimate.
    assert held.store.balance(account.account_id) == 999
    held.request("DELETE", f"/api/jobs/{first.json()['job_id']}", account.live_key)
    assert held.submit(account.live_key).status_code == 202


def test_internal_error_has_no_traceback(held: Running) -> None:
    key = held.account().live_key
    held.config.faults.add("account")
    try:
        response = held.request("GET", "/api/account", key)
    finally:
        held.config.faults.discard("account")
    error = assert_error(response, 500, "INTERNAL_ERROR", message="Unexpected server error")
    assert error["request_id"] == response.headers["x-request-id"]
    assert "fault" not in response.text and "RuntimeError" not in response.text
    assert "x-ratelimit-limit" in response.headers
    assert held.request("GET", "/api/account", key).status_code == 200


def test_invalid_state_when_cancelling_a_finished_job(held: Running) -> None:
    key = held.account().live_key
    job_id = held.submit(key).json()["job_id"]
    cancelled = held.request("DELETE", f"/api/jobs/{job_id}", key)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["credits_used"] == 0
    assert_error(
        held.request("DELETE", f"/api/jobs/{job_id}", key),
        409,
        "INVALID_STATE",
        message="Job is already cancelled",
    )


def test_idempotent_replay_and_conflict(held: Running) -> None:
    account = held.account()
    key = account.live_key
    headers = {"Idempotency-Key": "submit-1"}
    first = held.submit(key, tiny_script(3), headers=headers)
    assert first.status_code == 202
    assert first.headers["idempotency-key"] == "submit-1"
    assert "idempotent-replayed" not in first.headers
    again = held.submit(key, tiny_script(3), headers=headers)
    assert again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["job_id"] == first.json()["job_id"]
    assert again.json()["estimated_credits"] == 3
    assert held.store.balance(account.account_id) == 997  # charged once
    conflict = held.submit(key, tiny_script(4), headers=headers)
    assert_error(conflict, 409, "IDEMPOTENCY_CONFLICT")
    assert conflict.headers["idempotency-key"] == "submit-1"
    # The same key on the other render path is another scope.
    jobs = held.request("GET", "/api/jobs", key).json()["jobs"]
    assert len(jobs) == 1


def test_parallel_requests_with_one_idempotency_key_make_one_job(held: Running) -> None:
    account = held.account()
    results: list[int] = []
    ids: set[str] = set()
    lock = threading.Lock()

    def send() -> None:
        response = held.submit(account.live_key, headers={"Idempotency-Key": "same"})
        with lock:
            results.append(response.status_code)
            ids.add(response.json()["job_id"])

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [202] * 8
    assert len(ids) == 1
    assert held.store.balance(account.account_id) == 999


def test_unknown_endpoint_and_method_answer_in_the_envelope(held: Running) -> None:
    key = held.account().live_key
    assert_error(held.request("GET", "/api/nothing", key), 404, "NOT_FOUND")
    assert_error(held.request("PATCH", "/api/account", key), 405, "INVALID_REQUEST")
