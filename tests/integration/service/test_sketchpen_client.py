"""The studio's Sketchpen client against the real local service over loopback.

Every behaviour here is produced by real requests: the whole lifecycle to a playable MP4 (and
its conversion into a movie script that renders to the same length), regenerate with
feedback, scene edits only in `refining`, the INVALID_STATE matrix with the state re-read,
the 3-slot rule and a parked create or retry, the plain-string 429 (waited out, or handed to
the user when the window is a day), 422 details as paths, credits charged and refunded,
callbacks with signed deliveries, assets, and the degradation when the server does not offer
an endpoint (the service's `absent_routes` switch answers like hosted FastAPI).
"""

from __future__ import annotations

import asyncio
import io
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from app.media.probe import probe
from app.render.engine import render_movie
from app.script.model import Movie
from app.script.sketchpen import video_to_script
from app.script.validate import check
from app.service.errors import Action, ApiError, Category, NotOffered
from app.service.retry import WaitNotice, WaitReason
from app.service.sketchpen import (
    LIFECYCLE,
    CreationUncertain,
    Feature,
    PollTiming,
    SceneDraft,
    SketchpenClient,
    StatusChange,
    Video,
    VideoStateError,
    forget_not_offered,
    parse_webhook,
    verify_webhook,
)

from .conftest import DROP, PASS, FaultProxy, Running

pytestmark = pytest.mark.timeout(180)

#: Short stages and 320×180 videos keep a whole lifecycle around two seconds.
FAST: dict[str, Any] = {"sketchpen_stage_seconds": 0.05, "sketchpen_short_side": 180}
#: Three sentences → three scenes.
PROMPT = "Plants make food from light. They drink water through roots. Oxygen is released."
QUICK = PollTiming(drafting=0.05, processing=0.05)


@dataclass
class Sketch:
    running: Running
    live: str
    test: str

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def config(self) -> Any:
        return self.running.config


@pytest.fixture
def open_sketch(start_service: Callable[..., Running]) -> Iterator[Callable[..., Sketch]]:
    forget_not_offered()

    def open_(credits: int = 100, **overrides: Any) -> Sketch:
        running = start_service(**{**FAST, **overrides})
        account = running.account("pro", credits)
        store = running.thread.app.state.sketchpen.store
        keys = store.create_keys(account.account_id)
        return Sketch(running, keys.live_key, keys.test_key)

    yield open_
    forget_not_offered()


def client(
    sketch: Sketch,
    key: str | None = None,
    *,
    on_wait: Callable[[WaitNotice], None] | None = None,
    slot_poll_seconds: float = 0.1,
    base: str | None = None,
) -> SketchpenClient:
    return SketchpenClient(
        base or sketch.url,
        key or sketch.live,
        timeout=30.0,
        on_wait=on_wait,
        slot_poll_seconds=slot_poll_seconds,
    )


