"""The server's only local store: every verified delivery (and the job watcher's polls), persisted before it is acknowledged.

A delivery is `pending` from the moment it is accepted until its handling finished (`done`), so a
crash, a SIGKILL or a failed handler never loses acknowledged work: pending rows are resumed at
start-up, and failures are tried again later. A row that keeps failing becomes `dead`; a redelivery
of it (GitHub's "Redeliver" button) brings it back. Done rows keep only their ID, for dedupe.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# GitHub lets a delivery be redelivered for a few days; keep IDs well past that.
KEEP_SECONDS = 30 * 24 * 3600
Accepted = Literal["accepted", "pending", "duplicate", "requeued"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, event TEXT NOT NULL,
    key TEXT NOT NULL, payload TEXT, received REAL NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL DEFAULT 0, error TEXT);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (status, key, seq);
"""


@dataclass(frozen=True)
class Delivery:
    seq: int
    id: str
    event: str
    key: str
    payload: dict
    attempts: int


class Inbox:
    """A SQLite queue of deliveries, safe to share between request and worker threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an acknowledged delivery survives a power cut too
        self._db.executescript(SCHEMA)
        self._db.execute("DELETE FROM deliveries WHERE status='done' AND received < ?", (time.time() - KEEP_SECONDS,))

    def accept(self, delivery_id: str, event: str, key: str, payload: dict) -> Accepted:
        """Persist a new delivery. A repeat is `pending` while it waits its turn (it runs once), a `duplicate`
        once handled, and `requeued` when it had been set aside after failing."""
        with self._lock:
            row = self._db.execute("SELECT status FROM deliveries WHERE id=?", (delivery_id,)).fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO deliveries (id, event, key, payload, received) VALUES (?,?,?,?,?)",
                    (delivery_id, event, key, json.dumps(payload), time.time()),
                )
                return "accepted"
            if row[0] != "dead":
                return "duplicate" if row[0] == "done" else "pending"
            self._db.execute("UPDATE deliveries SET status='pending', attempts=0, next_at=0, error=NULL WHERE id=?",
                             (delivery_id,))
            return "requeued"

    def ready(self, busy: set[str], now: float | None = None) -> Delivery | None:
        """The oldest delivery whose key is idle and whose turn has come: each key strictly in order."""
        now = time.time() if now is None else now
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, id, event, key, payload, attempts, next_at FROM deliveries WHERE seq IN "
                "(SELECT MIN(seq) FROM deliveries WHERE status='pending' GROUP BY key) ORDER BY seq"
            ).fetchall()
        for seq, delivery_id, event, key, payload, attempts, next_at in rows:
            if key not in busy and next_at <= now:
                return Delivery(seq, delivery_id, event, key, json.loads(payload), attempts)
        return None

    def next_due(self) -> float | None:
        """When the earliest postponed delivery is due, so an idle worker knows how long to sleep."""
        with self._lock:
            row = self._db.execute("SELECT MIN(next_at) FROM deliveries WHERE status='pending'").fetchone()
        return row[0] if row and row[0] is not None else None

    def done(self, delivery_id: str) -> None:
        """Handled: keep the ID for dedupe, drop the payload."""
        self._set(delivery_id, "status='done', payload=NULL, error=NULL")

    def postpone(self, delivery_id: str, delay_s: float, error: str) -> None:
        """Handling failed: try again after `delay_s`, still ahead of later deliveries for its key."""
        self._set(delivery_id, "attempts=attempts+1, next_at=?, error=?", time.time() + delay_s, error)

    def bury(self, delivery_id: str, error: str) -> None:
        """Give up until someone redelivers it; later deliveries for its key go on."""
        self._set(delivery_id, "status='dead', attempts=attempts+1, error=?", error)

    def _set(self, delivery_id: str, assignments: str, *args: object) -> None:
        with self._lock:
            self._db.execute(f"UPDATE deliveries SET {assignments} WHERE id=?", (*args, delivery_id))

    def pending(self, key: str, event: str) -> bool:
        """Whether a delivery of `event` for `key` waits to be handled."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM deliveries WHERE key=? AND event=? AND status='pending' LIMIT 1",
                                   (key, event)).fetchone()
        return row is not None

    def repos(self) -> list[str]:
        """The repositories deliveries came from (keys are `owner/repo#issue`)."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT key FROM deliveries").fetchall()
        return sorted({key.rsplit("#", 1)[0] for (key,) in rows})

    def counts(self) -> dict[str, int]:
        """Deliveries per status: what /healthz reports."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall()
        return {status: count for status, count in rows}

    def close(self) -> None:
        """Release the database file."""
        with self._lock:
            self._db.close()
