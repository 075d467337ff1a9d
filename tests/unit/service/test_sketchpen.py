"""The Sketchpen client's own logic: parsing every answer shape, the retry and resend rules of
§12, degradation, slot parking and the polling pace.

httpx.MockTransport stands in for the server to pin exact answers (a lost approve, a 500 after
a regenerate landed); the same behaviour against the real local service is in
tests/integration/service/test_sketchpen_client.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.service.errors import Action, ApiError, Category, NotOffered
from app.service.retry import RetryPolicy, WaitNotice, WaitReason
from app.service.sketchpen import (
    CreationUncertain,
    Feature,
    PollTiming,
    SceneDraft,
    SketchpenClient,
    StatusChange,
    Video,
    VideoStateError,
    api_base,
    forget_not_offered,
    parse_time,
    parse_webhook,
    skipped_between,
    verify_webhook,
    webhook_signature,
)

ROOT = "http://127.0.0.1:48299"
BASE = ROOT + "/api/v1"
KEY = "sk_live_0123456789abcdef0123456789abcdef"
VID = "3f1c9a7e-0000-4000-8000-00000000abcd"
Handler = Callable[[httpx.Request], httpx.Response]


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Clock:
    """A clock that the recorded sleeps move forward."""

    def __init__(self, sleeps: Sleeps) -> None:
        self.sleeps = sleeps

    def __call__(self) -> float:
        return sum(self.sleeps.calls)


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    forget_not_offered()
    yield
    forget_not_offered()


def client_for(
    handler: Handler,
    *,
    sleeps: Sleeps | None = None,
    on_wait: Callable[[WaitNotice], None] | None = None,
    clock: bool = False,
) -> SketchpenClient:
    sleeps = sleeps or Sleeps()
    return SketchpenClient(
        ROOT,
        KEY,
        transport=httpx.MockTransport(handler),
        sleep=sleeps,
        on_wait=on_wait,
        clock=Clock(sleeps) if clock else __import__("time").monotonic,
    )


def run(coro: Callable[[], Any]) -> Any:
    return asyncio.run(coro())


def video_json(status: str = "refining", **extra: Any) -> dict[str, Any]:
    video: dict[str, Any] = {
        "id": VID,
        "status": status,
        "prompt": "How photosynthesis works, for 10th graders",
        "theme": "presentation",
        "scenes": [
            {
                "id": "a9e2",
                "speech": "Plants make food from light.",
                "visual_description": "A leaf under sun rays",
                "image_url": None,
                "assets": [],
                "captions": [],
            }
        ],
        "video_url": None,
        "audio_url": None,
        "thumbnail_url": None,
        "processing_time_sec": None,
        "config": {"fps": 24, "aspect_ratio": "16:9"},
        "created_at": "2025-05-04T09:00:00Z",
        "updated_at": "2025-05-04T09:00:21Z",
        "error": None,
        "credits_charged": 0,
    }
    video.update(extra)
    return video


def envelope(status: int, code: str, message: str = "m", **extra: Any) -> httpx.Response:
    error = {"code": code, "message": message, "request_id": "5d3e-req", **extra}
    return httpx.Response(status, json={"error": error})


async def raises(call: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call
    return caught.value


# -- objects -----------------------------------------------------------------------------------


def test_the_contract_example_video_parses_and_unknown_fields_are_ignored() -> None:
    data = video_json(novel_field={"x": 1})
    data["scenes"][0]["captions"] = [{"word": "Plants", "start": 0.3, "end": 0.7, "conf": 0.9}]
    video = Video.model_validate(data)
    assert video.status == "refining" and video.in_progress and video.scenes_editable
    assert video.scenes[0].captions[0].word == "Plants"
    assert video.config.fps == 24 and video.config.asset_ids == []
    assert video.as_dict()["scenes"][0]["captions"][0] == {
        "word": "Plants",
        "start": 0.3,
        "end": 0.7,
    }


def test_hosted_nulls_read_as_empty() -> None:
    data = video_json(scenes=None, config=None)
    assert Video.model_validate(data).scenes == []
    data = video_json()
    data["scenes"][0].pop("assets")
    data["scenes"][0]["captions"] = None
    scene = Video.model_validate(data).scenes[0]
    assert scene.assets == [] and scene.captions == []


@pytest.mark.parametrize(
    ("status", "scenes", "first"),
    [
        ("completed", True, Action.SUBMIT_AS_NEW),
        ("failed", True, Action.RETRY),
        ("failed", False, Action.REGENERATE_SCRIPT),
        ("refining", True, Action.APPROVE_OR_DELETE_DRAFT),
        ("rendering", True, Action.WAIT_AND_RETRY),
        ("scripting", False, Action.WAIT_AND_RETRY),
    ],
)
def test_recovery_fits_the_state(status: str, scenes: bool, first: Action) -> None:
    data = video_json(status)
    if not scenes:
        data["scenes"] = []
    video = Video.model_validate(data)
    assert video.recovery_actions()[0] is first
    assert video.recovery_actions()[-1] is Action.COPY_DETAILS


def test_failed_video_is_a_render_error_with_the_servers_message() -> None:
    video = Video.model_validate(
        video_json("failed", error={"stage": "narrating", "message": "Audio generation error"})
    )
    error = video.error_value()
    assert error is not None
    assert (error.code, error.category, error.message) == (
        "VIDEO_FAILED",
        Category.RENDER,
        "Audio generation error",
    )
    assert error.actions[0] is Action.RETRY and error.job_id == VID
    bare = Video.model_validate(video_json("failed", scenes=[], error=None)).error_value()
    assert bare is not None and bare.actions[0] is Action.REGENERATE_SCRIPT
    assert Video.model_validate(video_json("completed")).error_value() is None


def test_api_base_appends_the_prefix_to_a_bare_origin_only() -> None:
    assert api_base("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/api/v1"
    assert api_base("https://api.sketchpen.app/api/v1") == "https://api.sketchpen.app/api/v1"


def test_skipped_statuses_are_reported_for_forward_jumps_only() -> None:
    assert skipped_between("visualising", "curating") == ("narrating",)
    assert skipped_between("refining", "completed") == (
        "visualising",
        "narrating",
        "curating",
        "rendering",
    )
    assert skipped_between("refining", "scripting") == ()  # regenerate goes back
    assert skipped_between(None, "rendering") == ()
    assert skipped_between("rendering", "failed") == ()


# -- errors ------------------------------------------------------------------------------------


def test_validation_details_become_paths() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return envelope(
            422,
            "VALIDATION_ERROR",
            "Invalid request body",
            details=[
                {"loc": ["body", "prompt"], "msg": "Field required"},
                {"loc": ["body", 3, "id"], "msg": "Unknown scene id", "type": "unknown_id"},
            ],
        )

    async def main() -> None:
        async with client_for(handler) as client:
            error = await raises(client.create_video(""))
            assert (error.code, error.category) == ("VALIDATION_ERROR", Category.FIX_SCRIPT)
            assert error.paths == ("prompt", "3.id")
            assert error.request_id == "5d3e-req" and error.attempts == 1
            assert error.details[1].type == "unknown_id"

    run(main)


def test_invalid_state_carries_the_re_read_state_and_its_recovery() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=video_json("completed"))
        return envelope(409, "INVALID_STATE", "Cannot approve a completed video")

    async def main() -> None:
        async with client_for(handler) as client:
            error = await raises(client.approve(VID))
            assert isinstance(error, VideoStateError)
            assert (error.state, error.category) == ("completed", Category.STATE)
            assert error.actions[0] is Action.SUBMIT_AS_NEW
            assert error.message == "Cannot approve a completed video"
            assert error.request_id == "5d3e-req"

    run(main)


def test_invalid_state_without_a_readable_video_stays_the_plain_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return envelope(404, "NOT_FOUND", "Video not found")
        return envelope(409, "INVALID_STATE")

    async def main() -> None:
        async with client_for(handler) as client:
            error = await raises(client.edit_scene(VID, "a9e2", speech="x"))
            assert not isinstance(error, VideoStateError)
            assert (error.code, error.category) == ("INVALID_STATE", Category.STATE)

    run(main)


def test_max_concurrent_videos_is_a_wait_not_a_rate_limit() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return envelope(429, "MAX_CONCURRENT_VIDEOS", "You have 3 videos processing.")

    sleeps = Sleeps()

    async def main() -> None:
        async with client_for(handler, sleeps=sleeps) as client:
            error = await raises(client.create_video("p"))
            assert error.category is Category.WAIT and error.is_concurrency_limit
            assert not error.is_rate_limit
            assert error.actions[:2] == (Action.QUEUE_FOR_SLOT, Action.APPROVE_OR_DELETE_DRAFT)

    run(main)
    assert sleeps.calls == []  # surfaced at once (no wait_for_slot)


def test_string_bodied_429_is_waited_out_by_its_retry_after() -> None:
    answers = [
        httpx.Response(
            429,
            json={"error": "Rate limit exceeded: 60 per 1 minute"},
            headers={"Retry-After": "23"},
        ),
        httpx.Response(200, json=video_json()),
    ]
    notices: list[WaitNotice] = []
    sleeps = Sleeps()

    async def main() -> None:
        async with client_for(lambda r: answers.pop(0), sleeps=sleeps, on_wait=notices.append) as c:
            video = await c.get_video(VID)
            assert video.id == VID
            assert c.rate_limited_answers == 1

    run(main)
    assert sleeps.calls == [23.0]
    assert notices[0].reason is WaitReason.RATE_LIMIT
    assert notices[0].error.code == "RATE_LIMITED" and notices[0].error.rate_window == 60.0


@pytest.mark.parametrize("retry_after", ["7", "http-date"])
def test_an_enveloped_rate_limited_is_waited_out_too(retry_after: str) -> None:
    """§9: the code table's RATE_LIMITED (enveloped) is a rate limit like the string body;
    Retry-After may be seconds or an HTTP-date."""
    import email.utils
    import time

    header = retry_after
    if retry_after == "http-date":
        header = email.utils.formatdate(time.time() + 8, usegmt=True)
    answers = [
        httpx.Response(
            429,
            json={"error": {"code": "RATE_LIMITED", "message": "Slow down", "request_id": "r1"}},
            headers={"Retry-After": header},
        ),
        httpx.Response(200, json=video_json()),
    ]
    sleeps = Sleeps()
    notices: list[WaitNotice] = []

    async def main() -> None:
        async with client_for(lambda r: answers.pop(0), sleeps=sleeps, on_wait=notices.append) as c:
            assert (await c.get_video(VID)).id == VID
            assert c.rate_limited_answers == 1

    run(main)
    assert len(sleeps.calls) == 1 and 5.0 <= sleeps.calls[0] <= 8.0
    error = notices[0].error
    assert notices[0].reason is WaitReason.RATE_LIMIT and error.enveloped
    assert (error.code, error.request_id, error.is_concurrency_limit) == (
        "RATE_LIMITED",
        "r1",
        False,
    )


@pytest.mark.parametrize(("status", "shorter"), [("refining", True), ("failed", False)])
def test_insufficient_credits_on_approve_offers_fewer_scenes_only_for_a_draft(
    status: str, shorter: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return envelope(402, "INSUFFICIENT_CREDITS", "Required: 5, Available: 2")
        return httpx.Response(200, json=video_json(status))

    async def main() -> None:
        async with client_for(handler) as client:
            error = await raises(client.approve(VID))
            assert (error.required, error.balance) == (5, 2)
            assert (Action.SHORTEN_VIDEO in error.actions) is shorter
            assert error.actions[0] is Action.OPEN_BILLING
            assert error.actions[-1] is Action.COPY_DETAILS

    run(main)


def test_string_bodied_429_without_retry_after_waits_its_window_when_short() -> None:
    answers = [
        httpx.Response(429, json={"error": "Rate limit exceeded: 5 per 30 seconds"}),
        httpx.Response(200, json=[]),
    ]
    sleeps = Sleeps()

    async def main() -> None:
        async with client_for(lambda r: answers.pop(0), sleeps=sleeps) as client:
            assert await client.list_videos() == []

    run(main)
    assert sleeps.calls == [30.0]


@pytest.mark.parametrize(
    ("headers", "retry_after"), [({}, None), ({"Retry-After": "3600"}, 3600.0)]
)
def test_a_rate_limit_longer_than_a_minute_is_handed_to_the_user(
    headers: dict[str, str], retry_after: float | None
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, json={"error": "Rate limit exceeded: 10 per 1 day"}, headers=headers
        )

    sleeps = Sleeps()

    async def main() -> None:
        async with client_for(handler, sleeps=sleeps) as client:
            error = await raises(client.create_video("p"))
            assert (error.code, error.category) == ("RATE_LIMITED", Category.WAIT)
            assert error.message == "Rate limit exceeded: 10 per 1 day"
            assert error.rate_window == 86400.0 and error.retry_after == retry_after

    run(main)
    assert sleeps.calls == []


def test_the_key_never_appears_in_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"code": "INVALID_TOKEN", "message": KEY}})

    async def main() -> None:
        async with client_for(handler) as client:
            error = await raises(client.get_video(VID))
            assert KEY not in error.message + error.raw + error.details_text()
            assert KEY not in repr(client)
            assert error.category is Category.CREDENTIALS

    run(main)


# -- what gets resent --------------------------------------------------------------------------


def test_reads_and_scene_edits_back_off_through_server_errors() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if len(seen) < 3:
            return envelope(500, "DATABASE_ERROR")
        return httpx.Response(200, json=video_json())

    sleeps = Sleeps()

    async def main() -> None:
        async with client_for(handler, sleeps=sleeps) as client:
            await client.replace_scenes(VID, [SceneDraft("Hello.", "A wave")])

    run(main)
    assert seen == ["PUT", "PUT", "PUT"]
    assert 0.5 <= sleeps.calls[0] <= 1.0 and 1.0 <= sleeps.calls[1] <= 2.0


def test_create_is_not_resent_after_an_ambiguous_failure_and_lists_candidates() -> None:
    posts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        if request.method == "POST":
            posts += 1
            return envelope(500, "INTERNAL_ERROR")
        assert request.url.params["limit"] == "10"
        now = "2099-01-01T00:00:00Z"
        return httpx.Response(
            200,
            json=[
                video_json("scripting", id="mine", prompt="My prompt", created_at=now),
                video_json("scripting", id="other", prompt="Other", created_at=now),
                video_json(
                    "completed", id="old", prompt="My prompt", created_at="2001-01-01T00:00:00Z"
                ),
            ],
        )

    async def main() -> None:
        async with client_for(handler) as client:
            error = await raises(client.create_video("My prompt"))
            assert isinstance(error, CreationUncertain)
            assert [v.id for v in error.candidates] == ["mine"]
            assert not error.lookup_failed and error.category is Category.TRANSIENT

    run(main)
    assert posts == 1


def test_create_that_never_reached_the_server_is_resent() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(201, json=video_json("scripting", scenes=[]))

    async def main() -> None:
        async with client_for(handler) as client:
            video = await client.create_video("p", aspect_ratio="9:16", fps=30)
            assert video.status == "scripting"

    run(main)
    assert calls == 2


def test_create_sends_only_the_settings_given() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        assert request.headers["x-api-key"] == KEY
        return httpx.Response(201, json=video_json("scripting", scenes=[]))

    async def main() -> None:
        async with client_for(handler) as client:
            await client.create_video("p", theme="presentation", asset_ids=["a"], speaker_ids=[])

    run(main)
    assert bodies == [
        {"prompt": "p", "theme": "presentation", "asset_ids": ["a"], "speaker_ids": []}
    ]


def test_approve_resent_after_a_lost_answer_counts_invalid_state_as_landed() -> None:
    log: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        log.append(request.method)
        if request.method == "POST" and log.count("POST") == 1:
            raise httpx.ReadTimeout("lost", request=request)
        if request.method == "POST":
            return envelope(409, "INVALID_STATE", "Cannot approve a visualising video")
        return httpx.Response(200, json=video_json("visualising", credits_charged=1))

    async def main() -> None:
        async with client_for(handler) as client:
            video = await client.approve(VID)
            assert video.status == "visualising"

    run(main)
    assert log == ["POST", "POST", "GET"]


def test_regenerate_is_not_resent_when_the_first_call_landed() -> None:
    log: list[str] = []
    before = video_json("refining")

    def handler(request: httpx.Request) -> httpx.Response:
        log.append(request.method)
        if request.method == "POST":
            assert json.loads(request.content) == {"feedback": "Make it shorter"}
            return envelope(500, "INTERNAL_ERROR")
        return httpx.Response(200, json=video_json("scripting", scenes=[], updated_at="later"))

    async def main() -> None:
        async with client_for(handler) as client:
            video = await client.regenerate(
                VID, "Make it shorter", current=Video.model_validate(before)
            )
            assert video.status == "scripting"

    run(main)
    assert log == ["POST", "GET"]


def test_regenerate_is_resent_when_the_video_is_unchanged() -> None:
    log: list[str] = []
    posts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        log.append(request.method)
        if request.method == "POST":
            posts += 1
            if posts == 1:
                return envelope(500, "INTERNAL_ERROR")
            return httpx.Response(200, json=video_json("scripting", scenes=[]))
        return httpx.Response(200, json=video_json("refining"))

    async def main() -> None:
        async with client_for(handler) as client:
            video = await client.regenerate(VID)
            assert video.status == "scripting"

    run(main)
    assert log == ["GET", "POST", "GET", "POST"]  # read first, since no `current` was given


def test_regenerate_landed_and_finished_is_recognised_by_its_new_script() -> None:
    log: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        log.append(request.method)
        if request.method == "POST":
            raise httpx.ReadTimeout("lost", request=request)
        fresh = video_json("refining", updated_at="later")
        fresh["scenes"][0]["id"] = "new-scene"
        return httpx.Response(200, json=fresh)

    async def main() -> None:
        async with client_for(handler) as client:
            video = await client.regenerate(VID, current=Video.model_validate(video_json()))
            assert video.scenes[0].id == "new-scene"

    run(main)
    assert log == ["POST", "GET"]


def test_regenerate_is_not_resent_when_someone_else_changed_the_video() -> None:
    log: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        log.append(request.method)
        if request.method == "POST":
            return envelope(500, "INTERNAL_ERROR")
        edited = video_json("refining", updated_at="edited elsewhere")
        edited["scenes"][0]["speech"] = "Changed by another window."
        return httpx.Response(200, json=edited)

    async def main() -> None:
        async with client_for(handler) as client:
            error = await raises(client.regenerate(VID, current=Video.model_validate(video_json())))
            assert error.code == "INTERNAL_ERROR" and error.category is Category.TRANSIENT

    run(main)
    assert log == ["POST", "GET"]


def test_delete_retried_after_a_lost_answer_takes_404_as_done() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ReadTimeout("lost", request=request)
        return envelope(404, "NOT_FOUND", "Video not found")

    async def main() -> None:
        async with client_for(handler) as client:
            await client.delete_video(VID)

    run(main)
    assert calls == 2


# -- degradation -------------------------------------------------------------------------------


def test_scene_edits_not_offered_are_remembered_and_refused_locally() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(405, json={"detail": "Method Not Allowed"})

    async def main() -> None:
        async with client_for(handler) as client:
            error = await raises(client.edit_scene(VID, "a9e2", speech="New"))
            assert isinstance(error, NotOffered) and error.category is Category.NOT_OFFERED
            assert not client.is_offered(Feature.SCENE_EDITS)
            error = await raises(client.replace_scenes(VID, []))
            assert isinstance(error, NotOffered)

    run(main)
    assert calls == ["PATCH"]


def test_an_enveloped_404_is_not_found_not_a_missing_feature() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return envelope(404, "NOT_FOUND", "Video not found")

    async def main() -> None:
        async with client_for(handler) as client:
            error = await raises(client.edit_scene(VID, "nope", speech="x"))
            assert not isinstance(error, NotOffered) and error.code == "NOT_FOUND"
            assert client.is_offered(Feature.SCENE_EDITS)

    run(main)


def test_account_without_the_endpoint_falls_back_to_what_is_known() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "Not Found"})

    async def main() -> None:
        async with client_for(handler) as client:
            account = await client.account()
            assert not account.from_endpoint and account.credits_balance is None
            assert account.key_mode == "live"

    run(main)


def test_account_feeds_the_account_bar() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"credits_balance": 37, "concurrency": {"limit": 3, "active": 2}, "key_mode": "live"}
        return httpx.Response(200, json=body)

    async def main() -> None:
        async with client_for(handler) as client:
            account = await client.account()
            assert account.credits_balance == 37 and account.concurrency is not None
            assert account.concurrency.has_free_slot is True
            snap = client.account_state.snapshot
            assert (snap.credits_balance, snap.concurrency_active) == (37, 2)

    run(main)


def test_list_filters_by_status_even_when_the_server_ignores_the_parameter() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["status"] == "completed,failed"
        return httpx.Response(
            200,
            json=[video_json("refining"), video_json("completed"), video_json("failed")],
        )

    async def main() -> None:
        async with client_for(handler) as client:
            videos = await client.list_videos(["completed", "failed"], limit=1)
            assert [v.status for v in videos] == ["completed"]
            # The contract's comma form given as one string means the same two statuses.
            videos = await client.list_videos("failed, completed")
            assert [v.status for v in videos] == ["completed", "failed"]

    run(main)


# -- slots -------------------------------------------------------------------------------------


def test_a_parked_create_waits_for_a_free_slot_then_is_sent_again() -> None:
    log: list[str] = []
    active = [3, 3, 2]

    def handler(request: httpx.Request) -> httpx.Response:
        log.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith("/account"):
            n = active.pop(0)
            return httpx.Response(
                200, json={"credits_balance": 5, "concurrency": {"limit": 3, "active": n}}
            )
        if log.count("POST /api/v1/videos") == 1:
            return envelope(429, "MAX_CONCURRENT_VIDEOS")
        return httpx.Response(201, json=video_json("scripting", scenes=[]))

    sleeps = Sleeps()
    notices: list[WaitNotice] = []

    async def main() -> None:
        async with client_for(handler, sleeps=sleeps, on_wait=notices.append, clock=True) as c:
            video = await c.create_video("p", wait_for_slot=60)
            assert video.status == "scripting"

    run(main)
    assert log == [
        "POST /api/v1/videos",
        "GET /api/v1/account",
        "GET /api/v1/account",
        "GET /api/v1/account",
        "POST /api/v1/videos",
    ]
    assert sleeps.calls == [5.0, 5.0, 5.0]
    assert {n.reason for n in notices} == {WaitReason.SLOT}


def test_a_parked_create_gives_up_at_its_deadline() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/account"):
            return httpx.Response(200, json={"concurrency": {"limit": 3, "active": 3}})
        return envelope(429, "MAX_CONCURRENT_VIDEOS")

    sleeps = Sleeps()

    async def main() -> None:
        async with client_for(handler, sleeps=sleeps, clock=True) as client:
            error = await raises(client.create_video("p", wait_for_slot=12))
            assert error.code == "MAX_CONCURRENT_VIDEOS"

    run(main)
    assert sum(sleeps.calls) == pytest.approx(12)


# -- polling -----------------------------------------------------------------------------------


def test_polling_reports_each_change_with_what_it_skipped_at_the_contracts_pace() -> None:
    statuses = ["pending", "scripting", "scripting", "refining"]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=video_json(statuses.pop(0)))

    changes: list[StatusChange] = []
    sleeps = Sleeps()

    async def main() -> None:
        async with client_for(handler, sleeps=sleeps) as client:
            video = await client.wait_for_video(VID, on_change=changes.append)
            assert video.status == "refining"

    run(main)
    assert [(c.previous, c.video.status) for c in changes] == [
        (None, "pending"),
        ("pending", "scripting"),
        ("scripting", "refining"),
    ]
    assert sleeps.calls == [2.0, 2.0, 2.0]


def test_polling_after_approval_runs_at_five_seconds_and_doubles_after_a_429() -> None:
    answers: list[httpx.Response] = [
        httpx.Response(200, json=video_json("visualising")),
        httpx.Response(
            429,
            json={"error": "Rate limit exceeded: 600 per 1 minute"},
            headers={"Retry-After": "1"},
        ),
        httpx.Response(200, json=video_json("curating")),
        httpx.Response(200, json=video_json("completed")),
    ]
    changes: list[StatusChange] = []
    sleeps = Sleeps()

    async def main() -> None:
        async with client_for(lambda r: answers.pop(0), sleeps=sleeps) as client:
            video = await client.wait_for_video(VID, on_change=changes.append)
            assert video.status == "completed"

    run(main)
    assert sleeps.calls == [5.0, 1.0, 10.0]
    assert changes[1].skipped == ("narrating",)
    assert changes[2].skipped == ("rendering",)


def test_polling_times_out_as_a_wait() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=video_json("rendering"))

    sleeps = Sleeps()

    async def main() -> None:
        async with client_for(handler, sleeps=sleeps, clock=True) as client:
            error = await raises(
                client.wait_for_video(VID, timing=PollTiming(processing=4.0), timeout=10)
            )
            assert (error.code, error.category) == ("VIDEO_WAIT_TIMEOUT", Category.WAIT)

    run(main)
    assert sleeps.calls == [4.0, 4.0, 2.0]


def test_a_failed_video_ends_polling_and_is_returned() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=video_json("failed", error={"stage": "visualising"}))

    async def main() -> None:
        async with client_for(handler) as client:
            video = await client.wait_for_video(VID)
            assert video.status == "failed" and video.error_value() is not None

    run(main)


def test_an_unexpected_answer_is_an_unexpected_response_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"videos": "nope"})

    async def main() -> None:
        async with client_for(handler) as client:
            error = await raises(client.get_video(VID))
            assert error.code == "UNEXPECTED_RESPONSE"
            error = await raises(client.list_videos())
            assert error.code == "UNEXPECTED_RESPONSE"

    run(main)


# -- themes, voices, assets, callbacks, media --------------------------------------------------


def test_themes_and_voices_are_read_without_a_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "x-api-key" not in request.headers
        if request.url.path.endswith("/themes"):
            return httpx.Response(200, json=[{"id": "presentation", "name": "Standard"}])
        voice = {"id": "slate", "name": "Slate", "description": "", "tags": None}
        return httpx.Response(200, json={"voices": [voice]})

    async def main() -> None:
        async with client_for(handler) as client:
            assert [t.id for t in await client.themes()] == ["presentation"]
            voices = await client.voices()
            assert voices[0].id == "slate" and voices[0].tags == []

    run(main)


def test_asset_image_is_uploaded_as_multipart(tmp_path: Path) -> None:
    picture = tmp_path / "hero.jpg"
    picture.write_bytes(b"\xff\xd8jpeg")

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"].startswith("multipart/form-data")
        assert b'name="file"; filename="hero.jpg"' in request.content
        assert b"Content-Type: image/jpeg" in request.content
        return httpx.Response(200, json={"id": "as1", "type": "character", "image_url": "u"})

    async def main() -> None:
        async with client_for(handler) as client:
            asset = await client.upload_asset_image("as1", picture)
            assert asset.image_url == "u"

    run(main)


def test_callback_secrets_are_kept_secret_and_verify_deliveries() -> None:
    secret = "whsec_" + "ab" * 16

    def handler(request: httpx.Request) -> httpx.Response:
        body = {
            "id": "cb1",
            "user_id": "u",
            "url": "http://127.0.0.1:9/hook",
            "event": "video.completed",
            "secret": secret,
            "is_active": True,
            "created_at": "2025-05-04T09:00:00Z",
        }
        return httpx.Response(201, json=body)

    async def main() -> None:
        async with client_for(handler) as client:
            callback = await client.create_callback("http://127.0.0.1:9/hook", "video.completed")
            assert secret not in repr(callback)
            assert callback.secret is not None
            assert callback.secret.get_secret_value() == secret

    run(main)
    body = json.dumps(
        {
            "event": "video.completed",
            "video_id": VID,
            "created_at": 1746351072,
            "data": {"id": VID, "status": "completed", "created_at": "2025-05-04T09:00:00.000000"},
        }
    ).encode()
    signature = webhook_signature(secret, body)
    assert verify_webhook(secret, body, signature)
    assert verify_webhook(secret, body, signature.upper())
    assert not verify_webhook(secret, body + b" ", signature)
    assert not verify_webhook(secret, body, None)
    event = parse_webhook(body)
    assert event.data.status == "completed"
    assert parse_time(event.data.created_at) == parse_time("2025-05-04T09:00:00Z")
    with pytest.raises(ApiError):
        parse_webhook(b"{not json")


def test_media_downloads_go_to_disk_atomically_and_the_key_stays_home(tmp_path: Path) -> None:
    seen: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.headers.get("x-api-key")
        if request.url.host == "cdn.example":
            return httpx.Response(200, stream=httpx.ByteStream(b"png!"))
        return httpx.Response(200, stream=httpx.ByteStream(b"wav!!"))

    video = Video.model_validate(
        video_json(
            "completed",
            audio_url=ROOT + "/files/tok/narration.wav",
            scenes=[
                {"id": "s1", "speech": "Hi.", "image_url": "https://cdn.example/a/card.png?sig=1"}
            ],
        )
    )

    async def main() -> None:
        async with client_for(handler) as client:
            media = await client.download_media(video, tmp_path / "draft")
            assert media == {
                "https://cdn.example/a/card.png?sig=1": str(tmp_path / "draft" / "scene-01.png"),
                ROOT + "/files/tok/narration.wav": str(tmp_path / "draft" / "narration.wav"),
            }

    run(main)
    assert seen == {"cdn.example": None, "127.0.0.1": KEY}
    assert (tmp_path / "draft" / "scene-01.png").read_bytes() == b"png!"
    assert sorted(p.name for p in (tmp_path / "draft").iterdir()) == [
        "narration.wav",
        "scene-01.png",
    ]


def test_a_truncated_download_leaves_no_file(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, stream=httpx.ByteStream(b"abc"), headers={"Content-Length": "10"}
        )

    async def main() -> None:
        async with SketchpenClient(
            ROOT,
            KEY,
            transport=httpx.MockTransport(handler),
            sleep=Sleeps(),
            retry_policy=RetryPolicy(max_tries=2),
        ) as client:
            error = await raises(client.download(ROOT + "/files/t/v.mp4", tmp_path / "v.mp4"))
            assert error.code == "NETWORK_CONNECTION_LOST"

    run(main)
    assert list(tmp_path.iterdir()) == []


def test_network_failures_are_sketchpen_errors_and_reads_back_off() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sleeps = Sleeps()

    async def main() -> None:
        async with client_for(handler, sleeps=sleeps) as client:
            error = await raises(client.get_video(VID))
            assert (error.code, error.vendor) == ("NETWORK_CONNECT_FAILED", "sketchpen")
            assert error.never_reached and error.attempts == 5
            assert error.category is Category.TRANSIENT

    run(main)
    assert len(sleeps.calls) == 4
