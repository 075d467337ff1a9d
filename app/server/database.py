"""One SQLite database file shared by the service's stores: a connection per thread, WAL,
write transactions that take the write lock up front, and the credit ledger both stores write."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path


def now_iso(ts: float | None = None) -> str:
    """ISO-8601 UTC with `Z`, whole seconds (spec §0)."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Database:
    """Base of `Store` and `SketchStore`: thread-local connections to `path`, created with
    `schema` (an idempotent script) on first use."""

    #: Human name for errors ("the store is closed").
    name = "the store"
    #: Enforce FOREIGN KEY constraints on this store's connections.
    foreign_keys = True

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(schema)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError(f"{self.name} is closed")
            conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=30.0, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            if self.foreign_keys:
                conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the database's write lock up front (serialises
        every credit movement) and commits or rolls back as a whole."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- the credit ledger (one table for both contracts' accounts) --------------------------

    @staticmethod
    def _balance(conn: sqlite3.Connection, account_id: str) -> int:
        row = conn.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE account_id = ?", (account_id,)
        ).fetchone()
        return int(row[0])

    def balance(self, account_id: str) -> int:
        """Credits available now: grants minus open reservations minus settled charges."""
        return self._balance(self._conn(), account_id)

    @staticmethod
    def _ledger_add(
        conn: sqlite3.Connection, account_id: str, job_id: str | None, kind: str, amount: int
    ) -> None:
        """One ledger row (`job_id`: the job or video it is for, if any)."""
        conn.execute(
            "INSERT INTO ledger (account_id, job_id, kind, amount, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (account_id, job_id, kind, amount, now_iso()),
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
