"""Sketchpen's state in the service database: keys, videos, assets, asset links, callbacks.

The tables live in the same SQLite file as the PhantomFlow side (`Store`), so both contracts
share accounts and the one append-only credit ledger; this module keeps its own connections
(one per thread, WAL) and its own queries. Credit movements use the ledger's existing kinds:

* an approve with a live key charges `reserve −N` (N = scenes still without an image; a test
  key charges nothing, whichever key created the video), final unless refunded;
* a failure refunds `refund +k` (k = scenes paid for that got no image; narration costs 0);
* `ledger.job_id` holds the video id, so a video's entries can be summed: the video's
  `credits_charged` always equals minus that sum (tested).

Every change that moves credits or takes a concurrency slot runs in one `BEGIN IMMEDIATE`
transaction, so parallel requests (any contract, any key of the account) are serialised by
SQLite and can neither overspend nor exceed the 3-videos-in-progress rule.

Workers (`sketchpen_pipeline.py`) change a video only when its `generation` is still the one they
took: approve, regenerate and delete bump it, so a stale worker's late write is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.server.database import Database, now_iso
from app.server.store import Account, hash_key

LIVE_PREFIX = "sk_live_"
TEST_PREFIX = "sk_test_"
SCOPES = (
    "videos:read",
    "videos:write",
    "assets:read",
    "assets:write",
    "callbacks:read",
    "callbacks:write",
)
ALL_SCOPES = ("videos:*", "assets:*", "callbacks:*")
#: Statuses in their lifecycle order (spec §6).
STATUSES = (
    "pending",
    "scripting",
    "refining",
    "visualising",
    "narrating",
    "curating",
    "rendering",
    "completed",
    "failed",
)
IN_PROGRESS = STATUSES[:7]
#: Statuses a worker moves a video out of (refining waits for the user).
WORKING = ("pending", "scripting", "visualising", "narrating", "curating", "rendering")
PROCESSING = ("visualising", "narrating", "curating", "rendering")
MAX_IN_PROGRESS = 3
MAX_SCENES = 40
#: Internal scene flag (never in API answers): a live approve charged a credit for this scene
#: and has not given it back; a failure refunds exactly the paid scenes left without an image.
PAID = "paid"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sketchpen_keys (
    key_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    mode TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS sketchpen_videos (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    key_mode TEXT NOT NULL,
    status TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    prompt TEXT NOT NULL,
    feedback TEXT NOT NULL DEFAULT '',
    revision INTEGER NOT NULL DEFAULT 0,
    theme TEXT NOT NULL,
    config TEXT NOT NULL,
    scenes TEXT NOT NULL DEFAULT '[]',
    media_token TEXT NOT NULL UNIQUE,
    base_url TEXT NOT NULL,
    video_file TEXT,
    audio_file TEXT,
    thumbnail_file TEXT,
    approved_ts REAL,
    processing_time_sec REAL,
    error_stage TEXT,
    error_message TEXT,
    credits_charged INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sketchpen_videos_account ON sketchpen_videos(account_id, seq DESC);
CREATE INDEX IF NOT EXISTS sketchpen_videos_status ON sketchpen_videos(status, seq);
CREATE TABLE IF NOT EXISTS sketchpen_assets (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    type TEXT NOT NULL,
    voice_id TEXT,
    media_token TEXT NOT NULL UNIQUE,
    image_file TEXT,
    created_at TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sketchpen_asset_links (
    video_id TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (video_id, asset_id)
);
CREATE TABLE IF NOT EXISTS sketchpen_callbacks (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    url TEXT NOT NULL,
    event TEXT NOT NULL,
    secret TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    seq INTEGER NOT NULL,
    UNIQUE (account_id, url, event)
);
CREATE TABLE IF NOT EXISTS sketchpen_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    callback_id TEXT NOT NULL,
    video_id TEXT NOT NULL,
    url TEXT NOT NULL,
    body BLOB NOT NULL,
    signature TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'failed', 'dropped')),
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sketchpen_deliveries_state ON sketchpen_deliveries(state, id);
"""


class SketchAuthError(Exception):
    """No usable key; `code` is UNAUTHORIZED, AUTH_ERROR or INVALID_TOKEN (spec §1)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class VideoNotFound(Exception):
    pass


class WrongState(Exception):
    """The video's status forbids the action; the message names status and fitting action."""


