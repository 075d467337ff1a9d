"""The local service's state in SQLite: accounts, hashed keys, the credit ledger, jobs,
templates, idempotency records and webhook deliveries.

Why it looks like this:

* WAL mode, one connection per thread: readers never block the writer, and the job runner's
  threads and the request threads share the database safely.
* Every credit movement happens inside one `BEGIN IMMEDIATE` transaction together with the job
  change that causes it, so two parallel submissions are serialised by SQLite itself: they can
  neither spend the same credits twice nor drive a balance below zero.
* The ledger is append-only: the balance is the sum of its entries (grant +N, reserve −estimate,
  settle +unused part of the reservation, refund +reservation). Nothing is ever updated in place,
  so every balance can be explained entry by entry.
* Accounts are not tied to one contract: the PhantomFlow routes use them today, and a second route
  set (Sketchpen) can share accounts, keys, credits and rate limits later.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.server.database import Database, now_iso

LIVE_PREFIX = "ve_live_"
TEST_PREFIX = "ve_test_"
KEY_PATTERN = re.compile(r"^ve_(live|test)_[0-9a-f]{32}$")
TEMPLATE_ID_PATTERN = re.compile(r"^tpl_[0-9a-f]{12}$")
PLANS = ("free", "starter", "pro", "enterprise")
ACTIVE_STATUSES = ("queued", "rendering")
TERMINAL_STATUSES = ("completed", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    rate_limit INTEGER,
    concurrency_limit INTEGER,
    webhook_secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    mode TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    job_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('grant', 'reserve', 'settle', 'refund')),
    amount INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_account ON ledger(account_id);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    key_mode TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT,
    started_ts REAL,
    completed_at TEXT,
    estimated_credits INTEGER NOT NULL,
    reserved_credits INTEGER NOT NULL,
    credits_used INTEGER,
    duration_seconds REAL,
    output_path TEXT,
    error_code TEXT,
    error_message TEXT,
    template_id TEXT,
    script TEXT NOT NULL,
    webhook_uri TEXT,
    base_url TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_account_order ON jobs(account_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, seq);
CREATE TABLE IF NOT EXISTS templates (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    is_public INTEGER NOT NULL,
    script TEXT NOT NULL,
    variables TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    account_id TEXT NOT NULL,
    path TEXT NOT NULL,
    key TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    job_id TEXT NOT NULL,
    created_ts REAL NOT NULL,
    PRIMARY KEY (account_id, path, key)
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    url TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL
);
"""


def hash_key(key: str) -> str:
    """Keys are stored only as their SHA-256: a leaked database reveals no usable key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key(mode: str) -> str:
    return (LIVE_PREFIX if mode == "live" else TEST_PREFIX) + secrets.token_hex(16)


class AuthError(Exception):
    """No usable key; the message says which case (missing, malformed, unknown, revoked)."""


class IdempotencyConflict(Exception):
    """The Idempotency-Key is bound to a different body."""


class InsufficientCredits(Exception):
    def __init__(self, required: int, balance: int) -> None:
        super().__init__(f"Render needs {required} credits, balance is {balance}")
        self.required = required
        self.balance = balance


class ConcurrencyExceeded(Exception):
    def __init__(self, limit: int, active: list[Job]) -> None:
        super().__init__(f"{limit} jobs already queued or rendering")
        self.limit = limit
        self.active = active


class NotFound(Exception):
    pass


class InvalidState(Exception):
    pass


@dataclass(frozen=True)
class Account:
    id: str
    plan: str
    rate_limit: int | None
    concurrency_limit: int | None
    webhook_secret: str


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the account and the mode of the key used."""

    account: Account
    key_mode: str


@dataclass(frozen=True)
class NewAccount:
    account_id: str
    plan: str
    credits: int
    live_key: str
    test_key: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "plan": self.plan,
            "credits": self.credits,
            "live_key": self.live_key,
            "test_key": self.test_key,
        }


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    account_id: str
    job_id: str | None
    kind: str
    amount: int


@dataclass(frozen=True)
class Job:
    id: str
    seq: int
    account_id: str
    key_mode: str
    status: str
    progress: float
    created_at: str
    started_at: str | None
    started_ts: float | None
    completed_at: str | None
    estimated_credits: int
    reserved_credits: int
    credits_used: int | None
    duration_seconds: float | None
    output_path: str | None
    error_code: str | None
    error_message: str | None
    template_id: str | None
    script: str
    webhook_uri: str | None
    base_url: str

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class Template:
    id: str
    account_id: str
    name: str
    is_public: bool
    script: Any
    variables: list[str]
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Delivery:
    id: int
    job_id: str
    account_id: str
    url: str
    body: bytes
    attempts: int
    state: str
    last_status: int | None
    last_error: str | None


