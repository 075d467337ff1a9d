"""Sketchpen videos through their lifecycle against the real local service: prompt → draft →
edits → approve → a playable MP4, regenerate with feedback, delete, lists, media URLs."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from app.server import drafting
from tests.integration.server.conftest import Running
from tests.integration.server.sketchpen_support import Sketch, open_sketch


@pytest.fixture
def sp(start_service: Callable[..., Running]) -> Sketch:
    return open_sketch(start_service)


def _download(url: str, path: Path) -> Path:
    response = httpx.get(url, timeout=30)  # media URLs need no key
    assert response.status_code == 200, response.text
    path.write_bytes(response.content)
    return path


def test_prompt_to_playable_mp4(sp: Sketch, tmp_path: Path) -> None:
    created = sp.create(fps=12, theme="chalkboard", bg_mode="dynamic", voice_id="lumen")
    assert created["status"] in ("pending", "scripting") and created["scenes"] == []
    assert created["config"] == {
        "fps": 12,
        "aspect_ratio": "16:9",
        "audio_mode": "single",
        "bg_mode": "dynamic",
        "voice_id": "lumen",
        "asset_ids": [],
        "speaker_ids": [],
    }
    draft = sp.wait(created["id"], "refining")
    assert [s["speech"] for s in draft["scenes"]] == [
        "Plants make food from light.",
        "They drink water through roots.",
        "Oxygen is released.",
    ]
    assert all(s["visual_description"] and s["image_url"] is None for s in draft["scenes"])
    assert draft["credits_charged"] == 0 and sp.balance() == 100

    approved = sp.approve(draft["id"]).json()
    assert approved["status"] == "visualising" and approved["credits_charged"] == 3
    assert sp.balance() == 97 and sp.ledger(draft["id"]) == [("reserve", -3)]
    done = sp.wait(draft["id"], "completed", "failed")
    assert done["status"] == "completed", done["error"]
    assert done["error"] is None and done["processing_time_sec"] > 0
    assert done["credits_charged"] == 3 and sp.balance() == 97

    # Word captions, timed from the speech, relative to each scene.
    words = done["scenes"][1]["captions"]
    assert [w["word"] for w in words] == ["They", "drink", "water", "through", "roots."]
    assert all(0 <= w["start"] < w["end"] for w in words)
    assert all(a["end"] <= b["start"] for a, b in itertools.pairwise(words))

    video = _download(done["video_url"], tmp_path / "video.mp4")
    expected = sum(drafting.narrate(s["speech"]).duration for s in done["scenes"])
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (320, 180)
        assert stream.average_rate == 12
        assert container.duration is not None
        assert abs(container.duration / 1e6 - expected) < 0.2
        assert len(container.streams.audio) == 1
        assert container.streams.audio[0].rate == 48000
        frames = sum(1 for _ in container.decode(video=0))
        assert abs(frames - round(expected * 12)) <= 1
    card = _download(done["scenes"][0]["image_url"], tmp_path / "card.png")
    assert card.read_bytes().startswith(b"\x89PNG")
    assert _download(done["thumbnail_url"], tmp_path / "t.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert _download(done["audio_url"], tmp_path / "a.wav").read_bytes()[:4] == b"RIFF"


def test_test_key_videos_are_real_and_free_and_follow_aspect_and_audio_mode(
    sp: Sketch, tmp_path: Path
) -> None:
    draft = sp.draft("test", aspect_ratio="9:16", audio_mode="none", prompt="One short idea.")
    assert sp.approve(draft["id"], "test").status_code == 200
    done = sp.wait(draft["id"], "completed", "failed", key="test")
    assert done["status"] == "completed", done["error"]
    assert done["credits_charged"] == 0 and done["audio_url"] is None
    assert sp.balance() == 100 and sp.ledger(draft["id"]) == []
    video = _download(done["video_url"], tmp_path / "v.mp4")
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (180, 320)
        assert stream.average_rate == 10
        audio = list(container.streams.audio)
    if audio:  # the engine may still write a track: then it is silent
        with av.open(str(video)) as container:
            peak = max(abs(f.to_ndarray()).max() for f in container.decode(audio=0))
        assert peak < 1e-4
    account = sp.call("GET", "/account", "test").json()
    assert account == {
        "credits_balance": 100,
        "concurrency": {"limit": 3, "active": 0},
        "key_mode": "test",
    }


def test_regenerate_with_feedback_returns_to_scripting_with_new_scenes(sp: Sketch) -> None:
    sp.config.sketchpen_hold.add("scripting")
    created = sp.create()
    sp.config.sketchpen_hold.discard("scripting")
    first = sp.wait(created["id"], "refining")
    sp.config.sketchpen_hold.add("scripting")
    response = sp.call(
        "POST",
        f"/videos/{first['id']}/regenerate",
        json={"feedback": "Add an example about oak trees."},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "scripting" and response.json()["scenes"] == []
    assert sp.video(first["id"])["status"] == "scripting"
    sp.config.sketchpen_hold.discard("scripting")
    second = sp.wait(first["id"], "refining")
    speeches = [s["speech"] for s in second["scenes"]]
    assert "Add an example about oak trees." in speeches
    assert not {s["id"] for s in first["scenes"]} & {s["id"] for s in second["scenes"]}
    # An absent body counts as empty feedback: the prompt's own script again, new ids.
    assert sp.call("POST", f"/videos/{first['id']}/regenerate").status_code == 200
    third = sp.wait(first["id"], "refining")
    assert [s["speech"] for s in third["scenes"]] == [s["speech"] for s in first["scenes"]]
    assert sp.balance() == 100 and sp.ledger(first["id"]) == []


def test_scene_edits_in_refining_change_the_script_and_the_charge(sp: Sketch) -> None:
    draft = sp.draft()
    a, b, c = (s["id"] for s in draft["scenes"])
    patched = sp.call(
        "PATCH", f"/videos/{draft['id']}/scenes/{b}", json={"speech": "Roots drink water."}
    )
    assert patched.status_code == 200 and patched.json()["status"] == "refining"
    assert patched.json()["scenes"][1]["speech"] == "Roots drink water."
    assert (
        patched.json()["scenes"][1]["visual_description"]
        == draft["scenes"][1]["visual_description"]
    )
    # Reorder, drop a, add two new scenes.
    body = [
        {"id": c, "speech": "Oxygen comes out.", "visual_description": "Bubbles"},
        {"speech": "Sunlight powers it all.", "visual_description": "A big sun"},
        {"id": b, "speech": "Roots drink water.", "visual_description": "Roots"},
        {"speech": "Thanks for watching.", "visual_description": "A waving hand"},
    ]
    put = sp.call("PUT", f"/videos/{draft['id']}/scenes", json=body)
    assert put.status_code == 200, put.text
    scenes = put.json()["scenes"]
    assert [s["speech"] for s in scenes] == [item["speech"] for item in body]
    assert scenes[0]["id"] == c and scenes[2]["id"] == b and a not in {s["id"] for s in scenes}
    assert len({s["id"] for s in scenes}) == 4
    assert sp.video(draft["id"])["scenes"] == scenes
    approved = sp.approve(draft["id"]).json()
    assert approved["credits_charged"] == 4 and sp.balance() == 96
    done = sp.wait(draft["id"], "completed", "failed")
    assert done["status"] == "completed", done["error"]
    assert [s["captions"][0]["word"] for s in done["scenes"]] == [
        "Oxygen",
        "Sunlight",
        "Roots",
        "Thanks",
    ]


def test_delete_frees_the_slot_removes_media_and_refunds_nothing(sp: Sketch) -> None:
    draft = sp.draft()
    sp.approve(draft["id"])
    done = sp.wait(draft["id"], "completed", "failed")
    assert done["status"] == "completed", done["error"]
    assert httpx.get(done["video_url"]).status_code == 200
    assert sp.call("DELETE", f"/videos/{draft['id']}").status_code == 204
    assert sp.call("GET", f"/videos/{draft['id']}").status_code == 404
    assert httpx.get(done["video_url"]).status_code == 404
    assert not (sp.config.sketchpen_dir / "videos" / draft["id"]).exists()
    assert sp.balance() == 97 and sp.ledger(draft["id"]) == [("reserve", -3)]
    # A draft deleted in scripting is abandoned and frees its slot.
    sp.config.sketchpen_hold.add("scripting")
    scripting = sp.create()
    assert sp.call("GET", "/account").json()["concurrency"]["active"] == 1
    assert sp.call("DELETE", f"/videos/{scripting['id']}").status_code == 204
    assert sp.call("GET", "/account").json()["concurrency"]["active"] == 0


def test_list_is_newest_first_with_status_limit_and_offset(sp: Sketch) -> None:
    first = sp.draft(prompt="First video.")
    sp.approve(first["id"])
    sp.wait(first["id"], "completed")
    second = sp.draft(prompt="Second video.")
    third = sp.draft(prompt="Third video.")
    listed = sp.call("GET", "/videos").json()
    assert [v["id"] for v in listed] == [third["id"], second["id"], first["id"]]
    assert listed[0]["scenes"] and listed[0]["config"]["fps"] == 10
    refining = sp.call("GET", "/videos", params={"status": "refining"}).json()
    assert [v["id"] for v in refining] == [third["id"], second["id"]]
    both = sp.call("GET", "/videos", params={"status": "completed,refining", "limit": 2}).json()
    assert [v["id"] for v in both] == [third["id"], second["id"]]
    page = sp.call("GET", "/videos", params={"limit": 2, "offset": 2}).json()
    assert [v["id"] for v in page] == [first["id"]]
    # Another account sees none of them, and cannot read one by id.
    other = sp.running.account()
    keys = sp.store.create_keys(other.account_id)
    assert sp.call("GET", "/videos", keys.live_key).json() == []
    assert sp.call("GET", f"/videos/{first['id']}", keys.live_key).status_code == 404


def test_themes_and_voices_need_no_key_and_feed_create(sp: Sketch) -> None:
    themes = sp.call("GET", "/themes", None).json()
    assert themes[0]["id"] == "presentation" and {"id", "name", "description"} == set(themes[0])
    voices = sp.call("GET", "/voices", "sk_live_ignored").json()["voices"]
    assert {v["id"] for v in voices} == set(drafting.VOICES)
    preview = httpx.get(voices[0]["preview_url"])
    assert preview.status_code == 200 and preview.content[:4] == b"RIFF"
    made = sp.create(theme=themes[-1]["id"], voice_id=voices[-1]["id"])
    assert made["theme"] == themes[-1]["id"] and made["config"]["voice_id"] == voices[-1]["id"]


class _Receiver(BaseHTTPRequestHandler):
    """Records every POST (with its path as X-Test-Path); `failures[port/path]` answers 500
    that many times first."""

    received: list[tuple[dict[str, str], bytes]]
    failures: dict[str, int] = {}  # noqa: RUF012 (shared by the handler class on purpose)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        headers = dict(self.headers)
        headers["X-Test-Path"] = self.path
        self.received.append((headers, body))
        key = f"{self.server.server_address[1]}{self.path}"
        if self.failures.get(key, 0) > 0:
            self.failures[key] -= 1
            self.send_response(500)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Handler", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_callbacks_are_signed_and_sent_for_their_event(
    sp: Sketch, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, received = receiver
    made = sp.call("POST", "/callbacks", json={"url": url, "event": "video.completed"})
    assert made.status_code == 201, made.text
    callback = made.json()
    assert callback["secret"].startswith("whsec_") and len(callback["secret"]) == 38
    assert callback["is_active"] is True and callback["event"] == "video.completed"
    again = sp.call("POST", "/callbacks", json={"url": url, "event": "video.completed"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"
    assert [c["id"] for c in sp.call("GET", "/callbacks").json()] == [callback["id"]]

    draft = sp.draft()
    sp.approve(draft["id"])
    done = sp.wait(draft["id"], "completed")
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(received) == 1
    headers, body = received[0]
    expected = hmac.new(callback["secret"].encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Sketchpen-Signature"] == expected
    payload = json.loads(body)
    assert payload["event"] == "video.completed" and payload["video_id"] == done["id"]
    assert payload["data"]["video_url"] == done["video_url"]
    assert payload["data"]["status"] == "completed" and isinstance(payload["created_at"], int)
    assert not payload["data"]["created_at"].endswith("Z") and "." in payload["data"]["created_at"]

    assert sp.call("DELETE", f"/callbacks/{callback['id']}").status_code == 204
    assert sp.call("DELETE", f"/callbacks/{callback['id']}").status_code == 404
    assert sp.call("GET", "/callbacks").json() == []


def test_assets_images_and_links(sp: Sketch, tmp_path: Path) -> None:
    character = sp.call(
        "POST",
        "/assets",
        json={"name": "Leafy", "description": "A leaf", "type": "character", "voice_id": "ember"},
    )
    assert character.status_code == 201, character.text
    leafy = character.json()
    assert leafy["image_url"] is None and leafy["user_id"] == sp.account_id
    png = (Path(drafting.__file__).parents[2] / "resources" / "icons").glob("*.png")
    image = next(png, None)
    data = image.read_bytes() if image else _tiny_png(tmp_path)
    uploaded = sp.call(
        "POST", f"/assets/{leafy['id']}/image", files={"file": ("leaf.png", data, "image/png")}
    )
    assert uploaded.status_code == 200, uploaded.text
    assert httpx.get(uploaded.json()["image_url"]).content == data
    sun = sp.call("POST", "/assets", json={"name": "Sun", "type": "object"}).json()
    assert [a["id"] for a in sp.call("GET", "/assets", params={"type": "object"}).json()] == [
        sun["id"]
    ]
    video = sp.create(
        prompt="Leafy loves the sun. Leafy drinks water.",
        asset_ids=[leafy["id"]],
        speaker_ids=[leafy["id"]],
        audio_mode="multi_voice",
    )
    link = sp.call("POST", f"/assets/videos/{video['id']}/refs", json={"asset_id": sun["id"]})
    assert link.status_code == 201, link.text
    assert link.json()["video_id"] == video["id"] and link.json()["asset_id"] == sun["id"]
    dup = sp.call("POST", f"/assets/videos/{video['id']}/refs", json={"asset_id": leafy["id"]})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "CONFLICT"
    draft = sp.wait(video["id"], "refining")
    assert draft["scenes"][0]["assets"] == [leafy["id"], sun["id"]]
    sp.approve(draft["id"])
    done = sp.wait(draft["id"], "completed", "failed")
    assert done["status"] == "completed", done["error"]
    late = sp.call("POST", f"/assets/videos/{video['id']}/refs", json={"asset_id": sun["id"]})
    assert late.status_code == 409 and late.json()["error"]["code"] == "INVALID_STATE"


def _tiny_png(tmp_path: Path) -> bytes:
    from PySide6.QtGui import QColor, QImage

    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    image.fill(QColor("#22AA44"))
    path = tmp_path / "tiny.png"
    assert image.save(str(path))
    return path.read_bytes()


def test_media_files_answer_byte_ranges(sp: Sketch) -> None:
    draft = sp.draft(prompt="Ranges work.")
    sp.approve(draft["id"])
    done = sp.wait(draft["id"], "completed")
    whole = httpx.get(done["video_url"]).content
    part = httpx.get(done["video_url"], headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole[10:20]
    token = done["video_url"].split("/files/")[1].split("/")[0]
    for bad in (
        f"/files/{token}/..%2Fservice.sqlite3",
        f"/files/{token}/movie.json",
        f"/files/{'0' * 32}/video.mp4",
    ):
        assert sp.call("GET", bad, None).status_code == 404


def test_failed_videos_call_back_and_deliveries_are_retried_with_the_same_bytes(
    start_service: Callable[..., Running],
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    sp = open_sketch(start_service, webhook_delays=(0.05, 0.05))
    url, received = receiver
    flaky = url.replace("/hook", "/flaky")
    for hook, event in ((url, "video.failed"), (flaky, "video.failed"), (url, "video.completed")):
        assert sp.call("POST", "/callbacks", json={"url": hook, "event": event}).status_code == 201
    _Receiver.failures[flaky.split(":")[-1].split("/")[0] + "/flaky"] = 1
    sp.config.sketchpen_fail_stages.add("rendering")
    draft = sp.draft()
    sp.approve(draft["id"])
    sp.wait(draft["id"], "failed")
    deadline = time.monotonic() + 10
    while len(received) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # nothing more may arrive
    paths = sorted(headers["X-Test-Path"] for headers, _ in received)
    assert paths == ["/flaky", "/flaky", "/hook"]
    bodies = {body for _, body in received}
    assert len(bodies) == 1  # one payload, retried byte for byte
    payload = json.loads(bodies.pop())
    assert payload["event"] == "video.failed" and payload["data"]["video_url"] is None


def test_pending_deliveries_survive_a_restart_and_resume_with_the_same_bytes(
    start_service: Callable[..., Running],
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    """A delivery still waiting for its retry when the service stops is sent by the next start
    (same body and signature); one whose registration was deleted meanwhile is dropped."""
    sp = open_sketch(start_service, webhook_delays=(60.0,))
    url, received = receiver
    port = url.split(":")[-1].split("/")[0]
    kept, deleted = url.replace("/hook", "/kept"), url.replace("/hook", "/deleted")
    ids = {}
    for hook in (kept, deleted):
        made = sp.call("POST", "/callbacks", json={"url": hook, "event": "video.completed"})
        ids[hook] = made.json()["id"]
        _Receiver.failures[f"{port}/{hook.rsplit('/', 1)[1]}"] = 1
    secret = sp.call("GET", "/callbacks").json()[0]["secret"]
    draft = sp.draft()
    sp.approve(draft["id"])
    sp.wait(draft["id"], "completed")
    deadline = time.monotonic() + 10
    while len(received) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)  # each got its first 500; the retries wait a minute
    assert sorted(h["X-Test-Path"] for h, _ in received) == ["/deleted", "/kept"]
    pending = sp.store.deliveries(state="pending")
    assert [(d.url, d.attempts, d.last_status) for d in pending] == [
        (kept, 1, 500),
        (deleted, 1, 500),
    ]
    assert sp.call("DELETE", f"/callbacks/{ids[deleted]}").status_code == 204

    folder = sp.config.data_dir
    sp.running.thread.stop()  # the one-minute waits are abandoned, the rows stay pending
    after = start_service(data_dir=folder, webhook_delays=(0.05,))
    store = after.thread.app.state.sketchpen.store
    deadline = time.monotonic() + 10
    while len(received) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # nothing more may arrive
    assert [h["X-Test-Path"] for h, _ in received[2:]] == ["/kept"]
    first = next(body for h, body in received if h["X-Test-Path"] == "/kept")
    headers, body = received[2]
    assert body == first  # the same bytes, hence the same signature
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Sketchpen-Signature"] == expected
    assert {(d.url, d.state, d.attempts) for d in store.deliveries(video_id=draft["id"])} == {
        (kept, "delivered", 2),
        (deleted, "dropped", 1),
    }


def test_a_receiver_slower_than_the_timeout_gets_the_delivery_again(
    start_service: Callable[..., Running],
) -> None:
    """Spec §11: an attempt not answered within the timeout counts as failed and is retried
    with the same bytes."""
    arrivals: list[bytes] = []

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrivals.append(self.rfile.read(int(self.headers["content-length"])))
            if len(arrivals) == 1:
                time.sleep(0.6)  # past the 0.2 s timeout
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sp = open_sketch(start_service, webhook_delays=(0.05,), webhook_timeout=0.2)
        url = f"http://127.0.0.1:{server.server_address[1]}/slow"
        made = sp.call("POST", "/callbacks", json={"url": url, "event": "video.failed"})
        assert made.status_code == 201
        sp.config.sketchpen_fail_stages.add("scripting")
        video = sp.wait(sp.create()["id"], "failed")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            delivered = sp.store.deliveries(video_id=video["id"], state="delivered")
            if delivered:
                break
            time.sleep(0.02)
        assert [(d.attempts, d.last_status) for d in delivered] == [(2, 204)]
        assert len(arrivals) == 2 and arrivals[0] == arrivals[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_video_ends_with_its_deliveries_in_one_commit_so_a_crash_loses_none(
    tmp_path: Path,
    start_service: Callable[..., Running],
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    """The state a process killed right after a video ended leaves (no sender ever ran): the
    deliveries were written with the status change, and the next start sends them."""
    from app.server.config import ServiceConfig
    from app.server.sketchpen_store import SketchStore
    from app.server.store import Store

    url, received = receiver
    config = ServiceConfig(data_dir=tmp_path / "crashed")
    store = Store(config.db_path)
    account = store.create_account("pro", 50)
    sketch = SketchStore(config.db_path)
    caller = sketch.authenticate(sketch.create_keys(account.account_id).live_key)
    hooks = {
        event: sketch.create_callback(account.account_id, url, event)
        for event in ("video.failed", "video.completed")
    }
    settings = {"fps": 10, "aspect_ratio": "16:9", "audio_mode": "single", "bg_mode": "white"}
    ended = []
    for end in ("failed", "completed"):
        video = sketch.create_video(
            caller, prompt=end, theme="presentation", config=settings, base_url="http://x"
        )
        scripting = sketch.advance(video, "scripting")
        assert scripting is not None
        if end == "failed":
            assert sketch.fail(scripting, "scripting", "The AI timed out") is not None
        else:
            assert sketch.advance(scripting, "completed", video_file="video.mp4") is not None
        ended.append(video.id)
    assert [(d.video_id, d.state) for d in sketch.deliveries()] == [
        (ended[0], "pending"),
        (ended[1], "pending"),
    ]
    sketch.close()
    store.close()

    start_service(data_dir=config.data_dir)
    deadline = time.monotonic() + 10
    while len(received) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    events = {}
    for headers, body in received:
        payload = json.loads(body)
        secret = hooks[payload["event"]].secret
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Sketchpen-Signature"] == expected
        events[payload["event"]] = payload["video_id"]
    assert events == {"video.failed": ended[0], "video.completed": ended[1]}
    assert len(received) == 2