class TooManyVideos(Exception):
    pass


class NotEnoughCredits(Exception):
    def __init__(self, required: int, available: int) -> None:
        super().__init__(f"Insufficient credits. Required: {required}, Available: {available}")
        self.required = required
        self.available = available


class AlreadyExists(Exception):
    pass


@dataclass(frozen=True)
class SketchCaller:
    account: Account
    key_mode: str
    scopes: frozenset[str]
    key_hash: str

    def allows(self, scope: str) -> bool:
        family = scope.split(":")[0]
        return scope in self.scopes or f"{family}:*" in self.scopes


@dataclass(frozen=True)
class Video:
    id: str
    account_id: str
    key_mode: str
    status: str
    generation: int
    prompt: str
    feedback: str
    revision: int
    theme: str
    config: dict[str, Any]
    scenes: list[dict[str, Any]]
    media_token: str
    base_url: str
    video_file: str | None
    audio_file: str | None
    thumbnail_file: str | None
    approved_ts: float | None
    processing_time_sec: float | None
    error_stage: str | None
    error_message: str | None
    credits_charged: int
    created_at: str
    updated_at: str

    @property
    def unimaged(self) -> int:
        """Scenes without an illustration: what a live approve charges."""
        return sum(1 for scene in self.scenes if not scene.get("image"))


@dataclass(frozen=True)
class Asset:
    id: str
    account_id: str
    name: str
    description: str
    type: str
    voice_id: str | None
    media_token: str
    image_file: str | None
    created_at: str


@dataclass(frozen=True)
class Callback:
    id: str
    account_id: str
    url: str
    event: str
    secret: str
    is_active: bool
    created_at: str


@dataclass(frozen=True)
class Delivery:
    """One callback POST to make: the exact body bytes and their signature, so every attempt,
    in this process or after a restart, sends identical bytes (spec §11)."""

    id: int
    callback_id: str
    video_id: str
    url: str
    body: bytes
    signature: str
    attempts: int
    state: str
    last_status: int | None
    last_error: str | None
    created_at: str


@dataclass(frozen=True)
class SketchKeys:
    live_key: str
    test_key: str

    def as_dict(self) -> dict[str, str]:
        return {"sketchpen_live_key": self.live_key, "sketchpen_test_key": self.test_key}


@dataclass
class Ended:
    """A video that reached `failed` or `completed` in a transaction (for webhooks)."""

    video: Video
    refunded: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _video(row: sqlite3.Row) -> Video:
    data = {name: row[name] for name in row.keys()}  # noqa: SIM118 (Row has no iter)
    data.pop("seq", None)
    data.pop("updated_ts", None)
    data["config"] = json.loads(data["config"])
    data["scenes"] = json.loads(data["scenes"])
    return Video(**data)


def _asset(row: sqlite3.Row) -> Asset:
    data = {name: row[name] for name in row.keys()}  # noqa: SIM118
    data.pop("seq", None)
    return Asset(**data)


def _callback(row: sqlite3.Row) -> Callback:
    data = {name: row[name] for name in row.keys()}  # noqa: SIM118
    data.pop("seq", None)
    data["is_active"] = bool(data["is_active"])
    return Callback(**data)


def new_sketch_key(mode: str) -> str:
    return (LIVE_PREFIX if mode == "live" else TEST_PREFIX) + secrets.token_hex(16)


def _state_message(action: str, status: str, has_scenes: bool) -> str:
    """The INVALID_STATE message: the status and what fits it (spec §6, §10)."""
    if status == "completed":
        return f"Cannot {action} a completed video; create a new video instead"
    if status == "failed":
        if has_scenes:
            return f"Cannot {action} a failed video; use approve to retry it"
        return f"Cannot {action} a failed video without scenes; regenerate the script first"
    if status in PROCESSING:
        return f"Cannot {action} a video while it is {status}; wait until it completes"
    if status in ("pending", "scripting"):
        return f"Cannot {action} a video while it is {status}; wait for the draft (refining)"
    return f"Cannot {action} a video in status {status}"


def media_url(base_url: str, token: str, name: str) -> str:
    return f"{base_url}/api/v1/files/{token}/{name}"


