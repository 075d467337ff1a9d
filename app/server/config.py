"""The local service's settings: one object shared by the app, the job runner and the webhooks.

Tests build a `ServiceConfig` with short windows and delays and use its switches
(`start_gate`, `finish_gate`, `faults`) to hold jobs in a state or make a route fail. These are
real switches of the server, not mocks: the same code paths run, only the timing changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from app.server.stallwatch import check_threshold

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 48213
#: Request bodies above this get 413 INVALID_REQUEST (spec §0).
MAX_BODY_BYTES = 5 * 1024 * 1024


@dataclass
class ServiceConfig:
    """Everything the service needs to know; defaults are the production values."""

    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body_bytes: int = MAX_BODY_BYTES
    #: Length of the sliding rate-limit window (spec §4: 60 s); tests shorten it.
    rate_window_seconds: float = 60.0
    #: How many jobs render at once on this machine (each render spawns its own processes).
    render_slots: int = 1
    #: Worker processes per render (None: the engine decides).
    render_processes: int | None = None
    #: Delays before webhook retries (spec §6: 1, 2, 4, 8, 16 s) and the per-attempt timeout.
    webhook_delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    webhook_timeout: float = 10.0
    #: Idempotency records are honoured this long after the first 202 (spec §2.1: 24 h).
    idempotency_ttl_seconds: float = 24 * 3600.0
    #: First start with no account: create one with these and write its keys to
    #: `default-account.json` in the data folder (the studio moves them into the keyring).
    create_default_account: bool = True
    default_plan: str = "pro"
    default_credits: int = 1000
    #: A warning is logged when the event loop could not run for longer than this (seconds):
    #: see `stallwatch.py`. None: not watched.
    stall_warning_seconds: float | None = 0.1
    #: When set, render slots wait for this event before taking a queued job (jobs stay queued).
    start_gate: threading.Event | None = None
    #: When set, a job that has entered `rendering` waits for this event before the engine runs.
    finish_gate: threading.Event | None = None
    #: Route names (e.g. "account", "render") that raise an unexpected exception: exercises the
    #: INTERNAL_ERROR path end to end. Mutable while the service runs.
    faults: set[str] = field(default_factory=set)
    #: Route names (e.g. "account", "job_get") answered as if this server had no such endpoint
    #: (404 NOT_FOUND "No such endpoint", before the key check), like a hosted server without a
    #: project-decision feature (spec §0): exercises the client's degradation. Mutable.
    #: Sketchpen names ("scene_patch", "scenes_put", "video_delete", "sketchpen_account", …)
    #: answer as hosted FastAPI does: 404 {"detail": "Not Found"}, or 405 {"detail": "Method
    #: Not Allowed"} when the path has other methods (sketchpen-api.md §0).
    absent_routes: set[str] = field(default_factory=set)
    #: Sketchpen AI drafts (`drafting.py`): the least time each working stage lasts, in seconds
    #: (the stand-in AI is nearly instant; this keeps the statuses observable). Tests shorten it.
    sketchpen_stage_seconds: float = 1.0
    #: Threads that move Sketchpen videos through their stages (each may run a render).
    sketchpen_workers: int = 3
    #: The shorter side of a Sketchpen video: 1080 gives 16:9 → 1920×1080; tests use 180.
    sketchpen_short_side: int = 1080
    #: Sketchpen rate budgets per key in each `rate_window_seconds` window (spec §9).
    sketchpen_read_limit: int = 600
    sketchpen_write_limit: int = 60
    #: Statuses a Sketchpen video may not leave while named here ("pending" … "rendering"):
    #: tests hold videos in a stage. Mutable while the service runs.
    sketchpen_hold: set[str] = field(default_factory=set)
    #: Stages that fail when reached ("scripting" … "rendering"), and 0-based scene indexes whose
    #: illustration fails in `visualising`: every failure path is reachable. Mutable.
    sketchpen_fail_stages: set[str] = field(default_factory=set)
    sketchpen_fail_images: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.stall_warning_seconds is not None:
            check_threshold(self.stall_warning_seconds)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "service.sqlite3"

    @property
    def outputs_dir(self) -> Path:
        return self.data_dir / "outputs"

    @property
    def sketchpen_dir(self) -> Path:
        """Sketchpen media: one folder per video and per asset, and the voice previews."""
        return self.data_dir / "sketchpen"

    @property
    def default_account_file(self) -> Path:
        return self.data_dir / "default-account.json"
