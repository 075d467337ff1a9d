"""The job runner: render slots that take queued jobs, render them and settle their credits.

Statuses: queued → rendering → completed | failed | cancelled (spec §6). Progress only grows
(`Store.set_progress` keeps the maximum). Every end of a job goes through one store transaction
that also moves its credits, so the ledger always matches the jobs.

Each render slot is a thread; the render engine spawns its own worker processes, so the slot
threads only wait on it and never run on the event loop. Slots take the oldest queued job of any
account: the per-account concurrency limit is enforced at submission, not here.

Restart reconciliation (a documented choice, spec §6 leaves it open): jobs do not survive the
process. When the service stops cleanly, and again when it starts (after a crash), every job left
`queued` or `rendering` is marked `failed` with `INTERNAL_ERROR` "The service stopped while
rendering" and its whole reservation is refunded; a job that asked for a webhook gets the failed
webhook. We chose failing over resuming because a resumed job would silently render a script
minutes or days after the user stopped the service, and its credits would stay reserved in the
meantime; a failed job is explicit, costs nothing, and the studio can offer "Render again".
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

from app.script.cost import credits_for_seconds
from app.script.lint import iter_elements
from app.script.model import Movie
from app.server.config import ServiceConfig
from app.server.store import Job, Store
from app.server.webhooks import WebhookSender

log = logging.getLogger(__name__)

INTERRUPTED_MESSAGE = "The service stopped while rendering"
#: Concurrency Retry-After when no active job has progress to extrapolate from (spec §4).
FALLBACK_WAIT_SECONDS = 5


class RenderFailed(Exception):
    """The job cannot be rendered (media unreadable, relative path, …); becomes RENDER_FAILED."""


class JobCancelled(Exception):
    """The render stopped because its cancel event was set."""


@dataclass(frozen=True)
class Rendered:
    duration_seconds: float
    path: Path


#: Render workers run below the request handlers' priority: polling stays fast during renders.
RENDER_NICENESS = 10


def output_url(job: Job) -> str:
    """Where a completed job's video is served (spec §2.5, local form)."""
    return f"{job.base_url}/api/jobs/{job.id}/output"


def estimate_wait(active: list[Job], now: float | None = None) -> int:
    """Seconds until the earliest active job probably ends, from its progress (1–300)."""
    now = time.time() if now is None else now
    best: float | None = None
    for job in active:
        if job.status == "rendering" and job.started_ts and job.progress > 0.01:
            elapsed = max(0.0, now - job.started_ts)
            remaining = elapsed * (1.0 - job.progress) / job.progress
            best = remaining if best is None else min(best, remaining)
    if best is None:
        return FALLBACK_WAIT_SECONDS
    return int(min(300, max(1, round(best + 0.5))))


def _check_sources(data: Any) -> None:
    """A relative `src` has no base folder on the service (its script file is elsewhere), so it
    fails the job naming the path instead of being resolved against the server's working
    directory. Absolute paths and file:// URLs are read: the local service runs on the user's
    machine, so it may read the user's files."""
    for i, j, element in iter_elements(data):
        src = element.get("src")
        if not isinstance(src, str):
            continue
        lowered = src.lower()
        if lowered.startswith(("http://", "https://", "file://")):
            continue
        if Path(src).expanduser().is_absolute() or PureWindowsPath(src).is_absolute():
            continue
        raise RenderFailed(
            f"scenes.{i}.elements.{j}.src: relative path '{src}' cannot be resolved: the render "
            "service has no base folder; use an absolute path or a URL"
        )


def prepare_rendering() -> None:
    """Create the process's Qt GUI application now, on the main thread, if there is none.

    The engine renders short movies in the calling thread (a render slot), and Qt allows the
    application object to be created only on the main thread; `serve` and `ServiceThread` call
    this before starting. In the studio the QApplication already exists.
    """
    if threading.current_thread() is threading.main_thread():
        from app.render.fonts import ensure_qt

        ensure_qt()


def lower_thread_priority(niceness: int) -> bool:
    """Linux: lower the calling thread's priority (only this thread: nice is per thread there).

    Processes this thread starts inherit its nice value from their first instruction, so render
    workers spawned by a render slot import their modules (a second or more of CPU each) at low
    priority too, instead of at the request handlers' priority until their initializer runs.
    Returns False where that is not possible (other systems, or refused)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "setpriority"):
        return False
    try:
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, max(current, niceness))
    except OSError:
        return False
    return True


def _render(
    job: Job,
    out_path: Path,
    *,
    processes: int | None,
    progress: Callable[[float], None],
    cancel: threading.Event,
    niceness: int = RENDER_NICENESS,
) -> Rendered:
    """Render one job's script to `out_path` with the render engine (the one seam to it)."""
    data = json.loads(job.script)
    _check_sources(data)
    movie = Movie.model_validate(data)
    from app.render.compositor import RenderError
    from app.render.engine import RenderCancelled, render_movie

    try:
        result = render_movie(
            movie,
            out_path,
            base_dir=None,
            jobs=processes,
            progress=progress,
            cancel=cancel,
            niceness=niceness,
        )
    except RenderError as exc:
        where = f"{exc.path}: " if exc.path else ""
        raise RenderFailed(f"{where}{exc.message}") from exc
    except RenderCancelled as exc:
        raise JobCancelled(job.id) from exc
    return Rendered(float(result.duration_seconds), Path(result.path))


