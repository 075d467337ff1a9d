"""Credits under every injected failure (spec §7): charged at approve, one back per scene whose
image failed, narration free (so its refund is 0), retries charge only scenes without images;
and restart reconciliation, clean stop or crash, with the ledger always matching the videos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.server.config import ServiceConfig
from app.server.sketchpen_store import SketchStore
from app.server.store import Store
from tests.integration.server.conftest import Running
from tests.integration.server.sketchpen_support import (
    PROMPT,
    Sketch,
    assert_envelope,
    open_sketch,
)


@pytest.fixture
def sp(start_service: Callable[..., Running]) -> Sketch:
    return open_sketch(start_service)


def _reconciled(sp: Sketch) -> None:
    """Every video's credits_charged equals what its ledger entries took from the account."""
    for video in sp.call("GET", "/videos", params={"limit": 100}).json():
        assert video["credits_charged"] == -sp.store.video_ledger_sum(video["id"]), video["id"]


def test_a_failed_scene_image_refunds_one_credit_and_the_retry_charges_only_it(
    sp: Sketch,
) -> None:
    draft = sp.draft()
    sp.config.sketchpen_fail_images.add(1)
    sp.approve(draft["id"])
    failed = sp.wait(draft["id"], "failed", "completed")
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "stage": "visualising",
        "message": "Image generation failed for scene 2",
    }
    assert [s["image_url"] is not None for s in failed["scenes"]] == [True, False, True]
    assert failed["credits_charged"] == 2 and sp.balance() == 98
    assert sp.ledger(draft["id"]) == [("reserve", -3), ("refund", 1)]

    sp.config.sketchpen_fail_images.clear()
    retried = sp.approve(draft["id"])
    assert retried.status_code == 200 and retried.json()["status"] == "visualising"
    assert retried.json()["error"] is None and retried.json()["credits_charged"] == 3
    done = sp.wait(draft["id"], "completed", "failed")
    assert done["status"] == "completed", done["error"]
    # The two cards drawn before the failure were kept, not redrawn.
    assert done["scenes"][0]["image_url"] == failed["scenes"][0]["image_url"]
    assert sp.ledger(draft["id"]) == [("reserve", -3), ("refund", 1), ("reserve", -1)]
    assert sp.balance() == 97
    _reconciled(sp)


def test_a_failed_visualising_stage_refunds_every_scene(sp: Sketch) -> None:
    draft = sp.draft()
    sp.config.sketchpen_fail_stages.add("visualising")
    sp.approve(draft["id"])
    failed = sp.wait(draft["id"], "failed")
    assert failed["error"]["stage"] == "visualising"
    assert failed["credits_charged"] == 0 and sp.balance() == 100
    assert sp.ledger(draft["id"]) == [("reserve", -3), ("refund", 3)]
    sp.config.sketchpen_fail_stages.clear()
    sp.approve(draft["id"])
    assert sp.wait(draft["id"], "completed")["credits_charged"] == 3
    assert sp.balance() == 97
    _reconciled(sp)


@pytest.mark.parametrize("stage", ["narrating", "curating", "rendering"])
def test_later_failures_keep_the_images_and_their_credits(sp: Sketch, stage: str) -> None:
    draft = sp.draft()
    sp.config.sketchpen_fail_stages.add(stage)
    sp.approve(draft["id"])
    failed = sp.wait(draft["id"], "failed")
    assert failed["error"]["stage"] == stage and failed["video_url"] is None
    assert failed["processing_time_sec"] is None
    # Audio costs 0 locally, so even a narration failure refunds nothing.
    assert failed["credits_charged"] == 3 and sp.ledger(draft["id"]) == [("reserve", -3)]
    sp.config.sketchpen_fail_stages.clear()
    assert sp.approve(draft["id"]).json()["credits_charged"] == 3  # retry: nothing to draw
    done = sp.wait(draft["id"], "completed", "failed")
    assert done["status"] == "completed", done["error"]
    assert sp.ledger(draft["id"]) == [("reserve", -3)] and sp.balance() == 97
    _reconciled(sp)


