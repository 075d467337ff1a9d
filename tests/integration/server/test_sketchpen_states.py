"""The INVALID_STATE matrix (spec §6), cell by cell, and the 3-videos-in-progress rule (§8)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.integration.server.conftest import Running
from tests.integration.server.sketchpen_support import Sketch, assert_envelope, open_sketch

PROCESSING = ("visualising", "narrating", "curating", "rendering")


@pytest.fixture
def sp(start_service: Callable[..., Running]) -> Sketch:
    return open_sketch(start_service)


def _in_state(sp: Sketch, state: str) -> dict[str, Any]:
    """A video of the account held in `state` (holds and faults stay on until `_release`)."""
    config = sp.config
    if state in ("pending", "scripting"):
        config.sketchpen_hold.add(state)
        created = sp.create()
        return sp.wait(created["id"], state)
    if state == "failed_without_scenes":
        config.sketchpen_fail_stages.add("scripting")
        video = sp.wait(sp.create()["id"], "failed")
        config.sketchpen_fail_stages.clear()
        assert video["scenes"] == [] and video["error"]["stage"] == "scripting"
        return video
    draft = sp.draft()
    if state == "refining":
        return draft
    if state in PROCESSING:
        config.sketchpen_hold.add(state)
    if state == "failed_with_scenes":
        config.sketchpen_fail_stages.add("curating")
    assert sp.approve(draft["id"]).status_code == 200
    wanted = {"completed": "completed", "failed_with_scenes": "failed"}.get(state, state)
    video = sp.wait(draft["id"], wanted)
    config.sketchpen_fail_stages.clear()
    return video


def _release(sp: Sketch) -> None:
    sp.config.sketchpen_hold.clear()
    sp.config.sketchpen_fail_stages.clear()


def _actions(sp: Sketch, video: dict[str, Any], asset_id: str) -> dict[str, httpx.Response]:
    vid = video["id"]
    scene = video["scenes"][0]["id"] if video["scenes"] else str(uuid.uuid4())
    item = {"speech": "New words.", "visual_description": "A new card"}
    return {
        "patch": sp.call("PATCH", f"/videos/{vid}/scenes/{scene}", json={"speech": "Edited."}),
        "put": sp.call("PUT", f"/videos/{vid}/scenes", json=[item]),
        "link": sp.call("POST", f"/assets/videos/{vid}/refs", json={"asset_id": asset_id}),
    }


#: state → (approve, regenerate, PATCH/PUT, link, DELETE), the expected statuses.
MATRIX = {
    "pending": (409, 409, 409, 201, 204),
    "scripting": (409, 409, 409, 201, 204),
    "refining": (200, 200, 200, 201, 204),
    "visualising": (409, 409, 409, 409, 409),
    "narrating": (409, 409, 409, 409, 409),
    "curating": (409, 409, 409, 409, 409),
    "rendering": (409, 409, 409, 409, 409),
    "completed": (409, 409, 409, 409, 204),
    "failed_with_scenes": (200, 409, 409, 409, 204),
    "failed_without_scenes": (409, 200, 409, 409, 204),
}
HINTS = {
    "pending": "wait",
    "scripting": "wait",
    "visualising": "wait",
    "narrating": "wait",
    "curating": "wait",
    "rendering": "wait",
    "completed": "create a new video",
}


@pytest.mark.parametrize("state", list(MATRIX))
def test_invalid_state_matrix(sp: Sketch, state: str) -> None:
    approve, regenerate, edit, link, delete = MATRIX[state]
    asset = sp.call("POST", "/assets", json={"name": "Sun", "type": "object"}).json()
    video = _in_state(sp, state)
    status = video["status"]
    vid = video["id"]

    # Cells that must not change anything come first; each 409 names the status.
    answers = _actions(sp, video, asset["id"])
    for name in ("patch", "put"):
        if edit == 409:
            error = assert_envelope(answers[name], 409, "INVALID_STATE")
            assert status in error["message"]
            if state in HINTS:
                assert HINTS[state] in error["message"]
        else:
            assert answers[name].status_code == 200, answers[name].text
            assert answers[name].json()["status"] == "refining"
    if link == 409:
        assert_envelope(answers["link"], 409, "INVALID_STATE")
    else:
        assert answers["link"].status_code == 201, answers["link"].text
    if approve == 409:
        error = assert_envelope(sp.approve(vid), 409, "INVALID_STATE")
        if state == "failed_without_scenes":
            assert "regenerate" in error["message"]
    if regenerate == 409:
        error = assert_envelope(
            sp.call("POST", f"/videos/{vid}/regenerate", json={"feedback": ""}),
            409,
            "INVALID_STATE",
        )
        if state == "failed_with_scenes":
            assert "approve" in error["message"]
    if delete == 409:
        assert_envelope(sp.call("DELETE", f"/videos/{vid}"), 409, "INVALID_STATE")
    assert sp.video(vid)["status"] == status  # nothing above changed the video

    # Then the allowed transitions.
    if approve == 200:
        moved = sp.approve(vid)
        assert moved.status_code == 200 and moved.json()["status"] == "visualising"
        assert sp.wait(vid, "completed", "failed")["status"] == "completed"
    elif regenerate == 200:
        moved = sp.call("POST", f"/videos/{vid}/regenerate", json={"feedback": ""})
        assert moved.status_code == 200 and moved.json()["status"] == "scripting"
        assert moved.json()["scenes"] == []
        assert sp.wait(vid, "refining")["scenes"]
    if delete == 204:
        assert sp.call("DELETE", f"/videos/{vid}").status_code == 204
        assert_envelope(sp.call("GET", f"/videos/{vid}"), 404, "NOT_FOUND")
    _release(sp)
    if delete == 409:
        assert sp.wait(vid, "completed", "failed")["status"] == "completed"


def test_the_fourth_video_in_progress_is_refused(sp: Sketch) -> None:
    drafts = [sp.draft(), sp.draft("test")]
    sp.config.sketchpen_hold.add("scripting")
    third = sp.create()
    for key in ("live", "test"):
        refused = sp.call("POST", "/videos", key, json={"prompt": "One more."})
        error = assert_envelope(refused, 429, "MAX_CONCURRENT_VIDEOS")
        assert "3" in error["message"]
    assert sp.call("GET", "/account").json()["concurrency"] == {"limit": 3, "active": 3}
    # Approving a draft keeps its slot, so it is allowed at the cap.
    assert sp.approve(drafts[0]["id"]).status_code == 200
    assert sp.wait(drafts[0]["id"], "completed")["status"] == "completed"
    # A completed video freed its slot.
    fourth = sp.create()
    assert_envelope(sp.call("POST", "/videos", json={"prompt": "x"}), 429, "MAX_CONCURRENT_VIDEOS")
    assert sp.call("DELETE", f"/videos/{fourth['id']}").status_code == 204
    assert sp.create()["status"] in ("pending", "scripting")
    assert third["id"]


def test_failed_videos_reenter_progress_only_below_the_cap(sp: Sketch) -> None:
    with_scenes = _in_state(sp, "failed_with_scenes")
    without = _in_state(sp, "failed_without_scenes")
    for _ in range(3):
        sp.draft()
    assert_envelope(sp.approve(with_scenes["id"]), 429, "MAX_CONCURRENT_VIDEOS")
    regenerate = sp.call("POST", f"/videos/{without['id']}/regenerate", json={"feedback": ""})
    assert_envelope(regenerate, 429, "MAX_CONCURRENT_VIDEOS")
    assert sp.video(with_scenes["id"])["status"] == "failed"
    assert sp.video(without["id"])["status"] == "failed"
    # Nothing was charged by the refused retry.
    assert sp.ledger(with_scenes["id"]) == [("reserve", -3)]