class JobRunner:
    """Render slots over the store's queue; `wake()` after a submission, `cancel()` on DELETE."""

    def __init__(self, store: Store, config: ServiceConfig, webhooks: WebhookSender) -> None:
        self.store = store
        self.config = config
        self.webhooks = webhooks
        self._stop = threading.Event()
        self._wakeup = threading.Condition()
        self._cancels: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._worker_niceness = RENDER_NICENESS

    def start(self) -> list[Job]:
        """Reconcile what a previous process left behind, then start the render slots."""
        reconciled = self._fail_active()
        self.config.outputs_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.config.outputs_dir.glob("*.part*"):
            with contextlib.suppress(OSError):
                leftover.unlink()
        for index in range(max(1, self.config.render_slots)):
            thread = threading.Thread(target=self._slot, name=f"render-slot-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return reconciled

    def _fail_active(self) -> list[Job]:
        failed = self.store.fail_interrupted("INTERNAL_ERROR", INTERRUPTED_MESSAGE)
        for job in failed:
            self.webhooks.job_ended(job, None)
        return failed

    def wake(self) -> None:
        with self._wakeup:
            self._wakeup.notify_all()

    def cancel(self, job_id: str) -> None:
        """Stop the render of a job the store has just marked cancelled (if it is running)."""
        with self._lock:
            event = self._cancels.get(job_id)
        if event is not None:
            event.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the slots (cancelling running renders) and fail what is left, as documented."""
        self._stop.set()
        with self._lock:
            for event in self._cancels.values():
                event.set()
        self.wake()
        for thread in self._threads:
            thread.join(timeout)
        self._fail_active()

    # -- the slots ------------------------------------------------------------------------------

    def _slot(self) -> None:
        # Workers inherit the slot's priority at birth; otherwise they lower their own.
        self._worker_niceness = 0 if lower_thread_priority(RENDER_NICENESS) else RENDER_NICENESS
        while not self._stop.is_set():
            gate = self.config.start_gate
            if gate is not None and not gate.wait(0.05):
                continue
            try:
                job = self.store.claim_next_job()
            except Exception:
                log.exception("cannot take the next job")
                job = None
            if job is None:
                with self._wakeup:
                    self._wakeup.wait(0.5)
                continue
            try:
                self._run(job)
            except Exception:
                log.exception("job %s: unexpected runner failure", job.id)
                with contextlib.suppress(Exception):
                    self._finish_failed(job.id, "INTERNAL_ERROR", "Unexpected server error")

    def _held(self, cancel: threading.Event) -> bool:
        """Wait at the finish gate (tests hold jobs in `rendering`); True if stopped meanwhile."""
        gate = self.config.finish_gate
        while gate is not None and not gate.wait(0.05):
            if cancel.is_set():
                return True
        return cancel.is_set()

    def _run(self, job: Job) -> None:
        cancel = threading.Event()
        with self._lock:
            self._cancels[job.id] = cancel
        out_path = self.config.outputs_dir / f"{job.id}.mp4"
        try:
            if self._held(cancel):
                return
            try:
                rendered = _render(
                    job,
                    out_path,
                    processes=self.config.render_processes,
                    progress=self._progress_reporter(job.id),
                    cancel=cancel,
                    niceness=self._worker_niceness,
                )
            except RenderFailed as exc:
                self._finish_failed(job.id, "RENDER_FAILED", str(exc))
                return
            except JobCancelled:
                return  # the store already says cancelled (DELETE) or stop() fails it
            except Exception:
                log.exception("job %s: render crashed", job.id)
                self._finish_failed(job.id, "INTERNAL_ERROR", "Unexpected render error")
                return
            done = self.store.complete_job(
                job.id,
                duration_seconds=round(rendered.duration_seconds, 3),
                output_path=str(rendered.path),
                credits_used=credits_for_seconds(round(rendered.duration_seconds, 3)),
            )
            if done is None:  # cancelled while the last frames were written: discard
                with contextlib.suppress(OSError):
                    rendered.path.unlink()
                return
            self.webhooks.job_ended(done, output_url(done))
        finally:
            with self._lock:
                self._cancels.pop(job.id, None)

    def _finish_failed(self, job_id: str, code: str, message: str) -> None:
        failed = self.store.fail_job(job_id, code, message)
        if failed is not None:
            self.webhooks.job_ended(failed, None)

    def _progress_reporter(self, job_id: str) -> Callable[[float], None]:
        """Engine progress → the store, at most every 0.2 s or 1 %, never decreasing."""
        last = {"value": 0.0, "at": 0.0}

        def report(value: float) -> None:
            now = time.monotonic()
            if value - last["value"] < 0.01 and now - last["at"] < 0.2:
                return
            if value <= last["value"]:
                return
            last["value"], last["at"] = value, now
            try:
                self.store.set_progress(job_id, value)
            except Exception:  # progress is cosmetic; never fail a render over it
                log.exception("job %s: cannot store progress", job_id)

        return report