def test_a_failed_script_costs_nothing_and_is_regenerated(sp: Sketch) -> None:
    sp.config.sketchpen_fail_stages.add("scripting")
    failed = sp.wait(sp.create()["id"], "failed")
    assert failed["scenes"] == [] and failed["error"]["stage"] == "scripting"
    assert failed["credits_charged"] == 0
    sp.config.sketchpen_fail_stages.clear()
    regenerated = sp.call("POST", f"/videos/{failed['id']}/regenerate", json={"feedback": ""})
    assert regenerated.status_code == 200 and regenerated.json()["error"] is None
    draft = sp.wait(failed["id"], "refining")
    assert len(draft["scenes"]) == 3 and sp.balance() == 100
    assert sp.ledger(failed["id"]) == []


def test_test_keys_never_touch_the_balance_even_when_failing(sp: Sketch) -> None:
    draft = sp.draft("test")
    sp.config.sketchpen_fail_images.add(0)
    sp.approve(draft["id"], "test")
    failed = sp.wait(draft["id"], "failed", key="test")
    assert failed["credits_charged"] == 0 and sp.ledger(draft["id"]) == []
    assert sp.balance() == 100


def test_the_key_that_approves_decides_the_charge_and_refunds_return_only_what_was_paid(
    sp: Sketch,
) -> None:
    """Spec §7: sk_test_ keys never check or change the balance, whichever key created the
    video; a live key pays for what it approves; a failure gives back only credits paid."""
    live_made = sp.draft()
    sp.config.sketchpen_fail_images.add(0)
    assert sp.approve(live_made["id"], "test").status_code == 200  # a test key: free
    failed = sp.wait(live_made["id"], "failed")
    assert failed["credits_charged"] == 0 and sp.ledger(live_made["id"]) == []
    assert sp.balance() == 100
    # A live retry pays for the scene still without an image; failing again refunds it.
    assert sp.approve(live_made["id"]).json()["credits_charged"] == 1
    failed = sp.wait(live_made["id"], "failed")
    assert sp.ledger(live_made["id"]) == [("reserve", -1), ("refund", 1)]
    assert failed["credits_charged"] == 0 and sp.balance() == 100
    # Live-paid scenes, then a test-key retry that fails: only the paid one comes back.
    sp.config.sketchpen_fail_images.clear()
    test_made = sp.draft("test")
    sp.config.sketchpen_fail_images.update({1, 2})
    assert sp.approve(test_made["id"]).json()["credits_charged"] == 3  # the live key pays
    assert sp.wait(test_made["id"], "failed")["credits_charged"] == 1  # scenes 2 and 3 back
    sp.config.sketchpen_fail_images.discard(1)
    assert sp.approve(test_made["id"], "test").json()["credits_charged"] == 1  # free retry
    again = sp.wait(test_made["id"], "failed")
    assert again["credits_charged"] == 1 and sp.balance() == 99  # nothing unpaid refunded
    assert sp.ledger(test_made["id"]) == [("reserve", -3), ("refund", 2)]
    sp.config.sketchpen_fail_images.clear()
    _reconciled(sp)


def test_insufficient_credits_on_create_and_approve(start_service: Callable[..., Running]) -> None:
    poor = open_sketch(start_service, credits=2)
    draft = poor.draft()
    refused = poor.approve(draft["id"])
    assert_envelope(
        refused,
        402,
        "INSUFFICIENT_CREDITS",
        message="Insufficient credits. Required: 3, Available: 2",
    )
    assert poor.video(draft["id"])["status"] == "refining" and poor.ledger(draft["id"]) == []
    # Fewer scenes, smaller charge.
    scenes = draft["scenes"][:2]
    poor.call("PUT", f"/videos/{draft['id']}/scenes", json=scenes)
    assert poor.approve(draft["id"]).status_code == 200
    assert poor.wait(draft["id"], "completed")["credits_charged"] == 2
    assert poor.balance() == 0
    assert_envelope(
        poor.call("POST", "/videos", json={"prompt": PROMPT}),
        402,
        "INSUFFICIENT_CREDITS",
        message="Insufficient credits. Required: 1, Available: 0",
    )
    assert poor.create("test")["status"] in ("pending", "scripting")  # test keys: no check


def _restart(start: Callable[..., Running], sp: Sketch) -> Sketch:
    folder = sp.config.data_dir
    sp.running.thread.stop()
    running = start(data_dir=folder, sketchpen_stage_seconds=0.05, sketchpen_short_side=180)
    return Sketch(running, sp.account_id, sp.live, sp.test)