@dataclass(frozen=True)
class Submission:
    """What `submit_job` needs besides the account: the job as validated by the routes."""

    key_mode: str
    estimated_credits: int
    script: str
    webhook_uri: str | None
    template_id: str | None
    base_url: str


@dataclass(frozen=True)
class SubmitResult:
    job: Job
    balance: int
    replayed: bool


def _job(row: sqlite3.Row) -> Job:
    return Job(**{name: row[name] for name in row.keys()})  # noqa: SIM118 (Row has no iter)


def _template(row: sqlite3.Row) -> Template:
    return Template(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        is_public=bool(row["is_public"]),
        script=json.loads(row["script"]),
        variables=json.loads(row["variables"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _account(row: sqlite3.Row) -> Account:
    return Account(
        id=row["id"],
        plan=row["plan"],
        rate_limit=row["rate_limit"],
        concurrency_limit=row["concurrency_limit"],
        webhook_secret=row["webhook_secret"],
    )


class Store(Database):
    """Thread-safe access to the service database (one SQLite connection per thread)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        conn = self._conn()
        # Every job column but the script (up to the body limit in size): what status reads and
        # listings need. From the table itself, so a column added later is never left out.
        columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)") if row[1] != "script"]
        self._job_summary = ", ".join([*columns, "'' AS script"])

    # -- accounts and keys ----------------------------------------------------------------------

    def create_account(
        self,
        plan: str,
        credits: int,
        *,
        rate_limit: int | None = None,
        concurrency_limit: int | None = None,
    ) -> NewAccount:
        """A new account with one live and one test key; the only time plain keys exist."""
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r}; choose one of {', '.join(PLANS)}")
        if plan == "enterprise" and (rate_limit is None or concurrency_limit is None):
            raise ValueError("the enterprise plan needs explicit rate and concurrency limits")
        if credits < 0:
            raise ValueError("credits must be >= 0")
        account_id = "acct_" + secrets.token_hex(8)
        live, test = new_key("live"), new_key("test")
        now = now_iso()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)",
                (
                    account_id,
                    plan,
                    rate_limit,
                    concurrency_limit,
                    "pfwh_" + secrets.token_hex(16),
                    now,
                ),
            )
            for key, mode in ((live, "live"), (test, "test")):
                conn.execute(
                    "INSERT INTO api_keys VALUES (?, ?, ?, ?, NULL)",
                    (hash_key(key), account_id, mode, now),
                )
            if credits:
                conn.execute(
                    "INSERT INTO ledger (account_id, job_id, kind, amount, created_at)"
                    " VALUES (?, NULL, 'grant', ?, ?)",
                    (account_id, credits, now),
                )
        return NewAccount(account_id, plan, credits, live, test)

    def account_count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM accounts").fetchone()[0])

    def get_account(self, account_id: str) -> Account:
        row = self._conn().execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
        if row is None:
            raise NotFound(account_id)
        return _account(row)

    def set_plan(
        self,
        account_id: str,
        plan: str,
        *,
        rate_limit: int | None = None,
        concurrency_limit: int | None = None,
    ) -> None:
        """Switch an account's plan (the local plan is a setting, spec §4)."""
        if plan not in PLANS:
            raise ValueError(f"unknown plan {plan!r}")
        with self._tx() as conn:
            conn.execute(
                "UPDATE accounts SET plan = ?, rate_limit = ?, concurrency_limit = ? WHERE id = ?",
                (plan, rate_limit, concurrency_limit, account_id),
            )

    def authenticate(self, key: str | None) -> Caller:
        """The caller behind `key`, or AuthError saying why not."""
        if not key:
            raise AuthError("Missing x-api-key header")
        if not KEY_PATTERN.match(key):
            raise AuthError("Malformed API key: expected ve_live_… or ve_test_…")
        row = (
            self._conn()
            .execute(
                "SELECT k.mode, k.revoked_at, a.* FROM api_keys k"
                " JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = ?",
                (hash_key(key),),
            )
            .fetchone()
        )
        if row is None:
            raise AuthError("Unknown API key")
        if row["revoked_at"] is not None:
            raise AuthError("API key has been revoked")
        return Caller(_account(row), row["mode"])

    def revoke_key(self, key: str) -> bool:
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_hash = ? AND revoked_at IS NULL",
                (now_iso(), hash_key(key)),
            )
            return cursor.rowcount == 1

    # -- credits --------------------------------------------------------------------------------

    def grant(self, account_id: str, amount: int) -> int:
        if amount <= 0:
            raise ValueError("a grant must be positive")
        with self._tx() as conn:
            self._ledger_add(conn, account_id, None, "grant", amount)
            return self._balance(conn, account_id)

    def ledger(self, account_id: str) -> list[LedgerEntry]:
        rows = self._conn().execute(
            "SELECT id, account_id, job_id, kind, amount FROM ledger"
            " WHERE account_id = ? ORDER BY id",
            (account_id,),
        )
        return [LedgerEntry(**dict(row)) for row in rows]

    # -- idempotency ----------------------------------------------------------------------------

    @staticmethod
    def _idempotency(
        conn: sqlite3.Connection, account_id: str, path: str, key: str, min_ts: float
    ) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT body_hash, job_id FROM idempotency"
            " WHERE account_id = ? AND path = ? AND key = ? AND created_ts >= ?",
            (account_id, path, key, min_ts),
        ).fetchone()
        return row

    def replay(
        self, account_id: str, path: str, key: str, body_hash: str, ttl: float
    ) -> SubmitResult | None:
        """The bound job for a replayed key (None when unbound); IdempotencyConflict when the
        key was bound to another body."""
        conn = self._conn()
        row = self._idempotency(conn, account_id, path, key, time.time() - ttl)
        if row is None:
            return None
        if row["body_hash"] != body_hash:
            raise IdempotencyConflict(key)
        job = self.get_job(row["job_id"])
        assert job is not None, "an idempotency record always names a stored job"
        return SubmitResult(job, self.balance(account_id), replayed=True)

    # -- jobs -----------------------------------------------------------------------------------

    def submit_job(
        self,
        caller: Caller,
        submission: Submission,
        *,
        concurrency_limit: int,
        idempotency: tuple[str, str, str] | None = None,
        idempotency_ttl: float = 24 * 3600.0,
    ) -> SubmitResult:
        """Create a queued job and reserve its credits in one transaction.

        Inside the transaction, in the contract's order: idempotency (a record written by a
        parallel request with the same key wins: this one becomes its replay), credits (live
        keys only), concurrency. `idempotency` is (path, key, body hash).
        """
        account_id = caller.account.id
        with self._tx() as conn:
            if idempotency is not None:
                path, key, body_hash = idempotency
                row = self._idempotency(conn, account_id, path, key, time.time() - idempotency_ttl)
                if row is not None:
                    if row["body_hash"] != body_hash:
                        raise IdempotencyConflict(key)
                    job = self._get_job(conn, row["job_id"])
                    assert job is not None
                    return SubmitResult(job, self._balance(conn, account_id), replayed=True)
            balance = self._balance(conn, account_id)
            live = caller.key_mode == "live"
            if live and balance < submission.estimated_credits:
                raise InsufficientCredits(submission.estimated_credits, balance)
            active = [
                _job(r)
                for r in conn.execute(
                    "SELECT * FROM jobs WHERE account_id = ? AND status IN ('queued','rendering')"
                    " ORDER BY seq",
                    (account_id,),
                )
            ]
            if len(active) >= concurrency_limit:
                raise ConcurrencyExceeded(concurrency_limit, active)
            job_id = str(uuid.uuid4())
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            reserved = submission.estimated_credits if live else 0
            conn.execute(
                "INSERT INTO jobs (id, seq, account_id, key_mode, status, progress, created_at,"
                " estimated_credits, reserved_credits, template_id, script, webhook_uri,"
                " base_url) VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    seq,
                    account_id,
                    caller.key_mode,
                    now_iso(),
                    submission.estimated_credits,
                    reserved,
                    submission.template_id,
                    submission.script,
                    submission.webhook_uri,
                    submission.base_url,
                ),
            )
            if reserved:
                self._ledger_add(conn, account_id, job_id, "reserve", -reserved)
            if idempotency is not None:
                path, key, body_hash = idempotency
                conn.execute(
                    "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                    (account_id, path, key, body_hash, job_id, time.time()),
                )
            job = self._get_job(conn, job_id)
            assert job is not None
            return SubmitResult(job, balance - reserved, replayed=False)

    @staticmethod
    def _get_job(conn: sqlite3.Connection, job_id: str) -> Job | None:
        row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def get_job(self, job_id: str, *, summary: bool = False) -> Job | None:
        """The job; with `summary`, its `script` is left empty (not read)."""
        if not summary:
            return self._get_job(self._conn(), job_id)
        sql = f"SELECT {self._job_summary} FROM jobs WHERE id = ?"
        row = self._conn().execute(sql, (job_id,)).fetchone()
        return None if row is None else _job(row)

    def owned_job(self, account_id: str, job_id: str, *, summary: bool = False) -> Job:
        """The job if this account owns it; NotFound for missing and foreign jobs alike."""
        job = self.get_job(job_id, summary=summary)
        if job is None or job.account_id != account_id:
            raise NotFound(job_id)
        return job

    def list_jobs(
        self,
        account_id: str,
        *,
        statuses: Sequence[str] | None,
        limit: int,
        after: tuple[str, str] | None,
        max_seq: int | None = None,
        summary: bool = False,
    ) -> list[Job]:
        """Newest first, ties by job_id (descending); `after` is the keyset position
        (created_at, job_id) of the last job of the previous page. `max_seq` hides jobs created
        after the first page was read: created_at has whole seconds, so a newer job could
        otherwise sort below the cursor and shift the later pages. With `summary`, scripts are
        left empty (not read)."""
        sql = f"SELECT {self._job_summary if summary else '*'} FROM jobs WHERE account_id = ?"
        params: list[Any] = [account_id]
        if max_seq is not None:
            sql += " AND seq <= ?"
            params.append(max_seq)
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params += list(statuses)
        if after is not None:
            sql += " AND (created_at < ? OR (created_at = ? AND id < ?))"
            params += [after[0], after[0], after[1]]
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        params.append(limit)
        return [_job(r) for r in self._conn().execute(sql, params)]

    def last_seq(self) -> int:
        """The newest job's sequence number (0 with no jobs): the snapshot of a listing."""
        row = self._conn().execute("SELECT COALESCE(MAX(seq), 0) FROM jobs").fetchone()
        return int(row[0])

    def active_jobs(self, account_id: str) -> list[Job]:
        rows = self._conn().execute(
            "SELECT * FROM jobs WHERE account_id = ? AND status IN ('queued','rendering')"
            " ORDER BY seq",
            (account_id,),
        )
        return [_job(r) for r in rows]

    def claim_next_job(self) -> Job | None:
        """Move the oldest queued job (any account) to `rendering`; None when none waits."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT id FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            now = time.time()
            conn.execute(
                "UPDATE jobs SET status = 'rendering', started_at = ?, started_ts = ? WHERE id = ?",
                (now_iso(now), now, row["id"]),
            )
            return self._get_job(conn, row["id"])

    def set_progress(self, job_id: str, progress: float) -> None:
        """Progress never decreases and only moves while rendering."""
        value = min(max(progress, 0.0), 0.999)
        with self._tx() as conn:
            conn.execute(
                "UPDATE jobs SET progress = MAX(progress, ?) WHERE id = ? AND status = 'rendering'",
                (value, job_id),
            )

    def complete_job(
        self, job_id: str, *, duration_seconds: float, output_path: str, credits_used: int
    ) -> Job | None:
        """Settle a rendering job: charge `credits_used` (capped at the reservation) and return
        the rest. None when the job is no longer rendering (a cancel won the race)."""
        with self._tx() as conn:
            job = self._get_job(conn, job_id)
            if job is None or job.status != "rendering":
                return None
            used = min(credits_used, job.reserved_credits) if job.key_mode == "live" else 0
            conn.execute(
                "UPDATE jobs SET status = 'completed', progress = 1, completed_at = ?,"
                " credits_used = ?, duration_seconds = ?, output_path = ? WHERE id = ?",
                (now_iso(), used, duration_seconds, output_path, job_id),
            )
            if job.reserved_credits:
                self._ledger_add(
                    conn, job.account_id, job_id, "settle", job.reserved_credits - used
                )
            return self._get_job(conn, job_id)

    def _end_job(
        self,
        conn: sqlite3.Connection,
        job: Job,
        status: str,
        error: tuple[str, str] | None,
    ) -> Job:
        conn.execute(
            "UPDATE jobs SET status = ?, completed_at = ?, credits_used = 0,"
            " error_code = ?, error_message = ? WHERE id = ?",
            (
                status,
                now_iso(),
                error[0] if error else None,
                error[1] if error else None,
                job.id,
            ),
        )
        if job.reserved_credits:
            self._ledger_add(conn, job.account_id, job.id, "refund", job.reserved_credits)
        ended = self._get_job(conn, job.id)
        assert ended is not None
        return ended

    def fail_job(self, job_id: str, code: str, message: str) -> Job | None:
        """Fail an active job and refund its whole reservation; None if it already ended."""
        with self._tx() as conn:
            job = self._get_job(conn, job_id)
            if job is None or not job.is_active:
                return None
            return self._end_job(conn, job, "failed", (code, message))

    def cancel_job(self, account_id: str, job_id: str) -> Job:
        """Cancel an owned active job (whole reservation back); InvalidState when terminal."""
        with self._tx() as conn:
            job = self._get_job(conn, job_id)
            if job is None or job.account_id != account_id:
                raise NotFound(job_id)
            if not job.is_active:
                raise InvalidState(job.status)
            return self._end_job(conn, job, "cancelled", None)

    def fail_interrupted(self, code: str, message: str) -> list[Job]:
        """Fail every job a previous process left queued or rendering, refunding each."""
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE status IN ('queued','rendering') ORDER BY seq"
            ).fetchall()
            return [self._end_job(conn, _job(r), "failed", (code, message)) for r in rows]

    # -- templates ------------------------------------------------------------------------------

    def create_template(
        self, account_id: str, name: str, script: Any, variables: list[str], is_public: bool
    ) -> Template:
        now = time.time()
        template_id = "tpl_" + secrets.token_hex(6)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO templates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    template_id,
                    account_id,
                    name,
                    int(is_public),
                    json.dumps(script, ensure_ascii=False),
                    json.dumps(variables),
                    now_iso(now),
                    now_iso(now),
                    now,
                ),
            )
        template = self.get_template(template_id)
        assert template is not None
        return template

    def get_template(self, template_id: str) -> Template | None:
        row = (
            self._conn().execute("SELECT * FROM templates WHERE id = ?", (template_id,)).fetchone()
        )
        return None if row is None else _template(row)

    def visible_templates(self, account_id: str) -> list[Template]:
        """The account's own templates and every public one, newest `updated_at` first."""
        rows = self._conn().execute(
            "SELECT * FROM templates WHERE account_id = ? OR is_public = 1"
            " ORDER BY updated_ts DESC, id DESC",
            (account_id,),
        )
        return [_template(r) for r in rows]

    def update_template(
        self,
        template_id: str,
        *,
        name: str | None = None,
        script: Any = None,
        variables: list[str] | None = None,
        is_public: bool | None = None,
    ) -> Template:
        now = time.time()
        sets = ["updated_at = ?", "updated_ts = ?"]
        params: list[Any] = [now_iso(now), now]
        if name is not None:
            sets.append("name = ?")
            params.append(name)
        if script is not None:
            sets += ["script = ?", "variables = ?"]
            params += [json.dumps(script, ensure_ascii=False), json.dumps(variables or [])]
        if is_public is not None:
            sets.append("is_public = ?")
            params.append(int(is_public))
        with self._tx() as conn:
            conn.execute(
                f"UPDATE templates SET {', '.join(sets)} WHERE id = ?", (*params, template_id)
            )
        template = self.get_template(template_id)
        if template is None:
            raise NotFound(template_id)
        return template

    def delete_template(self, template_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM templates WHERE id = ?", (template_id,))

    # -- webhooks -------------------------------------------------------------------------------

    def add_delivery(self, job: Job, body: bytes) -> int:
        assert job.webhook_uri is not None
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT INTO webhook_deliveries (job_id, account_id, url, body, state,"
                " created_at) VALUES (?, ?, ?, ?, 'pending', ?)",
                (job.id, job.account_id, job.webhook_uri, body, now_iso()),
            )
            return int(cursor.lastrowid or 0)

    def record_attempt(
        self, delivery_id: int, *, state: str, status: int | None, error: str | None
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?,"
                " last_status = ?, last_error = ? WHERE id = ?",
                (state, status, error, delivery_id),
            )

    def deliveries(self, *, job_id: str | None = None, state: str | None = None) -> list[Delivery]:
        sql = "SELECT id, job_id, account_id, url, body, attempts, state, last_status, last_error"
        sql += " FROM webhook_deliveries WHERE 1 = 1"
        params: list[Any] = []
        if job_id is not None:
            sql += " AND job_id = ?"
            params.append(job_id)
        if state is not None:
            sql += " AND state = ?"
            params.append(state)
        rows = self._conn().execute(sql + " ORDER BY id", params)
        return [Delivery(**{**dict(r), "body": bytes(r["body"])}) for r in rows]

    def purge_idempotency(self, ttl: float) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM idempotency WHERE created_ts < ?", (time.time() - ttl,))
