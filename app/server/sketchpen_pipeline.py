"""Sketchpen's workers: they move videos through their stages with `drafting.py`.

pending → scripting → refining (waits for the user) ; approve → visualising → narrating →
curating → rendering → completed; any working stage may end in failed (spec §6).

A few worker threads (`ServiceConfig.sketchpen_workers`) take the oldest video in a working
status that no worker holds. Each stage lasts at least `sketchpen_stage_seconds`, waits while its
status is in `sketchpen_hold`, and fails when named in `sketchpen_fail_stages` (or, for
`visualising`, for the scene indexes in `sketchpen_fail_images`). Every transition is conditional
on the video's generation (`SketchStore.advance`), so a delete or regenerate during a stage
simply makes the worker drop its result.

Qt is prepared on the main thread by `serve`/`ServiceThread` (`jobs.prepare_rendering`, the same
machinery as the PhantomFlow render slots); the workers only paint into QImages and call the
render engine, as the render slots do.

Restart reconciliation (documented in the README): videos do not resume across processes.
When the service stops, and again when it starts (after a crash), every video left in pending …
rendering is marked `failed` with `error.stage` = the status it was in and the message "The
service stopped while <stage>"; credits follow the failure rule (one back per charged scene
without an image, so a video stopped mid-visualising gets the undrawn scenes back). Videos with
scenes are retried with approve (only the scenes still without images are charged), videos
without scenes with regenerate. `video.failed` callbacks fire for each.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from app.server import drafting
from app.server.config import ServiceConfig
from app.server.sketchpen_store import Delivery, Ended, SketchStore, Video

log = logging.getLogger(__name__)

INTERRUPTED = "The service stopped while processing this video"
SIGNATURE_HEADER = "X-Sketchpen-Signature"
#: Render workers run below the request handlers' priority (as PhantomFlow renders do).
RENDER_NICENESS = 10


class StageFailed(Exception):
    """A stage could not produce its result; the message is the video's `error.message`."""


class Abandoned(Exception):
    """The video changed under the worker (deleted, regenerated) or the service is stopping."""


