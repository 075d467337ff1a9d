"""Every error answer of the Sketchpen side (seed 004, spec §10): the envelope with request_id,
the three 401 codes, 403 scopes, the plain-string 429 with Retry-After, 422 details, 400, 404,
405 and the two 500s."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from app.server.sketchpen_routes import window_text
from tests.integration.server.conftest import Running
from tests.integration.server.sketchpen_support import PROMPT, Sketch, assert_envelope, open_sketch


@pytest.fixture
def sp(start_service: Callable[..., Running]) -> Sketch:
    return open_sketch(start_service)


def _details(response: Any) -> list[dict[str, Any]]:
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    details: list[dict[str, Any]] = error["details"]
    for item in details:
        assert set(item) == {"loc", "msg", "type"} and item["msg"]
    return details


def test_the_three_401s_and_403_scopes(sp: Sketch) -> None:
    assert_envelope(sp.call("GET", "/videos", None), 401, "UNAUTHORIZED")
    for malformed in ("ve_live_" + "0" * 32, "Bearer abc", "sk_live_"):
        assert_envelope(sp.call("GET", "/videos", malformed), 401, "AUTH_ERROR")
    assert_envelope(sp.call("GET", "/videos", "sk_live_" + "f" * 32), 401, "INVALID_TOKEN")
    revoked = sp.store.mint_key(sp.account_id, "live")
    assert sp.call("GET", "/account", revoked).status_code == 200
    assert sp.store.revoke_key(revoked)
    assert_envelope(sp.call("GET", "/account", revoked), 401, "INVALID_TOKEN", message="revoked")

    reader = sp.store.mint_key(sp.account_id, "live", ["videos:read", "assets:read"])
    assert sp.call("GET", "/videos", reader).status_code == 200
    assert sp.call("GET", "/account", reader).status_code == 200  # any valid key
    for method, path, body in (
        ("POST", "/videos", {"prompt": PROMPT}),
        ("POST", "/assets", {"name": "Sun", "type": "object"}),
        ("GET", "/callbacks", None),
        ("POST", "/callbacks", {"url": "https://example.com/h", "event": "video.failed"}),
    ):
        error = assert_envelope(sp.call(method, path, reader, json=body), 403, "FORBIDDEN")
        assert "scope" in error["message"]
    wildcard = sp.store.mint_key(sp.account_id, "test", ["videos:*"])
    assert sp.call("POST", "/videos", wildcard, json={"prompt": PROMPT}).status_code == 201
    assert sp.call("GET", "/assets", wildcard).status_code == 403


def test_rate_limits_answer_the_plain_string_body_with_retry_after(
    start_service: Callable[..., Running],
) -> None:
    sp = open_sketch(
        start_service, sketchpen_read_limit=3, sketchpen_write_limit=2, rate_window_seconds=2.0
    )
    for _ in range(3):
        assert sp.call("GET", "/videos").status_code == 200
    refused = sp.call("GET", "/videos")
    assert refused.status_code == 429
    assert refused.json() == {"error": "Rate limit exceeded: 3 per 2 seconds"}
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 2
    assert "x-ratelimit-limit" not in refused.headers
    # Reads and writes have their own budgets, and so does each key.
    assert sp.call("POST", "/assets", json={"name": "Sun", "type": "object"}).status_code == 201
    assert sp.call("GET", "/videos", "test").status_code == 200
    assert sp.call("DELETE", f"/callbacks/{'0' * 8}-0000-4000-8000-{'0' * 12}").status_code == 404
    writes = sp.call("POST", "/assets", json={"name": "Moon", "type": "object"})
    assert writes.json() == {"error": "Rate limit exceeded: 2 per 2 seconds"}
    # Waiting Retry-After is enough.
    time.sleep(wait + 0.05)
    assert sp.call("GET", "/videos").status_code == 200


def test_rate_limit_text_names_the_window() -> None:
    assert window_text(60) == "1 minute"
    assert window_text(86400) == "1 day"
    assert window_text(7200) == "2 hours"
    assert window_text(1) == "1 second"
    assert window_text(1.5) == "1.5 seconds"


def test_create_validation_details_name_each_field(sp: Sketch) -> None:
    assert _details(sp.call("POST", "/videos", json={})) == [
        {"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}
    ]
    long = _details(sp.call("POST", "/videos", json={"prompt": "x" * 2001}))
    assert long == [
        {
            "loc": ["body", "prompt"],
            "msg": "String should have at most 2000 characters",
            "type": "string_too_long",
        }
    ]
    many = _details(
        sp.call(
            "POST",
            "/videos",
            json={"prompt": "ok", "fps": 61, "aspect_ratio": "4:3", "bg_mode": "neon", "x": 1},
        )
    )
    assert [d["loc"] for d in many] == [
        ["body", "fps"],
        ["body", "aspect_ratio"],
        ["body", "bg_mode"],
    ]
    assert _details(sp.call("POST", "/videos", json={"prompt": "ok", "fps": "24"}))[0]["loc"] == [
        "body",
        "fps",
    ]
    assert _details(sp.call("POST", "/videos", json={"prompt": "   "}))[0]["loc"] == [
        "body",
        "prompt",
    ]
    unknown = _details(
        sp.call(
            "POST",
            "/videos",
            json={
                "prompt": "ok",
                "theme": "neon",
                "voice_id": "robot",
                "asset_ids": ["not-a-uuid"],
                "speaker_ids": ["9b2f1c3e-0000-4000-8000-000000000000"],
            },
        )
    )
    assert [d["loc"] for d in unknown] == [
        ["body", "theme"],
        ["body", "voice_id"],
        ["body", "asset_ids", 0],
        ["body", "speaker_ids", 0],
    ]
    assert _details(sp.call("POST", "/videos", json=["prompt"]))[0]["loc"] == ["body"]
    assert sp.call("GET", "/videos").json() == []  # nothing was created


def test_scene_and_query_validation(sp: Sketch) -> None:
    draft = sp.draft()
    vid, scenes = draft["id"], draft["scenes"]
    item = {"speech": "Words.", "visual_description": "A card"}
    too_many = _details(sp.call("PUT", f"/videos/{vid}/scenes", json=[item] * 41))
    assert too_many[0]["loc"] == ["body"] and too_many[0]["type"] == "too_long"
    assert _details(sp.call("PUT", f"/videos/{vid}/scenes", json=[]))[0]["type"] == "too_short"
    body = [dict(item, id=s["id"]) for s in scenes] + [dict(item, id=scenes[0]["id"])]
    assert _details(sp.call("PUT", f"/videos/{vid}/scenes", json=body)) == [
        {
            "loc": ["body", 3, "id"],
            "msg": f"Duplicate scene id '{scenes[0]['id']}'",
            "type": "value_error",
        }
    ]
    body[3]["id"] = "11111111-1111-4111-8111-111111111111"
    assert _details(sp.call("PUT", f"/videos/{vid}/scenes", json=body))[0]["loc"] == [
        "body",
        3,
        "id",
    ]
    body[3] = {"speech": "", "visual_description": "x" * 2001}
    assert [d["loc"] for d in _details(sp.call("PUT", f"/videos/{vid}/scenes", json=body))] == [
        ["body", 3, "speech"],
        ["body", 3, "visual_description"],
    ]
    patch = f"/videos/{vid}/scenes/{scenes[0]['id']}"
    assert _details(sp.call("PATCH", patch, json={}))[0]["loc"] == ["body"]
    assert _details(sp.call("PATCH", patch, json={"speech": ""}))[0]["loc"] == ["body", "speech"]
    assert_envelope(
        sp.call("PATCH", f"/videos/{vid}/scenes/{'1' * 8}", json={"speech": "Hi."}),
        404,
        "NOT_FOUND",
        message="Scene",
    )
    regen = sp.call("POST", f"/videos/{vid}/regenerate", json={"feedback": "x" * 2001})
    assert _details(regen)[0]["loc"] == ["body", "feedback"]
    assert sp.video(vid)["scenes"] == scenes  # nothing changed

    for params, loc in (
        ({"limit": "0"}, ["query", "limit"]),
        ({"limit": "101"}, ["query", "limit"]),
        ({"limit": "ten"}, ["query", "limit"]),
        ({"offset": "-1"}, ["query", "offset"]),
        ({"offset": str(2**70)}, ["query", "offset"]),
        ({"status": "done"}, ["query", "status"]),
    ):
        assert _details(sp.call("GET", "/videos", params=params))[0]["loc"] == loc
    assert _details(sp.call("GET", "/assets", params={"type": "place"}))[0]["loc"] == [
        "query",
        "type",
    ]


def test_asset_and_callback_validation(sp: Sketch) -> None:
    assert _details(sp.call("POST", "/assets", json={"name": "Leafy", "type": "character"})) == [
        {"loc": ["body", "voice_id"], "msg": "Field required for a character", "type": "missing"}
    ]
    assert _details(sp.call("POST", "/assets", json={"name": "Leafy", "type": "place"}))[0][
        "loc"
    ] == ["body", "type"]
    asset = sp.call("POST", "/assets", json={"name": "Sun", "type": "object"}).json()
    upload = f"/assets/{asset['id']}/image"
    not_image = sp.call("POST", upload, files={"file": ("a.txt", b"hello", "text/plain")})
    assert _details(not_image)[0]["loc"] == ["body", "file"]
    big = b"\x89PNG\r\n\x1a\n" + bytes(10 * 1024 * 1024)
    assert "10 MiB" in _details(sp.call("POST", upload, files={"file": ("a.png", big)}))[0]["msg"]
    no_part = sp.call("POST", upload, files={"other": ("a.png", b"\x89PNG\r\n\x1a\n")})
    assert _details(no_part)[0]["loc"] == ["body", "file"]
    assert_envelope(sp.call("POST", upload, json={"file": "x"}), 400, "BAD_REQUEST")
    assert_envelope(
        sp.call("POST", f"/assets/{'2' * 8}-2222-4222-8222-{'2' * 12}/image", files={"file": b"x"}),
        404,
        "NOT_FOUND",
    )
    for url in ("http://example.com/hook", "ftp://127.0.0.1/x", "not a url"):
        made = sp.call("POST", "/callbacks", json={"url": url, "event": "video.completed"})
        assert _details(made)[0]["loc"] == ["body", "url"]
    bad_event = sp.call("POST", "/callbacks", json={"url": "https://a.example/h", "event": "x"})
    assert _details(bad_event)[0]["loc"] == ["body", "event"]
    video = sp.create()
    refs = f"/assets/videos/{video['id']}/refs"
    assert _details(sp.call("POST", refs, json={"asset_id": "nope"}))[0]["loc"] == [
        "body",
        "asset_id",
    ]


def test_bad_requests_unknown_ids_paths_and_methods(sp: Sketch) -> None:
    for content, ctype in ((b"{not json", "application/json"), (b'{"prompt": "x"}', "text/plain")):
        response = sp.call("POST", "/videos", content=content, headers={"content-type": ctype})
        assert_envelope(response, 400, "BAD_REQUEST")
    missing = "3f1c9a7e-0000-4000-8000-000000000000"
    for method, path in (
        ("GET", f"/videos/{missing}"),
        ("GET", "/videos/not-a-uuid"),
        ("POST", f"/videos/{missing}/approve"),
        ("DELETE", f"/videos/{missing}"),
        ("DELETE", f"/callbacks/{missing}"),
        ("GET", "/nothing/here"),
        ("GET", ""),
    ):
        assert_envelope(sp.call(method, path), 404, "NOT_FOUND")
    wrong = sp.call("DELETE", "/themes")
    assert_envelope(wrong, 405, "BAD_REQUEST")
    assert wrong.headers["allow"] == "GET"
    ok = sp.call("GET", "/account")
    assert ok.status_code == 200 and len(ok.headers["x-request-id"]) == 36


def test_internal_and_database_errors_carry_a_request_id(sp: Sketch) -> None:
    draft = sp.draft()
    sp.config.faults.add("video_get")
    error = assert_envelope(sp.call("GET", f"/videos/{draft['id']}"), 500, "INTERNAL_ERROR")
    assert "fault" not in error["message"]  # no internals leak
    sp.config.faults.clear()
    sp.config.faults.add("video_approve:database")
    assert_envelope(sp.approve(draft["id"]), 500, "DATABASE_ERROR")
    sp.config.faults.clear()
    assert sp.video(draft["id"])["status"] == "refining" and sp.ledger(draft["id"]) == []
    # The keyless media route answers in the same envelope.
    sp.config.faults.add("files:database")
    assert_envelope(sp.call("GET", f"/files/{'a' * 32}/video.mp4", None), 500, "DATABASE_ERROR")
    sp.config.faults.clear()


def test_absent_routes_answer_like_a_hosted_server_without_the_endpoint(sp: Sketch) -> None:
    """The `absent_routes` switch (spec §0): FastAPI's bare 404/405 `{"detail": …}`, before
    the key check, while the rest of the path keeps working."""
    draft = sp.draft()
    vid, scene = draft["id"], draft["scenes"][0]["id"]
    sp.config.absent_routes.update({"scene_patch", "scenes_put", "video_delete"})
    sp.config.absent_routes.add("sketchpen_account")
    for method, path, key in (
        ("PATCH", f"/videos/{vid}/scenes/{scene}", "live"),
        ("PUT", f"/videos/{vid}/scenes", "live"),
        ("GET", "/account", "live"),
        ("GET", "/account", None),  # before the key check
    ):
        answer = sp.call(method, path, key, json={"speech": "Hi."})
        assert (answer.status_code, answer.json()) == (404, {"detail": "Not Found"}), path
    gone = sp.call("DELETE", f"/videos/{vid}")
    assert (gone.status_code, gone.json()) == (405, {"detail": "Method Not Allowed"})
    assert gone.headers["allow"] == "GET"
    # The path's other method, and the video, are untouched; an unknown method on the path no
    # longer lists the absent one.
    assert sp.video(vid)["status"] == "refining"
    assert sp.call("PUT", f"/videos/{vid}").headers["allow"] == "GET"
    sp.config.absent_routes.clear()
    assert sp.call("PUT", f"/videos/{vid}").headers["allow"] == "DELETE, GET"
    assert sp.call("DELETE", f"/videos/{vid}").status_code == 204


def test_another_accounts_ids_are_not_found_never_forbidden(sp: Sketch) -> None:
    """Spec §2: foreign IDs answer 404 NOT_FOUND on every route, and change nothing."""
    draft = sp.draft()
    vid, scene = draft["id"], draft["scenes"][0]["id"]
    asset = sp.call("POST", "/assets", json={"name": "Sun", "type": "object"}).json()
    hook = sp.call(
        "POST", "/callbacks", json={"url": "https://a.example/h", "event": "video.failed"}
    ).json()
    other = sp.store.create_keys(sp.running.account().account_id).live_key
    mine = sp.call("POST", "/assets", other, json={"name": "Moon", "type": "object"}).json()
    for method, path, kw in (
        ("GET", f"/videos/{vid}", {}),
        ("POST", f"/videos/{vid}/approve", {}),
        ("POST", f"/videos/{vid}/regenerate", {"json": {"feedback": "x"}}),
        ("PATCH", f"/videos/{vid}/scenes/{scene}", {"json": {"speech": "Hi."}}),
        ("PUT", f"/videos/{vid}/scenes", {"json": [{"speech": "a", "visual_description": "b"}]}),
        ("DELETE", f"/videos/{vid}", {}),
        ("POST", f"/assets/videos/{vid}/refs", {"json": {"asset_id": mine["id"]}}),
        ("POST", f"/assets/{asset['id']}/image", {"files": {"file": ("a.png", b"\x89PNG")}}),
        ("DELETE", f"/callbacks/{hook['id']}", {}),
    ):
        assert_envelope(sp.call(method, path, other, **kw), 404, "NOT_FOUND")
    assert sp.video(vid) == draft and sp.ledger(vid) == []
    assert [c["id"] for c in sp.call("GET", "/callbacks").json()] == [hook["id"]]
    assert [a["id"] for a in sp.call("GET", "/assets", other).json()] == [mine["id"]]