def sign(secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the raw body, keyed with the whole secret (spec §11)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _zone_less(iso: str) -> str:
    moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def callback_body(video: Video) -> bytes:
    """The documented payload: event, video_id, a slim `data` with zone-less times."""

    def url(name: str | None) -> str | None:
        return media_url(video.base_url, video.media_token, name) if name else None

    event = "video.completed" if video.status == "completed" else "video.failed"
    payload = {
        "event": event,
        "video_id": video.id,
        "data": {
            "id": video.id,
            "status": video.status,
            "prompt": video.prompt,
            "video_url": url(video.video_file),
            "audio_url": url(video.audio_file),
            "thumbnail_url": url(video.thumbnail_file),
            "created_at": _zone_less(video.created_at),
            "updated_at": _zone_less(video.updated_at),
        },
        "created_at": int(time.time()),
    }
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


class SketchStore(Database):
    """Thread-safe access to the Sketchpen tables (one SQLite connection per thread)."""

    name = "the Sketchpen store"
    foreign_keys = False

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)

    # -- keys -----------------------------------------------------------------------------------

    def create_keys(self, account_id: str, scopes: Sequence[str] = ALL_SCOPES) -> SketchKeys:
        """A live and a test key for an account; stored only as their SHA-256."""
        live = self.mint_key(account_id, "live", scopes)
        test = self.mint_key(account_id, "test", scopes)
        return SketchKeys(live, test)

    def mint_key(self, account_id: str, mode: str, scopes: Sequence[str] = ALL_SCOPES) -> str:
        if mode not in ("live", "test"):
            raise ValueError(f"key mode must be live or test, not {mode!r}")
        valid = set(SCOPES) | set(ALL_SCOPES)
        unknown = [s for s in scopes if s not in valid]
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(unknown)}")
        key = new_sketch_key(mode)
        with self._tx() as conn:
            if (
                conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone()
                is None
            ):
                raise ValueError(f"no account {account_id}")
            conn.execute(
                "INSERT INTO sketchpen_keys VALUES (?, ?, ?, ?, ?, NULL)",
                (hash_key(key), account_id, mode, " ".join(scopes), now_iso()),
            )
        return key

    def revoke_key(self, key: str) -> bool:
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE sketchpen_keys SET revoked_at = ?"
                " WHERE key_hash = ? AND revoked_at IS NULL",
                (now_iso(), hash_key(key)),
            )
            return cursor.rowcount == 1

    def authenticate(self, key: str | None) -> SketchCaller:
        if not key:
            raise SketchAuthError("UNAUTHORIZED", "X-Api-Key header is missing")
        if not key.startswith((LIVE_PREFIX, TEST_PREFIX)) or len(key) <= len(LIVE_PREFIX):
            raise SketchAuthError(
                "AUTH_ERROR", "Malformed API key: expected sk_live_… or sk_test_…"
            )
        row = (
            self._conn()
            .execute(
                "SELECT k.mode, k.scopes, k.revoked_at, k.key_hash, a.id, a.plan, a.rate_limit,"
                " a.concurrency_limit, a.webhook_secret FROM sketchpen_keys k"
                " JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = ?",
                (hash_key(key),),
            )
            .fetchone()
        )
        if row is None:
            raise SketchAuthError("INVALID_TOKEN", "Unknown API key")
        if row["revoked_at"] is not None:
            raise SketchAuthError("INVALID_TOKEN", "API key has been revoked")
        account = Account(
            row["id"],
            row["plan"],
            row["rate_limit"],
            row["concurrency_limit"],
            row["webhook_secret"],
        )
        return SketchCaller(account, row["mode"], frozenset(row["scopes"].split()), row["key_hash"])

    # -- credits --------------------------------------------------------------------------------

    def video_ledger_sum(self, video_id: str) -> int:
        row = (
            self._conn()
            .execute("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE job_id = ?", (video_id,))
            .fetchone()
        )
        return int(row[0])

    # -- videos ---------------------------------------------------------------------------------

    @staticmethod
    def _in_progress(conn: sqlite3.Connection, account_id: str) -> int:
        marks = ",".join("?" * len(IN_PROGRESS))
        row = conn.execute(
            f"SELECT COUNT(*) FROM sketchpen_videos WHERE account_id = ? AND status IN ({marks})",
            (account_id, *IN_PROGRESS),
        ).fetchone()
        return int(row[0])

    def in_progress(self, account_id: str) -> int:
        return self._in_progress(self._conn(), account_id)

    @staticmethod
    def _get(conn: sqlite3.Connection, video_id: str) -> Video | None:
        row = conn.execute("SELECT * FROM sketchpen_videos WHERE id = ?", (video_id,)).fetchone()
        return None if row is None else _video(row)

    def get_video(self, video_id: str) -> Video | None:
        return self._get(self._conn(), video_id)

    def owned_video(self, account_id: str, video_id: str) -> Video:
        video = self.get_video(video_id)
        if video is None or video.account_id != account_id:
            raise VideoNotFound(video_id)
        return video

    @staticmethod
    def _owned(conn: sqlite3.Connection, account_id: str, video_id: str) -> Video:
        video = SketchStore._get(conn, video_id)
        if video is None or video.account_id != account_id:
            raise VideoNotFound(video_id)
        return video

    def create_video(
        self,
        caller: SketchCaller,
        *,
        prompt: str,
        theme: str,
        config: dict[str, Any],
        base_url: str,
    ) -> Video:
        """Insert a `pending` video: balance ≥ 1 (live keys), then the in-progress cap."""
        account_id = caller.account.id
        now = time.time()
        with self._tx() as conn:
            if caller.key_mode == "live":
                balance = self._balance(conn, account_id)
                if balance < 1:
                    raise NotEnoughCredits(1, balance)
            if self._in_progress(conn, account_id) >= MAX_IN_PROGRESS:
                raise TooManyVideos()
            video_id = str(uuid.uuid4())
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM sketchpen_videos").fetchone()
            conn.execute(
                "INSERT INTO sketchpen_videos (id, seq, account_id, key_mode, status, prompt,"
                " theme, config, media_token, base_url, created_at, updated_at, updated_ts)"
                " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    video_id,
                    seq[0],
                    account_id,
                    caller.key_mode,
                    prompt,
                    theme,
                    json.dumps(config),
                    secrets.token_hex(16),
                    base_url,
                    now_iso(now),
                    now_iso(now),
                    now,
                ),
            )
            for asset_id in config.get("asset_ids") or []:
                conn.execute(
                    "INSERT OR IGNORE INTO sketchpen_asset_links VALUES (?, ?, ?)",
                    (video_id, asset_id, now_iso(now)),
                )
            video = self._get(conn, video_id)
            assert video is not None
            return video

    def list_videos(
        self, account_id: str, *, statuses: Sequence[str] | None, limit: int, offset: int
    ) -> list[Video]:
        sql = "SELECT * FROM sketchpen_videos WHERE account_id = ?"
        params: list[Any] = [account_id]
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params += list(statuses)
        sql += " ORDER BY seq DESC LIMIT ? OFFSET ?"
        params += [limit, offset]
        return [_video(r) for r in self._conn().execute(sql, params)]

    @staticmethod
    def _update(conn: sqlite3.Connection, video_id: str, **fields: Any) -> None:
        now = time.time()
        fields.update(updated_at=now_iso(now), updated_ts=now)
        for name in ("config", "scenes"):
            if name in fields:
                fields[name] = json.dumps(fields[name], ensure_ascii=False)
        sets = ", ".join(f"{name} = ?" for name in fields)
        conn.execute(
            f"UPDATE sketchpen_videos SET {sets} WHERE id = ?", (*fields.values(), video_id)
        )

    def approve(self, caller: SketchCaller, video_id: str) -> Video:
        """refining → visualising, or the retry of a failed video with scenes; charges here."""
        account_id = caller.account.id
        with self._tx() as conn:
            video = self._owned(conn, account_id, video_id)
            retry = video.status == "failed" and bool(video.scenes)
            if video.status != "refining" and not retry:
                raise WrongState(_state_message("approve", video.status, bool(video.scenes)))
            if retry and self._in_progress(conn, account_id) >= MAX_IN_PROGRESS:
                raise TooManyVideos()
            # The approving key decides (spec §7: sk_test_ keys never check or change the
            # balance, whichever key created the video); each charged scene is marked paid, so
            # a failure gives back exactly what was paid for the scenes left without an image.
            scenes = [dict(scene) for scene in video.scenes]
            charge = video.unimaged if caller.key_mode == "live" else 0
            if charge:
                balance = self._balance(conn, account_id)
                if balance < charge:
                    raise NotEnoughCredits(charge, balance)
                self._ledger_add(conn, account_id, video.id, "reserve", -charge)
                for scene in scenes:
                    if not scene.get("image"):
                        scene[PAID] = True
            self._update(
                conn,
                video.id,
                scenes=scenes,
                status="visualising",
                generation=video.generation + 1,
                approved_ts=time.time(),
                processing_time_sec=None,
                error_stage=None,
                error_message=None,
                video_file=None,
                thumbnail_file=None,
                credits_charged=video.credits_charged + charge,
            )
            done = self._get(conn, video.id)
            assert done is not None
            return done

    def regenerate(self, caller: SketchCaller, video_id: str, feedback: str) -> Video:
        """refining (or failed without scenes) → scripting with no scenes; free."""
        account_id = caller.account.id
        with self._tx() as conn:
            video = self._owned(conn, account_id, video_id)
            from_failed = video.status == "failed" and not video.scenes
            if video.status != "refining" and not from_failed:
                raise WrongState(_state_message("regenerate", video.status, bool(video.scenes)))
            if from_failed and self._in_progress(conn, account_id) >= MAX_IN_PROGRESS:
                raise TooManyVideos()
            self._update(
                conn,
                video.id,
                status="scripting",
                generation=video.generation + 1,
                feedback=feedback,
                revision=video.revision + 1,
                scenes=[],
                error_stage=None,
                error_message=None,
            )
            done = self._get(conn, video.id)
            assert done is not None
            return done

    def edit_scenes(
        self, caller: SketchCaller, video_id: str, change: Any, *, action: str
    ) -> Video:
        """Apply `change(scenes) -> scenes` in `refining` only (PATCH and PUT)."""
        with self._tx() as conn:
            video = self._owned(conn, caller.account.id, video_id)
            if video.status != "refining":
                raise WrongState(_state_message(action, video.status, bool(video.scenes)))
            scenes = change([dict(s) for s in video.scenes])
            self._update(conn, video.id, scenes=scenes)
            done = self._get(conn, video.id)
            assert done is not None
            return done

    def delete_video(self, caller: SketchCaller, video_id: str) -> Video:
        """Remove a video not being processed; spent credits stay spent."""
        with self._tx() as conn:
            video = self._owned(conn, caller.account.id, video_id)
            if video.status in PROCESSING:
                raise WrongState(_state_message("delete", video.status, bool(video.scenes)))
            conn.execute("DELETE FROM sketchpen_videos WHERE id = ?", (video.id,))
            conn.execute("DELETE FROM sketchpen_asset_links WHERE video_id = ?", (video.id,))
            return video

    # -- worker transitions (conditional on the generation) -------------------------------------

    def claimable(self, exclude: set[str], hold: set[str]) -> list[Video]:
        marks = ",".join("?" * len(WORKING))
        rows = self._conn().execute(
            f"SELECT * FROM sketchpen_videos WHERE status IN ({marks}) ORDER BY updated_ts, seq",
            WORKING,
        )
        return [v for v in map(_video, rows) if v.id not in exclude and v.status not in hold]

    def advance(self, video: Video, status: str, **fields: Any) -> Video | None:
        """Move a worker's video on; None when it changed meanwhile (deleted, regenerated)."""
        with self._tx() as conn:
            current = self._get(conn, video.id)
            if current is None or current.generation != video.generation:
                return None
            if current.status != video.status:
                return None
            self._update(conn, video.id, status=status, **fields)
            moved = self._get(conn, video.id)
            if moved is not None and status == "completed":
                self._queue_deliveries(conn, moved)
            return moved

    def update_fields(self, video: Video, **fields: Any) -> Video | None:
        """Change fields (not the status) of a worker's video if it is still the worker's."""
        return self.advance(video, video.status, **fields)

    @staticmethod
    def _fail(conn: sqlite3.Connection, video: Video, stage: str, message: str) -> Ended:
        scenes = [dict(scene) for scene in video.scenes]
        refund = 0
        for scene in scenes:
            if scene.get(PAID) and not scene.get("image"):
                del scene[PAID]
                refund += 1
        if video.credits_charged and not any(PAID in scene for scene in video.scenes):
            # Charged before scenes carried the flag (an older data folder): the former rule.
            refund = min(video.unimaged, video.credits_charged)
        if refund:
            SketchStore._ledger_add(conn, video.account_id, video.id, "refund", refund)
        SketchStore._update(
            conn,
            video.id,
            scenes=scenes,
            status="failed",
            error_stage=stage,
            error_message=message,
            credits_charged=video.credits_charged - refund,
            generation=video.generation + 1,
        )
        ended = SketchStore._get(conn, video.id)
        assert ended is not None
        SketchStore._queue_deliveries(conn, ended)
        return Ended(ended, refund)

    def fail(self, video: Video, stage: str, message: str) -> Ended | None:
        """Fail a worker's video: 1 credit back per charged scene without an image (spec §7)."""
        with self._tx() as conn:
            current = self._get(conn, video.id)
            if current is None or current.generation != video.generation:
                return None
            return self._fail(conn, current, stage, message)

    def fail_working(self, message: str) -> list[Ended]:
        """Restart reconciliation: fail every video a previous process left mid-stage."""
        marks = ",".join("?" * len(WORKING))
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT * FROM sketchpen_videos WHERE status IN ({marks}) ORDER BY seq", WORKING
            ).fetchall()
            out = []
            for row in rows:
                video = _video(row)
                out.append(self._fail(conn, video, video.status, f"{message} ({video.status})"))
            return out

    # -- assets ---------------------------------------------------------------------------------

    def create_asset(
        self, account_id: str, *, name: str, description: str, type: str, voice_id: str | None
    ) -> Asset:
        asset_id = str(uuid.uuid4())
        with self._tx() as conn:
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM sketchpen_assets").fetchone()
            conn.execute(
                "INSERT INTO sketchpen_assets VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                (
                    asset_id,
                    account_id,
                    name,
                    description,
                    type,
                    voice_id,
                    secrets.token_hex(16),
                    now_iso(),
                    seq[0],
                ),
            )
        asset = self.get_asset(account_id, asset_id)
        assert asset is not None
        return asset

    def get_asset(self, account_id: str, asset_id: str) -> Asset | None:
        row = (
            self._conn()
            .execute(
                "SELECT * FROM sketchpen_assets WHERE id = ? AND account_id = ?",
                (asset_id, account_id),
            )
            .fetchone()
        )
        return None if row is None else _asset(row)

    def list_assets(self, account_id: str, type: str | None) -> list[Asset]:
        sql = "SELECT * FROM sketchpen_assets WHERE account_id = ?"
        params: list[Any] = [account_id]
        if type is not None:
            sql += " AND type = ?"
            params.append(type)
        return [_asset(r) for r in self._conn().execute(sql + " ORDER BY seq DESC", params)]

    def set_asset_image(self, asset_id: str, image_file: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE sketchpen_assets SET image_file = ? WHERE id = ?", (image_file, asset_id)
            )

    def link_asset(self, caller: SketchCaller, video_id: str, asset_id: str) -> str:
        """Link an asset to a video in pending … refining; returns the link's created_at."""
        with self._tx() as conn:
            video = self._owned(conn, caller.account.id, video_id)
            if video.status not in ("pending", "scripting", "refining"):
                raise WrongState(_state_message("link assets to", video.status, bool(video.scenes)))
            exists = conn.execute(
                "SELECT 1 FROM sketchpen_asset_links WHERE video_id = ? AND asset_id = ?",
                (video_id, asset_id),
            ).fetchone()
            if exists is not None:
                raise AlreadyExists(asset_id)
            created = now_iso()
            conn.execute(
                "INSERT INTO sketchpen_asset_links VALUES (?, ?, ?)", (video_id, asset_id, created)
            )
            return created

    def linked_assets(self, video_id: str) -> list[Asset]:
        rows = self._conn().execute(
            "SELECT a.* FROM sketchpen_assets a JOIN sketchpen_asset_links l ON l.asset_id = a.id"
            " WHERE l.video_id = ? ORDER BY l.created_at, a.seq",
            (video_id,),
        )
        return [_asset(r) for r in rows]

    def media_owner(self, token: str) -> tuple[str, str] | None:
        """("video" | "asset", id) for a media token, or None."""
        conn = self._conn()
        row = conn.execute(
            "SELECT id FROM sketchpen_videos WHERE media_token = ?", (token,)
        ).fetchone()
        if row is not None:
            return "video", str(row["id"])
        row = conn.execute(
            "SELECT id FROM sketchpen_assets WHERE media_token = ?", (token,)
        ).fetchone()
        if row is not None:
            return "asset", str(row["id"])
        return None

    # -- callbacks ------------------------------------------------------------------------------

    def create_callback(self, account_id: str, url: str, event: str) -> Callback:
        callback_id = str(uuid.uuid4())
        with self._tx() as conn:
            exists = conn.execute(
                "SELECT 1 FROM sketchpen_callbacks WHERE account_id = ? AND url = ? AND event = ?",
                (account_id, url, event),
            ).fetchone()
            if exists is not None:
                raise AlreadyExists(url)
            seq = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM sketchpen_callbacks"
            ).fetchone()
            conn.execute(
                "INSERT INTO sketchpen_callbacks VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                (
                    callback_id,
                    account_id,
                    url,
                    event,
                    "whsec_" + secrets.token_hex(16),
                    now_iso(),
                    seq[0],
                ),
            )
        return next(c for c in self.list_callbacks(account_id) if c.id == callback_id)

    def list_callbacks(self, account_id: str, event: str | None = None) -> list[Callback]:
        sql = "SELECT * FROM sketchpen_callbacks WHERE account_id = ?"
        params: list[Any] = [account_id]
        if event is not None:
            sql += " AND event = ? AND is_active = 1"
            params.append(event)
        return [_callback(r) for r in self._conn().execute(sql + " ORDER BY seq", params)]

    def delete_callback(self, account_id: str, callback_id: str) -> bool:
        with self._tx() as conn:
            cursor = conn.execute(
                "DELETE FROM sketchpen_callbacks WHERE id = ? AND account_id = ?",
                (callback_id, account_id),
            )
            return cursor.rowcount == 1

    # -- callback deliveries (persisted: pending ones resume on the next start) ---------------

    @staticmethod
    def _queue_deliveries(conn: sqlite3.Connection, video: Video) -> None:
        """One pending delivery per active registration for the video's end event, written in
        the transaction that ended it (the sender sends them after the commit)."""
        event = "video.completed" if video.status == "completed" else "video.failed"
        rows = conn.execute(
            "SELECT id, url, secret FROM sketchpen_callbacks"
            " WHERE account_id = ? AND event = ? AND is_active = 1 ORDER BY seq",
            (video.account_id, event),
        ).fetchall()
        if not rows:
            return
        body = callback_body(video)
        for row in rows:
            conn.execute(
                "INSERT INTO sketchpen_deliveries (callback_id, video_id, url, body, signature,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (row["id"], video.id, row["url"], body, sign(row["secret"], body), now_iso()),
            )

    def deliveries(
        self,
        *,
        state: str | None = None,
        video_id: str | None = None,
        delivery_id: int | None = None,
    ) -> list[Delivery]:
        sql = "SELECT * FROM sketchpen_deliveries WHERE 1 = 1"
        params: list[Any] = []
        for column, value in (("state", state), ("video_id", video_id), ("id", delivery_id)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        rows = self._conn().execute(sql + " ORDER BY id", params).fetchall()
        return [Delivery(**{**dict(row), "body": bytes(row["body"])}) for row in rows]

    def record_attempt(
        self, delivery_id: int, *, state: str, status: int | None, error: str | None
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE sketchpen_deliveries SET attempts = attempts + 1, state = ?,"
                " last_status = ?, last_error = ? WHERE id = ?",
                (state, status, error, delivery_id),
            )

    def drop_delivery(self, delivery_id: int, reason: str) -> None:
        """A pending delivery whose registration was deleted or deactivated is not sent."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE sketchpen_deliveries SET state = 'dropped', last_error = ?"
                " WHERE id = ? AND state = 'pending'",
                (reason, delivery_id),
            )

    def callback_active(self, callback_id: str) -> bool:
        row = (
            self._conn()
            .execute("SELECT is_active FROM sketchpen_callbacks WHERE id = ?", (callback_id,))
            .fetchone()
        )
        return row is not None and bool(row["is_active"])