class CallbackSender:
    """Signed POSTs to the account's active registrations for the event (spec §11).

    The deliveries are written to `sketchpen_deliveries` (exact body bytes and signature) by the
    store in the same transaction that moves the video to `completed` or `failed`, so no ended
    video loses its callbacks to a crash. This sender sends each pending row on its own thread;
    a failed attempt (no 2xx, or no answer within `webhook_timeout`) is retried after the
    configured delays (1, 2, 4, 8, 16 s), same bytes each time, and each attempt is recorded.
    Deliveries still pending when the service stops are resumed on the next start, after the
    delay their attempt count calls for. A delivery whose registration was deleted (or
    deactivated) meanwhile is dropped, not sent. An attempt in flight at the moment the process
    dies may be sent again after the restart: receivers de-duplicate on (`video_id`, `event`),
    as §11 asks.
    """

    def __init__(self, store: SketchStore, config: ServiceConfig) -> None:
        self.store = store
        self.config = config
        self._stop = threading.Event()
        self._threads: set[threading.Thread] = set()
        self._spawned: set[int] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Resume the deliveries a previous process left pending."""
        self.send_pending()

    def video_ended(self, video: Video) -> None:
        """Send the deliveries the store queued when `video` completed or failed."""
        self.send_pending(video.id)

    def send_pending(self, video_id: str | None = None) -> None:
        """Start a sender for each pending delivery (of one video, or all) not yet started."""
        for delivery in self.store.deliveries(state="pending", video_id=video_id):
            self._spawn(delivery)

    def _spawn(self, delivery: Delivery) -> None:
        thread = threading.Thread(
            target=self._deliver,
            args=(delivery,),
            name=f"sketchpen-callback-{delivery.id}",
            daemon=True,
        )
        with self._lock:
            if self._stop.is_set() or delivery.id in self._spawned:
                return  # stopping: stays pending, the next start sends it
            self._spawned.add(delivery.id)
            self._threads.add(thread)
        thread.start()

    def _deliver(self, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: delivery.signature,
            "User-Agent": "reelsmith-local-service",
        }
        delays = self.config.webhook_delays
        attempt = delivery.attempts
        try:
            with httpx.Client(timeout=self.config.webhook_timeout, follow_redirects=False) as c:
                while attempt <= len(delays):
                    if attempt and self._stop.wait(delays[attempt - 1]):
                        return
                    if self._stop.is_set():
                        return
                    if not self.store.callback_active(delivery.callback_id):
                        self.store.drop_delivery(delivery.id, "The registration was deleted")
                        return
                    attempt += 1
                    status: int | None = None
                    error: str | None = None
                    try:
                        answer = c.post(delivery.url, content=delivery.body, headers=headers)
                        status = answer.status_code
                    except httpx.HTTPError as exc:
                        error = f"{type(exc).__name__}: {exc}"[:500]
                        log.info("callback to %s failed: %s", delivery.url, exc)
                    if status is not None and 200 <= status < 300:
                        self.store.record_attempt(
                            delivery.id, state="delivered", status=status, error=None
                        )
                        return
                    self.store.record_attempt(
                        delivery.id,
                        state="failed" if attempt > len(delays) else "pending",
                        status=status,
                        error=error or f"HTTP {status}",
                    )
        except Exception:
            log.exception("callback delivery %s to %s crashed", delivery.id, delivery.url)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)


class DraftRunner:
    """The worker threads; `wake()` after create, approve and regenerate."""

    def __init__(self, store: SketchStore, config: ServiceConfig) -> None:
        self.store = store
        self.config = config
        self.callbacks = CallbackSender(store, config)
        self._stop = threading.Event()
        self._wakeup = threading.Condition()
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._threads: list[threading.Thread] = []

    def video_dir(self, video_id: str) -> Path:
        return self.config.sketchpen_dir / "videos" / video_id

    def start(self) -> list[Ended]:
        self.callbacks.start()  # before reconciling, whose own deliveries are sent at once
        reconciled = self._reconcile()
        for index in range(max(1, self.config.sketchpen_workers)):
            thread = threading.Thread(target=self._work, name=f"sketchpen-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return reconciled

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout)
        self._reconcile()
        self.callbacks.stop()

    def _reconcile(self) -> list[Ended]:
        ended = self.store.fail_working("The service stopped while processing this video")
        for item in ended:
            self.callbacks.video_ended(item.video)
        return ended

    def wake(self) -> None:
        with self._wakeup:
            self._wakeup.notify_all()

    def remove_media(self, video_id: str) -> None:
        """Delete a video's files (DELETE); a worker still busy with it drops its results."""
        shutil.rmtree(self.video_dir(video_id), ignore_errors=True)

    # -- the loop -------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            video = self._claim()
            if video is None:
                with self._wakeup:  # create/approve/regenerate wake the workers at once
                    self._wakeup.wait(0.5)
                continue
            try:
                self._drive(video)
            except Abandoned:
                pass
            except Exception:
                log.exception("sketchpen video %s: unexpected worker failure", video.id)
                with contextlib.suppress(Exception):
                    self._failed(video, video.status, "Unexpected server error")
            finally:
                with self._lock:
                    self._held.discard(video.id)

    def _claim(self) -> Video | None:
        with self._lock:
            try:
                waiting = self.store.claimable(self._held, set(self.config.sketchpen_hold))
            except Exception:
                log.exception("cannot read the Sketchpen queue")
                return None
            if not waiting:
                return None
            self._held.add(waiting[0].id)
            return waiting[0]

    def _current(self, video: Video) -> Video:
        """The video as stored now, if it is still this worker's; else Abandoned."""
        if self._stop.is_set():
            raise Abandoned(video.id)
        now = self.store.get_video(video.id)
        if now is None or now.generation != video.generation or now.status != video.status:
            raise Abandoned(video.id)
        return now

    def _linger(self, video: Video, started: float) -> Video:
        """Let the stage last its configured time, and wait while its status is held."""
        while True:
            left = started + self.config.sketchpen_stage_seconds - time.monotonic()
            if left <= 0 and video.status not in self.config.sketchpen_hold:
                return self._current(video)
            if self._stop.wait(min(0.05, left) if left > 0 else 0.05):
                raise Abandoned(video.id)
            self._current(video)

    def _advance(self, video: Video, status: str, **fields: Any) -> Video:
        moved = self.store.advance(video, status, **fields)
        if moved is None:
            raise Abandoned(video.id)
        return moved

    def _failed(self, video: Video, stage: str, message: str) -> None:
        ended = self.store.fail(video, stage, message)
        if ended is not None:
            self.callbacks.video_ended(ended.video)

    def _drive(self, video: Video) -> None:
        stages = {
            "pending": self._pending,
            "scripting": self._scripting,
            "visualising": self._visualising,
            "narrating": self._narrating,
            "curating": self._curating,
            "rendering": self._rendering,
        }
        current: Video | None = video
        while current is not None and current.status in stages:
            started = time.monotonic()
            if current.status != "pending":
                current = self._linger(current, started)
                if current.status in self.config.sketchpen_fail_stages:
                    self._failed(current, current.status, f"{current.status} failed (fault switch)")
                    return
            working = current
            try:
                current = stages[working.status](working)
            except StageFailed as exc:
                self._failed(working, working.status, str(exc))
                return
            except Abandoned:
                raise
            except Exception:
                log.exception("sketchpen video %s: %s crashed", working.id, working.status)
                self._failed(working, working.status, f"Unexpected error while {working.status}")
                return

    # -- stages ---------------------------------------------------------------------------------

    def _pending(self, video: Video) -> Video:
        return self._advance(video, "scripting")

    def _scripting(self, video: Video) -> Video | None:
        import uuid

        drafted = drafting.write_script(video.prompt, video.feedback)
        names = {a.name.lower(): a.id for a in self.store.linked_assets(video.id)}
        scenes = []
        for speech, visual in drafted:
            text = f"{speech} {visual}".lower()
            scenes.append(
                {
                    "id": str(uuid.uuid4()),
                    "speech": speech,
                    "visual_description": visual,
                    "image": None,
                    "assets": [aid for name, aid in names.items() if name and name in text],
                    "captions": [],
                }
            )
        self._advance(video, "refining", scenes=scenes)
        return None

    def _visualising(self, video: Video) -> Video:
        theme = drafting.THEMES.get(video.theme, drafting.THEMES["presentation"])
        size = drafting.frame_size(video.config["aspect_ratio"], self.config.sketchpen_short_side)
        folder = self.video_dir(video.id)
        asset_files = {
            a.id: self.config.sketchpen_dir / "assets" / a.id / a.image_file
            for a in self.store.linked_assets(video.id)
            if a.image_file
        }
        failed: list[int] = []
        for index, scene in enumerate(video.scenes):
            if scene.get("image"):
                continue
            video = self._current(video)
            if index in self.config.sketchpen_fail_images:
                failed.append(index)
                continue
            name = f"scene-{scene['id']}.png"
            try:
                drafting.draw_card(
                    folder / name,
                    visual_description=scene["visual_description"],
                    index=index,
                    size=size,
                    theme=theme,
                    bg_mode=video.config["bg_mode"],
                    seed=scene["id"],
                    asset_images=[
                        asset_files[a] for a in scene.get("assets", []) if a in asset_files
                    ],
                )
            except Exception as exc:
                log.warning("video %s scene %d: card failed: %s", video.id, index, exc)
                failed.append(index)
                continue
            scenes = [dict(s) for s in video.scenes]
            scenes[index]["image"] = name
            updated = self.store.update_fields(video, scenes=scenes)
            if updated is None:
                raise Abandoned(video.id)
            video = updated
        if failed:
            shown = ", ".join(str(i + 1) for i in failed)
            raise StageFailed(f"Image generation failed for scene {shown}")
        return self._advance(video, "narrating")

    def _narrating(self, video: Video) -> Video:
        scenes = [dict(s) for s in video.scenes]
        timings = [drafting.narrate(s["speech"]) for s in scenes]
        for scene, timing in zip(scenes, timings, strict=True):
            scene["captions"] = timing.captions
        audio_file = None
        mode = video.config["audio_mode"]
        if mode != "none":
            pitches = self._pitches(video, len(scenes))
            try:
                drafting.write_tone_bed(
                    self.video_dir(video.id) / "audio.wav",
                    [(t.duration, t.captions, p) for t, p in zip(timings, pitches, strict=True)],
                )
            except OSError as exc:
                raise StageFailed(f"Audio generation failed: {exc}") from exc
            audio_file = "audio.wav"
        return self._advance(video, "curating", scenes=scenes, audio_file=audio_file)

    def _pitches(self, video: Video, count: int) -> list[float]:
        default = drafting.VOICES.get(
            video.config.get("voice_id") or drafting.DEFAULT_VOICE,
            drafting.VOICES[drafting.DEFAULT_VOICE],
        ).pitch
        if video.config["audio_mode"] != "multi_voice" or not video.config.get("speaker_ids"):
            return [default] * count
        speakers = []
        for asset_id in video.config["speaker_ids"]:
            asset = self.store.get_asset(video.account_id, asset_id)
            voice = drafting.VOICES.get(asset.voice_id or "") if asset else None
            speakers.append(voice.pitch if voice else default)
        return [speakers[i % len(speakers)] for i in range(count)]

    def _curating(self, video: Video) -> Video:
        folder = self.video_dir(video.id)
        cards = [folder / scene["image"] for scene in video.scenes]
        missing = [str(i + 1) for i, card in enumerate(cards) if not card.is_file()]
        if missing:
            raise StageFailed(f"Illustration missing for scene {', '.join(missing)}")
        durations = [drafting.narrate(s["speech"]).duration for s in video.scenes]
        movie = drafting.build_movie(
            scenes=video.scenes,
            cards=cards,
            durations=durations,
            audio=folder / video.audio_file if video.audio_file else None,
            size=drafting.frame_size(
                video.config["aspect_ratio"], self.config.sketchpen_short_side
            ),
            fps=video.config["fps"],
            theme=drafting.THEMES.get(video.theme, drafting.THEMES["presentation"]),
            bg_mode=video.config["bg_mode"],
        )
        (folder / "movie.json").write_text(json.dumps(movie, indent=2), encoding="utf-8")
        return self._advance(video, "rendering")

    def _rendering(self, video: Video) -> Video | None:
        from app.render.compositor import RenderError
        from app.render.engine import RenderCancelled, render_movie
        from app.script.model import Movie

        folder = self.video_dir(video.id)
        try:
            movie = Movie.model_validate(json.loads((folder / "movie.json").read_text("utf-8")))
        except (OSError, ValueError) as exc:
            raise StageFailed(f"The assembled movie cannot be read: {exc}") from exc
        cancel = threading.Event()
        watcher = threading.Thread(
            target=self._watch, args=(video, cancel), name=f"watch-{video.id}", daemon=True
        )
        watcher.start()
        try:
            render_movie(
                movie,
                folder / "video.mp4",
                jobs=self.config.render_processes,
                cancel=cancel,
                niceness=RENDER_NICENESS,
            )
            drafting.write_thumbnail(folder / video.scenes[0]["image"], folder / "thumb.jpg")
        except RenderCancelled as exc:
            raise Abandoned(video.id) from exc
        except (RenderError, OSError) as exc:
            raise StageFailed(f"Rendering failed: {exc}") from exc
        finally:
            cancel.set()
            watcher.join()
        approved = video.approved_ts or time.time()
        done = self.store.advance(
            video,
            "completed",
            video_file="video.mp4",
            thumbnail_file="thumb.jpg",
            processing_time_sec=round(time.time() - approved, 3),
        )
        if done is None:
            raise Abandoned(video.id)
        self.callbacks.video_ended(done)
        return None

    def _watch(self, video: Video, cancel: threading.Event) -> None:
        """Cancel the render when the service stops or the video is deleted."""
        while not cancel.wait(0.1):
            if self._stop.is_set():
                cancel.set()
                return
            with contextlib.suppress(Exception):
                now = self.store.get_video(video.id)
                if now is None or now.generation != video.generation:
                    cancel.set()
                    return