async def raises(call: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call
    return caught.value


async def draft(sp: SketchpenClient, prompt: str = PROMPT, **settings: Any) -> Video:
    settings.setdefault("fps", 10)
    video = await sp.create_video(prompt, **settings)
    return await sp.wait_for_video(video.id, timing=QUICK, timeout=60)


async def finish(sp: SketchpenClient, video_id: str, **kw: Any) -> Video:
    return await sp.wait_for_video(video_id, timing=QUICK, timeout=120, **kw)


def frames_in(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


# -- the lifecycle -----------------------------------------------------------------------------


def contiguous(changes: list[StatusChange]) -> list[str]:
    """The statuses a wait saw or was told it skipped; they must follow the lifecycle."""
    seen: list[str] = []
    for change in changes:
        seen += [*change.skipped, change.video.status]
    start = LIFECYCLE.index(seen[0])
    assert seen == list(LIFECYCLE[start : start + len(seen)]), seen
    return seen


def test_full_lifecycle_to_a_playable_mp4_that_converts_and_renders_to_the_same_length(
    open_sketch: Callable[..., Sketch], tmp_path: Path
) -> None:
    sketch = open_sketch(credits=100)
    drafting: list[StatusChange] = []
    producing: list[StatusChange] = []

    async def main() -> tuple[Video, Path, dict[str, str]]:
        async with client(sketch) as sp:
            assert "presentation" in [t.id for t in await sp.themes()]
            voices = await sp.voices()
            created = await sp.create_video(PROMPT, fps=10, voice_id=voices[0].id)
            assert created.status in ("pending", "scripting") and created.scenes == []
            ready = await sp.wait_for_video(
                created.id, on_change=drafting.append, timing=QUICK, timeout=60
            )
            assert ready.status == "refining" and len(ready.scenes) == 3
            assert all(s.image_url is None and s.captions == [] for s in ready.scenes)
            account = await sp.account()
            assert account.credits_balance == 100 and account.concurrency is not None
            assert (account.concurrency.limit, account.concurrency.active) == (3, 1)

            approved = await sp.approve(ready.id)
            assert approved.status == "visualising"
            done = await finish(sp, ready.id, on_change=producing.append)
            assert done.status == "completed", done.error
            assert done.credits_charged == 3 and done.video_url and done.audio_url
            assert all(s.image_url and s.captions for s in done.scenes)
            account = await sp.account()
            assert account.credits_balance == 97 and account.concurrency is not None
            assert account.concurrency.active == 0

            video_file = await sp.download(done.video_url, tmp_path / "video.mp4")
            media = await sp.download_media(done, tmp_path / "media")
            return done, video_file, media

    done, video_file, media = asyncio.run(main())
    assert contiguous(drafting)[-1] == "refining"
    assert contiguous(producing)[-1] == "completed"

    info = probe(video_file)
    assert (info.width, info.height) == (320, 180) and info.has_audio
    assert frames_in(video_file) == round(info.duration * 10)

    # The studio's conversion of the same video, with its media on disk, renders to the
    # server's length: the scene timing rule agrees with the service's narrator.
    script = video_to_script(done.as_dict(), media=media, short_side=180)
    _, problems = check(script, has_placeholders=True)
    assert [p for p in problems if p.severity == "error"] == []
    assert all(not s["elements"][0]["src"].startswith("http") for s in script["scenes"])
    total = sum(scene["duration"] for scene in script["scenes"])
    assert abs(total - info.duration) <= 0.1 + 1e-9, (total, info.duration)
    out = tmp_path / "converted.mp4"
    render_movie(Movie.model_validate(script), out, jobs=1)
    assert abs(probe(out).duration - info.duration) <= 0.15


def test_regenerate_with_feedback_returns_to_scripting_and_brings_new_scenes(
    open_sketch: Callable[..., Sketch],
) -> None:
    sketch = open_sketch()

    async def main() -> None:
        async with client(sketch) as sp:
            first = await draft(sp)
            feedback = "Also say that leaves are green."
            again = await sp.regenerate(first.id, feedback, current=first)
            assert again.status == "scripting" and again.scenes == []
            second = await sp.wait_for_video(first.id, timing=QUICK, timeout=60)
            assert second.status == "refining"
            assert len(second.scenes) == len(first.scenes) + 1
            assert {s.id for s in second.scenes}.isdisjoint({s.id for s in first.scenes})
            assert "leaves are green" in " ".join(s.speech for s in second.scenes)
            account = await sp.account()
            assert account.credits_balance == 100  # regenerate is free

    asyncio.run(main())


def test_scene_edits_work_only_in_refining(open_sketch: Callable[..., Sketch]) -> None:
    sketch = open_sketch()

    async def main() -> None:
        async with client(sketch) as sp:
            video = await draft(sp)
            a, b, c = video.scenes
            edited = await sp.edit_scene(video.id, b.id, speech="Roots drink the rain.")
            assert edited.status == "refining"
            assert edited.scenes[1].speech == "Roots drink the rain."
            assert edited.scenes[1].visual_description == b.visual_description

            replaced = await sp.replace_scenes(
                video.id, [c, SceneDraft("A brand new scene.", "A sunflower"), a]
            )
            assert [s.speech for s in replaced.scenes] == [
                c.speech,
                "A brand new scene.",
                a.speech,
            ]
            assert replaced.scenes[0].id == c.id and replaced.scenes[2].id == a.id
            assert replaced.scenes[1].id not in (a.id, b.id, c.id)

            sketch.config.sketchpen_hold.add("visualising")
            try:
                await sp.approve(video.id)
                error = await raises(sp.edit_scene(video.id, a.id, speech="Too late."))
                assert isinstance(error, VideoStateError) and error.state == "visualising"
                assert error.category is Category.STATE
                assert error.actions[0] is Action.WAIT_AND_RETRY
                error = await raises(sp.replace_scenes(video.id, [a]))
                assert isinstance(error, VideoStateError) and error.state == "visualising"
            finally:
                sketch.config.sketchpen_hold.discard("visualising")
            done = await finish(sp, video.id)
            assert done.status == "completed"
            assert [s.speech for s in done.scenes][1] == "A brand new scene."
            error = await raises(sp.edit_scene(video.id, a.id, speech="Still too late."))
            assert isinstance(error, VideoStateError) and error.state == "completed"
            assert error.actions[0] is Action.SUBMIT_AS_NEW

    asyncio.run(main())


def test_invalid_state_is_parsed_with_the_state_and_the_recovery_that_fits(
    open_sketch: Callable[..., Sketch],
) -> None:
    sketch = open_sketch()

    async def main() -> None:
        async with client(sketch) as sp:
            # In progress (scripting): approve → wait.
            sketch.config.sketchpen_hold.add("scripting")
            try:
                writing = await sp.create_video(PROMPT, fps=10)
                error = await raises(sp.approve(writing.id))
                assert isinstance(error, VideoStateError)
                assert error.state in ("pending", "scripting")
                assert error.actions[0] is Action.WAIT_AND_RETRY
                assert error.request_id and error.status == 409
            finally:
                sketch.config.sketchpen_hold.discard("scripting")
            await sp.delete_video(writing.id)  # scripting is deletable

            # Processing: delete → 409 with the state.
            video = await draft(sp)
            sketch.config.sketchpen_hold.add("narrating")
            try:
                await sp.approve(video.id)
                await sp.wait_for_video(video.id, until={"narrating"}, timing=QUICK, timeout=60)
                error = await raises(sp.delete_video(video.id))
                assert isinstance(error, VideoStateError) and error.state == "narrating"
                error = await raises(sp.regenerate(video.id, "x"))
                assert isinstance(error, VideoStateError) and error.state == "narrating"
            finally:
                sketch.config.sketchpen_hold.discard("narrating")

            # Completed: approve and regenerate → "create a new video".
            done = await finish(sp, video.id)
            for call in (sp.approve(done.id), sp.regenerate(done.id, "", current=done)):
                error = await raises(call)
                assert isinstance(error, VideoStateError) and error.state == "completed"
                assert error.actions[0] is Action.SUBMIT_AS_NEW

    asyncio.run(main())


#: Every 409 cell of the §6 matrix: (action, state) for the calls that must be refused.
REFUSED: dict[str, set[str]] = {
    "approve": {"scripting", "processing", "completed", "failed_bare"},
    "regenerate": {"scripting", "processing", "completed", "failed_scenes"},
    "edit_scene": {"scripting", "processing", "completed", "failed_scenes", "failed_bare"},
    "replace_scenes": {"scripting", "processing", "completed", "failed_scenes", "failed_bare"},
    "delete": {"processing"},
    "link_asset": {"processing", "completed", "failed_scenes", "failed_bare"},
}
FIRST_ACTION = {
    "scripting": Action.WAIT_AND_RETRY,
    "processing": Action.WAIT_AND_RETRY,
    "completed": Action.SUBMIT_AS_NEW,
    "failed_scenes": Action.RETRY,
    "failed_bare": Action.REGENERATE_SCRIPT,
}


def test_every_invalid_state_cell_comes_back_with_its_state_and_recovery(
    open_sketch: Callable[..., Sketch],
) -> None:
    sketch = open_sketch()
    config = sketch.config

    async def main() -> None:
        async with client(sketch) as sp:
            asset = await sp.create_asset("Watering can", "object")
            videos: dict[str, Video] = {}
            # Ended videos first: they free their slots.
            done = await draft(sp)
            await sp.approve(done.id)
            videos["completed"] = await finish(sp, done.id)
            config.sketchpen_fail_images.add(0)
            try:
                broken = await draft(sp)
                await sp.approve(broken.id)
                videos["failed_scenes"] = await finish(sp, broken.id)
            finally:
                config.sketchpen_fail_images.discard(0)
            config.sketchpen_fail_stages.add("scripting")
            try:
                bare = await sp.create_video(PROMPT, fps=10)
                videos["failed_bare"] = await sp.wait_for_video(bare.id, timing=QUICK, timeout=60)
            finally:
                config.sketchpen_fail_stages.discard("scripting")
            # Then three in progress, held where they are.
            config.sketchpen_hold.add("rendering")
            try:
                busy = await draft(sp)
                await sp.approve(busy.id)
                videos["processing"] = await sp.wait_for_video(
                    busy.id, until={"rendering"}, timing=QUICK, timeout=60
                )
                config.sketchpen_hold.add("scripting")
                writing = await sp.create_video(PROMPT, fps=10)
                videos["scripting"] = await sp.wait_for_video(
                    writing.id, until={"scripting"}, timing=QUICK, timeout=60
                )
                assert {k: v.status for k, v in videos.items()} == {
                    "completed": "completed",
                    "failed_scenes": "failed",
                    "failed_bare": "failed",
                    "processing": "rendering",
                    "scripting": "scripting",
                }
                assert videos["failed_bare"].scenes == [] and videos["failed_scenes"].scenes

                scene_id = videos["completed"].scenes[0].id
                calls: dict[str, Callable[[Video], Any]] = {
                    "approve": lambda v: sp.approve(v.id),
                    "regenerate": lambda v: sp.regenerate(v.id, "again", current=v),
                    "edit_scene": lambda v: sp.edit_scene(
                        v.id, v.scenes[0].id if v.scenes else scene_id, speech="New words."
                    ),
                    "replace_scenes": lambda v: sp.replace_scenes(
                        v.id, [SceneDraft("New words.", "A new picture")]
                    ),
                    "delete": lambda v: sp.delete_video(v.id),
                    "link_asset": lambda v: sp.link_asset(v.id, asset.id),
                }
                checked = 0
                for action, states in REFUSED.items():
                    for state in sorted(states):
                        video = videos[state]
                        error = await raises(calls[action](video))
                        where = f"{action} on {state}"
                        assert isinstance(error, VideoStateError), (where, error.code)
                        assert (error.code, error.status) == ("INVALID_STATE", 409), where
                        assert error.category is Category.STATE and error.request_id, where
                        assert error.state == video.status, where
                        assert error.actions[0] is FIRST_ACTION[state], where
                        assert error.video.id == video.id and error.message, where
                        checked += 1
                assert checked == 23
            finally:
                config.sketchpen_hold.difference_update({"scripting", "rendering"})

    asyncio.run(main())


# -- failures and credits ----------------------------------------------------------------------


def test_failed_image_is_refunded_and_retry_by_approve_charges_only_the_missing_scene(
    open_sketch: Callable[..., Sketch],
) -> None:
    sketch = open_sketch(credits=10)

    async def main() -> None:
        async with client(sketch) as sp:
            video = await draft(sp)
            sketch.config.sketchpen_fail_images.add(1)
            try:
                await sp.approve(video.id)
                failed = await finish(sp, video.id)
            finally:
                sketch.config.sketchpen_fail_images.discard(1)
            assert failed.status == "failed" and failed.error is not None
            assert failed.error.stage == "visualising"
            error = failed.error_value()
            assert error is not None and error.category is Category.RENDER
            assert error.actions[0] is Action.RETRY
            assert failed.credits_charged == 2
            assert (await sp.account()).credits_balance == 8  # 3 charged, 1 refunded

            # Regenerate is for failures without scenes: the state says "retry" instead.
            error = await raises(sp.regenerate(video.id, "", current=failed))
            assert isinstance(error, VideoStateError) and error.actions[0] is Action.RETRY

            retried = await sp.approve(video.id)
            assert retried.status == "visualising"
            done = await finish(sp, video.id)
            assert done.status == "completed" and done.credits_charged == 3
            assert (await sp.account()).credits_balance == 7

    asyncio.run(main())


def test_failed_script_is_regenerated_not_approved(open_sketch: Callable[..., Sketch]) -> None:
    sketch = open_sketch()

    async def main() -> None:
        async with client(sketch) as sp:
            sketch.config.sketchpen_fail_stages.add("scripting")
            try:
                created = await sp.create_video(PROMPT, fps=10)
                failed = await sp.wait_for_video(created.id, timing=QUICK, timeout=60)
            finally:
                sketch.config.sketchpen_fail_stages.discard("scripting")
            assert failed.status == "failed" and failed.scenes == []
            value = failed.error_value()
            assert value is not None and value.actions[0] is Action.REGENERATE_SCRIPT
            error = await raises(sp.approve(failed.id))
            assert isinstance(error, VideoStateError)
            assert error.actions[0] is Action.REGENERATE_SCRIPT
            again = await sp.regenerate(failed.id, current=failed)
            assert again.status in ("pending", "scripting")
            ready = await sp.wait_for_video(failed.id, timing=QUICK, timeout=60)
            assert ready.status == "refining" and len(ready.scenes) == 3
            assert (await sp.account()).credits_balance == 100

    asyncio.run(main())


def test_credits_come_from_the_account_and_test_keys_cost_nothing(
    open_sketch: Callable[..., Sketch],
) -> None:
    sketch = open_sketch(credits=2)

    async def main() -> None:
        async with client(sketch, sketch.test) as sandbox, client(sketch) as live:
            account = await sandbox.account()
            assert account.key_mode == "test" and account.from_endpoint
            video = await draft(sandbox)
            await sandbox.approve(video.id)
            done = await finish(sandbox, video.id)
            assert done.status == "completed" and done.credits_charged == 0
            assert (await live.account()).credits_balance == 2

            # Live: 3 scenes cost 3, the balance is 2.
            costly = await draft(live)
            error = await raises(live.approve(costly.id))
            assert (error.code, error.category) == ("INSUFFICIENT_CREDITS", Category.MONEY)
            assert (error.required, error.balance) == (3, 2)
            assert error.actions[:4] == (
                Action.OPEN_BILLING,
                Action.SHORTEN_VIDEO,  # "Remove scenes": a draft can be approved shorter
                Action.WAIT_FOR_CREDITS,  # "Wait for credits to renew"
                Action.USE_TEST_KEY,
            )
            shorter = await live.replace_scenes(costly.id, costly.scenes[:2])
            assert len(shorter.scenes) == 2
            await live.approve(costly.id)
            assert (await finish(live, costly.id)).status == "completed"
            assert (await live.account()).credits_balance == 0
            # Creating needs a balance of 1 (and charges nothing); the test key needs none.
            error = await raises(live.create_video(PROMPT, fps=10))
            assert (error.code, error.status, error.category) == (
                "INSUFFICIENT_CREDITS",
                402,
                Category.MONEY,
            )
            assert (error.required, error.balance) == (1, 0) and error.request_id
            assert not isinstance(error, CreationUncertain) and error.attempts == 1
            assert (await sandbox.create_video(PROMPT, fps=10)).status in ("pending", "scripting")

    asyncio.run(main())


def test_lost_answers_are_resent_only_where_the_contract_says_it_is_safe(
    open_sketch: Callable[..., Sketch],
) -> None:
    sketch = open_sketch(credits=100)

    async def main() -> list[tuple[str, str, str]]:
        host, port = sketch.url.removeprefix("http://").split(":")
        proxy = await FaultProxy(host, int(port)).start()
        try:
            async with client(sketch, base=proxy.url) as sp:
                # Create: the answer is lost after the video was made. Not resent; the video
                # is offered as a candidate.
                proxy.plan("POST", "/api/v1/videos", DROP)
                error = await raises(sp.create_video(PROMPT, fps=10))
                assert isinstance(error, CreationUncertain) and error.ambiguous
                assert [v.prompt for v in error.candidates] == [PROMPT]
                assert len(await sp.list_videos()) == 1
                video = await sp.wait_for_video(error.candidates[0].id, timing=QUICK, timeout=60)

                # Approve: resent; the resend's INVALID_STATE proves the first one landed.
                proxy.plan("POST", f"/api/v1/videos/{video.id}/approve", DROP)
                approved = await sp.approve(video.id)
                assert approved.processing or approved.status == "completed"
                done = await finish(sp, video.id)
                assert done.status == "completed" and done.credits_charged == 3
                assert (await sp.account()).credits_balance == 97  # charged once

                # Regenerate: not resent, because the re-read shows it landed.
                second = await draft(sp, "Leaves are green. Roots are brown.")
                proxy.plan("POST", f"/api/v1/videos/{second.id}/regenerate", DROP)
                again = await sp.regenerate(second.id, "Also say stems are tall.", current=second)
                assert again.status in ("pending", "scripting", "refining")
                new = await sp.wait_for_video(second.id, timing=QUICK, timeout=60)
                assert "stems are tall" in " ".join(s.speech for s in new.scenes)
                return proxy.seen
        finally:
            await proxy.close()

    seen = asyncio.run(main())
    posts = [
        (path.rsplit("/", 1)[-1], behaviour) for method, path, behaviour in seen if method == "POST"
    ]
    assert posts == [
        ("videos", DROP),
        ("approve", DROP),
        ("approve", PASS),
        ("videos", PASS),
        ("regenerate", DROP),
    ]


class Recorder:
    """Real sleeps, scaled down so five backed-off tries take well under a second."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(seconds / 100)


def test_server_faults_are_retried_for_safe_calls_and_create_is_never_resent(
    open_sketch: Callable[..., Sketch],
) -> None:
    sketch = open_sketch()
    faults = sketch.config.faults
    sleeps = Recorder()

    async def main() -> None:
        async with SketchpenClient(sketch.url, sketch.live, sleep=sleeps) as sp:
            video = await draft(sp)
            polled = len(sleeps.calls)
            faults.add("video_get:database")
            try:
                error = await raises(sp.get_video(video.id))
            finally:
                faults.discard("video_get:database")
            assert (error.code, error.status, error.category) == (
                "DATABASE_ERROR",
                500,
                Category.TRANSIENT,
            )
            assert error.actions[:2] == (Action.RETRY, Action.CHECK_DISK_SPACE)
            assert error.attempts == 5 and error.request_id
            assert len(sleeps.calls) - polled == 4

            # An INTERNAL_ERROR on approve is resent: the fault ends, the resend lands.
            faults.add("video_approve")
            backed_off = len(sleeps.calls)
            task = asyncio.create_task(sp.approve(video.id))
            while len(sleeps.calls) < backed_off + 1:
                await asyncio.sleep(0.01)
            faults.discard("video_approve")
            approved = await task
            assert approved.status == "visualising"
            assert (await finish(sp, video.id)).credits_charged == 3

            # POST /videos after a 500: not resent (no idempotency); the lookup finds nothing.
            before = len(sleeps.calls)
            faults.add("videos_create")
            try:
                error = await raises(sp.create_video("Never made."))
            finally:
                faults.discard("videos_create")
            assert isinstance(error, CreationUncertain) and error.candidates == ()
            assert error.attempts == 1 and len(sleeps.calls) == before

    asyncio.run(main())


# -- limits ------------------------------------------------------------------------------------


def test_a_fourth_video_is_max_concurrent_videos_and_a_parked_create_gets_the_freed_slot(
    open_sketch: Callable[..., Sketch],
) -> None:
    sketch = open_sketch()
    notices: list[WaitNotice] = []

    async def main() -> None:
        async with client(sketch, on_wait=notices.append) as sp:
            drafts = [await draft(sp, f"Draft number {i}. It waits.") for i in range(3)]
            error = await raises(sp.create_video("One too many."))
            assert (error.code, error.status) == ("MAX_CONCURRENT_VIDEOS", 429)
            assert error.category is Category.WAIT and error.is_concurrency_limit
            assert not error.is_rate_limit and error.request_id
            assert error.actions[:2] == (Action.QUEUE_FOR_SLOT, Action.APPROVE_OR_DELETE_DRAFT)

            # The user may cancel a parked action: nothing is created.
            parked = asyncio.create_task(
                sp.create_video("Cancelled while parked.", fps=10, wait_for_slot=30)
            )
            await asyncio.sleep(0.3)
            assert not parked.done()
            parked.cancel()
            with pytest.raises(asyncio.CancelledError):
                await parked
            assert len(await sp.list_videos()) == 3
            parked = asyncio.create_task(
                sp.create_video("Parked until a slot frees.", fps=10, wait_for_slot=30)
            )
            await asyncio.sleep(0.5)
            assert not parked.done()
            await sp.delete_video(drafts[0].id)
            video = await asyncio.wait_for(parked, 30)
            assert video.prompt == "Parked until a slot frees."
            account = await sp.account()
            assert account.concurrency is not None and account.concurrency.active == 3

    asyncio.run(main())
    assert notices and {n.reason for n in notices} == {WaitReason.SLOT}


def test_failed_videos_reenter_progress_only_with_a_free_slot_and_a_parked_retry_waits(
    open_sketch: Callable[..., Sketch],
) -> None:
    """§8: approve (retry) and regenerate of a failed video re-enter progress, so they meet the
    3-slot rule; approve from refining does not (its slot is held already)."""
    sketch = open_sketch()
    config = sketch.config

    async def main() -> None:
        async with client(sketch) as sp:
            config.sketchpen_fail_images.add(0)
            try:
                with_scenes = await draft(sp)
                await sp.approve(with_scenes.id)
                with_scenes = await finish(sp, with_scenes.id)
            finally:
                config.sketchpen_fail_images.clear()
            config.sketchpen_fail_stages.add("scripting")
            try:
                bare = await sp.create_video(PROMPT, fps=10)
                bare = await sp.wait_for_video(bare.id, timing=QUICK, timeout=60)
            finally:
                config.sketchpen_fail_stages.clear()
            assert (with_scenes.status, bare.status) == ("failed", "failed")
            drafts = [await draft(sp, f"Draft number {i}. It waits.") for i in range(3)]

            for call in (sp.approve(with_scenes.id), sp.regenerate(bare.id, current=bare)):
                error = await raises(call)
                assert (error.code, error.status) == ("MAX_CONCURRENT_VIDEOS", 429)
                assert error.is_concurrency_limit and not isinstance(error, VideoStateError)
            assert (await sp.get_video(with_scenes.id)).status == "failed"
            config.sketchpen_hold.add("visualising")
            try:
                approved = await sp.approve(drafts[2].id)  # holds its slot: no 429
                assert approved.status == "visualising"
                parked = asyncio.create_task(sp.approve(with_scenes.id, wait_for_slot=30))
                await asyncio.sleep(0.3)
                assert not parked.done()
                await sp.delete_video(drafts[0].id)
                retried = await asyncio.wait_for(parked, 30)
                assert retried.status == "visualising" and retried.credits_charged == 3
            finally:
                config.sketchpen_hold.clear()
            assert (await finish(sp, with_scenes.id)).status == "completed"

    asyncio.run(main())


def test_the_string_bodied_429_is_parsed_and_waited_out(open_sketch: Callable[..., Sketch]) -> None:
    sketch = open_sketch(rate_window_seconds=1.0, sketchpen_write_limit=2)
    notices: list[WaitNotice] = []

    async def main() -> None:
        async with client(sketch, on_wait=notices.append) as sp:
            video = await draft(sp)  # one write
            scene = video.scenes[0]
            for n in range(3):
                edited = await sp.edit_scene(video.id, scene.id, speech=f"Edit number {n}.")
                assert edited.scenes[0].speech == f"Edit number {n}."

    asyncio.run(main())
    limited = [n for n in notices if n.reason is WaitReason.RATE_LIMIT]
    assert limited, "the write budget of 2 per second was never hit"
    error = limited[0].error
    assert (error.code, error.status, error.category) == ("RATE_LIMITED", 429, Category.WAIT)
    assert not error.enveloped and error.message == "Rate limit exceeded: 2 per 1 second"
    assert error.request_id  # the string body has none: X-Request-ID gives it
    assert error.retry_after is not None and 0 < error.retry_after <= 1
    assert error.rate_window == 1.0


def test_a_daily_rate_limit_is_handed_to_the_user_not_waited(
    open_sketch: Callable[..., Sketch],
) -> None:
    sketch = open_sketch(rate_window_seconds=86400.0, sketchpen_write_limit=1)
    notices: list[WaitNotice] = []

    async def main() -> None:
        async with client(sketch, on_wait=notices.append) as sp:
            await sp.create_video(PROMPT, fps=10)
            error = await raises(sp.create_video(PROMPT, fps=10))
            assert (error.code, error.category) == ("RATE_LIMITED", Category.WAIT)
            assert error.message == "Rate limit exceeded: 1 per 1 day"
            assert error.rate_window == 86400.0
            assert error.retry_after is not None and error.retry_after > 60
            assert error.attempts == 1
            assert len(await sp.list_videos()) == 1  # reads have their own budget

    asyncio.run(main())
    assert notices == []


def test_validation_details_are_parsed_into_paths(open_sketch: Callable[..., Sketch]) -> None:
    sketch = open_sketch()

    async def main() -> None:
        async with client(sketch) as sp:
            error = await raises(sp.create_video("x" * 2001))
            assert (error.code, error.status) == ("VALIDATION_ERROR", 422)
            assert error.category is Category.FIX_SCRIPT and error.actions[0] is Action.SHOW_PATH
            assert error.paths == ("prompt",) and error.details[0].loc == ("body", "prompt")
            assert error.request_id

            error = await raises(sp.create_video(PROMPT, theme="no-such-theme"))
            assert error.paths == ("theme",)

            error = await raises(sp.list_videos(limit=0))
            assert error.paths == ("limit",) and error.details[0].loc[0] == "query"

            video = await draft(sp)
            a = video.scenes[0]
            error = await raises(sp.replace_scenes(video.id, [a, SceneDraft("x", "y", id=a.id)]))
            assert error.code == "VALIDATION_ERROR" and error.paths == ("1.id",)
            error = await raises(sp.replace_scenes(video.id, [SceneDraft("", "y")]))
            assert error.paths == ("0.speech",)
            error = await raises(sp.regenerate(video.id, "f" * 2001, current=video))
            assert error.paths == ("feedback",)

    asyncio.run(main())


# -- callbacks and assets ----------------------------------------------------------------------


class Receiver:
    """A loopback webhook receiver that records every delivery's body and signature."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, str | None]] = []
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.deliveries.append((body, self.headers.get("X-Sketchpen-Signature")))
                outer.arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_callbacks_deliver_signed_events_the_client_verifies(
    open_sketch: Callable[..., Sketch],
) -> None:
    sketch = open_sketch()
    receiver = Receiver()

    async def main() -> None:
        async with client(sketch) as sp:
            callback = await sp.create_callback(receiver.url, "video.completed")
            assert callback.secret is not None
            secret = callback.secret.get_secret_value()
            assert secret.startswith("whsec_")
            assert [c.id for c in await sp.list_callbacks()] == [callback.id]
            error = await raises(sp.create_callback(receiver.url, "video.completed"))
            assert (error.code, error.category) == ("CONFLICT", Category.STATE)

            video = await draft(sp)
            await sp.approve(video.id)
            done = await finish(sp, video.id)
            assert await asyncio.to_thread(receiver.arrived.wait, 30)
            body, signature = receiver.deliveries[0]
            assert verify_webhook(secret, body, signature)
            event = parse_webhook(body)
            assert (event.event, event.video_id, event.data.status) == (
                "video.completed",
                done.id,
                "completed",
            )
            confirmed = await sp.get_video(event.video_id)  # the studio confirms every webhook
            assert confirmed.status == "completed"

            await sp.delete_callback(callback.id)
            assert await sp.list_callbacks() == []

    try:
        asyncio.run(main())
    finally:
        receiver.close()


def test_assets_are_created_illustrated_and_linked_to_a_draft(
    open_sketch: Callable[..., Sketch],
) -> None:
    sketch = open_sketch()
    png = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 120, 40)).save(png, "PNG")

    async def main() -> None:
        async with client(sketch) as sp:
            error = await raises(sp.create_asset("Professor Leaf", "character"))
            assert error.code == "VALIDATION_ERROR" and error.paths == ("voice_id",)
            voice = (await sp.voices())[0].id
            hero = await sp.create_asset("Professor Leaf", "character", voice_id=voice)
            prop = await sp.create_asset("Watering can", "object", description="Blue")
            assert [a.id for a in await sp.list_assets("character")] == [hero.id]
            illustrated = await sp.upload_asset_image(hero.id, png.getvalue(), filename="leaf.png")
            assert illustrated.image_url
            error = await raises(sp.upload_asset_image(prop.id, b"not an image"))
            assert error.code == "VALIDATION_ERROR"

            video = await draft(sp)
            link = await sp.link_asset(video.id, hero.id)
            assert (link.video_id, link.asset_id) == (video.id, hero.id)
            error = await raises(sp.link_asset(video.id, hero.id))
            assert (error.code, error.category) == ("CONFLICT", Category.STATE)

            await sp.approve(video.id)
            await finish(sp, video.id)
            error = await raises(sp.link_asset(video.id, prop.id))
            assert isinstance(error, VideoStateError) and error.state == "completed"

    asyncio.run(main())