def test_a_clean_stop_fails_videos_mid_stage_and_refunds_undrawn_scenes(
    start_service: Callable[..., Running],
) -> None:
    sp = open_sketch(start_service)
    narrating, drawing = sp.draft(), sp.draft()
    sp.config.sketchpen_hold.add("narrating")
    sp.approve(narrating["id"])
    sp.wait(narrating["id"], "narrating")  # every card drawn
    sp.config.sketchpen_hold.update({"visualising", "scripting"})
    sp.approve(drawing["id"])  # held in visualising before its first card
    scripting = sp.wait(sp.create()["id"], "scripting")
    assert sp.balance() == 94

    after = _restart(start_service, sp)
    late = after.video(narrating["id"])
    assert late["status"] == "failed" and late["error"]["stage"] == "narrating"
    assert late["error"]["message"].startswith("The service stopped")
    assert late["credits_charged"] == 3  # every card was drawn: nothing to give back
    first = after.video(drawing["id"])
    assert first["status"] == "failed" and first["error"]["stage"] == "visualising"
    assert first["credits_charged"] == 0
    assert after.ledger(drawing["id"]) == [("reserve", -3), ("refund", 3)]
    no_script = after.video(scripting["id"])
    assert no_script["status"] == "failed" and no_script["scenes"] == []
    assert no_script["error"]["stage"] == "scripting"
    assert after.call("GET", "/account").json()["concurrency"]["active"] == 0
    assert after.balance() == 97
    _reconciled(after)
    # Each is retried the documented way and completes.
    assert after.approve(narrating["id"]).json()["credits_charged"] == 3
    assert after.wait(narrating["id"], "completed", "failed")["status"] == "completed"
    assert after.approve(drawing["id"]).json()["credits_charged"] == 3
    assert after.wait(drawing["id"], "completed", "failed")["status"] == "completed"
    assert after.call("POST", f"/videos/{scripting['id']}/regenerate").status_code == 200
    assert after.wait(scripting["id"], "refining")["scenes"]
    assert after.balance() == 94
    _reconciled(after)


def test_a_crash_mid_visualising_is_reconciled_on_the_next_start(
    tmp_path: Path, start_service: Callable[..., Running]
) -> None:
    """The state a killed process leaves: charged, one card drawn, status visualising."""
    config = ServiceConfig(data_dir=tmp_path / "crashed")
    store = Store(config.db_path)
    account = store.create_account("pro", 50)
    sketch = SketchStore(config.db_path)
    keys = sketch.create_keys(account.account_id)
    caller = sketch.authenticate(keys.live_key)
    video = sketch.create_video(
        caller,
        prompt=PROMPT,
        theme="presentation",
        config={"fps": 10, "aspect_ratio": "16:9", "audio_mode": "single", "bg_mode": "white"},
        base_url="http://127.0.0.1:1",
    )
    scenes = [
        {"id": f"00000000-0000-4000-8000-00000000000{i}", "speech": "Hi.",
         "visual_description": "A card", "image": None, "assets": [], "captions": []}
        for i in range(4)
    ]  # fmt: skip
    scripting = sketch.advance(video, "scripting")
    assert scripting is not None
    assert sketch.advance(scripting, "refining", scenes=scenes) is not None
    approved = sketch.approve(caller, video.id)
    scenes = [dict(scene) for scene in approved.scenes]  # as a worker does: keep each scene
    scenes[0]["image"] = "scene-0.png"
    assert sketch.update_fields(approved, scenes=scenes) is not None
    sketch.close()
    store.close()

    running = start_service(data_dir=config.data_dir)
    after = Sketch(running, account.account_id, keys.live_key, keys.test_key)
    failed = after.video(video.id)
    assert failed["status"] == "failed" and failed["error"]["stage"] == "visualising"
    assert failed["credits_charged"] == 1
    assert after.ledger(video.id) == [("reserve", -4), ("refund", 3)]
    assert after.balance() == 49
    _reconciled(after)


def test_refining_drafts_survive_a_restart_and_keep_their_slot(
    start_service: Callable[..., Running],
) -> None:
    sp = open_sketch(start_service)
    draft = sp.draft()
    after = _restart(start_service, sp)
    assert after.video(draft["id"])["status"] == "refining"
    assert after.call("GET", "/account").json()["concurrency"]["active"] == 1
    assert after.approve(draft["id"]).status_code == 200
    assert after.wait(draft["id"], "completed")["credits_charged"] == 3