def test_unknown_ids_are_not_found_and_a_wrong_key_is_a_credentials_error(
    open_sketch: Callable[..., Sketch],
) -> None:
    sketch = open_sketch()

    async def main() -> None:
        async with (
            client(sketch) as sp,
            client(sketch, "sk_live_" + "0" * 32) as unknown,
            client(sketch, "not-a-key") as malformed,
        ):
            error = await raises(sp.get_video("3f1c9a7e-0000-4000-8000-000000000000"))
            assert (error.code, error.category) == ("NOT_FOUND", Category.PERMISSION)
            error = await raises(unknown.list_videos())
            assert (error.code, error.category) == ("INVALID_TOKEN", Category.CREDENTIALS)
            error = await raises(malformed.list_videos())
            assert (error.code, error.category) == ("AUTH_ERROR", Category.CREDENTIALS)
            assert error.actions[0] is Action.ENTER_KEY
        store = sketch.running.thread.app.state.sketchpen.store
        account_id = store.authenticate(sketch.live).account.id
        reader = store.mint_key(account_id, "live", ["videos:read"])
        async with client(sketch, " ") as keyless, client(sketch, reader) as narrow:
            error = await raises(keyless.list_videos())
            assert (error.code, error.status, error.category) == (
                "UNAUTHORIZED",
                401,
                Category.CREDENTIALS,
            )
            assert error.request_id and error.attempts == 1
            assert await narrow.list_videos() == []
            error = await raises(narrow.create_video(PROMPT))
            assert (error.code, error.status, error.category) == (
                "FORBIDDEN",
                403,
                Category.PERMISSION,
            )
            assert error.actions[0] is Action.USE_SCOPED_KEY and error.request_id
            error = await raises(narrow.create_callback("http://127.0.0.1:9/h", "video.failed"))
            assert error.code == "FORBIDDEN" and not isinstance(error, CreationUncertain)

    asyncio.run(main())


# -- degradation (§0) --------------------------------------------------------------------------


def test_endpoints_a_server_does_not_offer_degrade_and_are_remembered_per_server_and_key(
    open_sketch: Callable[..., Sketch],
) -> None:
    """The service's `absent_routes` switch answers like hosted FastAPI without the endpoint
    (404/405 `{"detail": …}`); the client turns that into NotOffered, remembers it per (base URL,
    key) and keeps everything else working. Enveloped 404s stay "not found"."""
    sketch = open_sketch()
    absent = sketch.config.absent_routes

    async def main() -> None:
        async with client(sketch) as sp, client(sketch, sketch.test) as sandbox:
            # /account missing: what the client knows, and a parked create still gets its slot
            # (the slot watch cannot ask /account, so it simply tries again).
            absent.add("sketchpen_account")
            account = await sp.account()
            assert not account.from_endpoint and account.credits_balance is None
            assert account.key_mode == "live" and not sp.is_offered(Feature.ACCOUNT)
            drafts = [await draft(sp, f"Draft number {i}. It waits.") for i in range(3)]
            parked = asyncio.create_task(
                sp.create_video("Parked without /account.", fps=10, wait_for_slot=30)
            )
            await asyncio.sleep(0.3)
            assert not parked.done()
            await sp.delete_video(drafts[2].id)
            made = await asyncio.wait_for(parked, 30)
            assert made.prompt == "Parked without /account."

            # An unknown scene or video is the local enveloped NOT_FOUND: nothing degrades.
            video = drafts[0]
            error = await raises(sp.edit_scene(video.id, str(uuid.uuid4()), speech="Hi."))
            assert (error.code, error.status) == ("NOT_FOUND", 404)
            assert not isinstance(error, NotOffered) and sp.is_offered(Feature.SCENE_EDITS)
            error = await raises(sp.delete_video(str(uuid.uuid4())))
            assert not isinstance(error, NotOffered) and sp.is_offered(Feature.VIDEO_DELETE)

            # Scene edits (404 on their paths) and delete (405: GET remains on the path).
            absent.update({"scene_patch", "scenes_put", "video_delete"})
            scene = video.scenes[0]
            error = await raises(sp.edit_scene(video.id, scene.id, speech="Changed."))
            assert isinstance(error, NotOffered) and (error.status, error.feature) == (
                404,
                "scene_edits",
            )
            assert error.category is Category.NOT_OFFERED and not sp.is_offered(Feature.SCENE_EDITS)
            error = await raises(sp.delete_video(drafts[1].id))
            assert isinstance(error, NotOffered) and error.status == 405
            assert error.feature == "video_delete" and error.attempts == 1

            # Remembered: with the server offering them again, nothing is sent for this
            # (server, key), in this client or a new one; the test key asks the server.
            absent.clear()
            error = await raises(sp.replace_scenes(video.id, [SceneDraft("New.", "A card")]))
            assert isinstance(error, NotOffered) and error.status is None
            error = await raises(sp.delete_video(drafts[1].id))
            assert isinstance(error, NotOffered) and error.attempts == 1  # no backing off
            assert not (await sp.account()).from_endpoint
            assert (await sp.get_video(video.id)).scenes == video.scenes
            assert len(await sp.list_videos()) == 3  # the delete never reached the server
            async with client(sketch) as again:
                assert not again.is_offered(Feature.SCENE_EDITS)
                assert isinstance(
                    await raises(again.edit_scene(video.id, scene.id, speech="No.")), NotOffered
                )
            assert sandbox.is_offered(Feature.SCENE_EDITS)
            edited = await sandbox.edit_scene(video.id, scene.id, speech="Said by the test key.")
            assert edited.scenes[0].speech == "Said by the test key."

            # Regenerate and approve remain: the draft still becomes a video.
            again_video = await sp.regenerate(video.id, "Also say roots are deep.", current=video)
            assert again_video.status in ("pending", "scripting")
            ready = await sp.wait_for_video(video.id, timing=QUICK, timeout=60)
            await sp.approve(ready.id)
            assert (await finish(sp, ready.id)).status == "completed"

            # Forgetting (the server settings changed) asks the server again.
            forget_not_offered(sketch.url)
            assert sp.is_offered(Feature.SCENE_EDITS) and (await sp.account()).from_endpoint
            await sp.delete_video(drafts[1].id)

    asyncio.run(main())
