"""The server's only local store: delivery IDs already accepted, so a redelivery is dropped."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

# GitHub lets a delivery be redelivered for a few days; keep IDs well past that.
KEEP_SECONDS = 30 * 24 * 3600


class DeliveryLog:
    """A SQLite table of `X-GitHub-Delivery` IDs, safe to share between request threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, event TEXT, received REAL NOT NULL)"
        )
        self._db.execute("DELETE FROM deliveries WHERE received < ?", (time.time() - KEEP_SECONDS,))

    def first_time(self, delivery_id: str, event: str = "") -> bool:
        """Record the ID; True when it was new, False for a repeat (atomic, so racing repeats lose)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO deliveries (id, event, received) VALUES (?, ?, ?)",
                (delivery_id, event, time.time()),
            )
            return cur.rowcount == 1

    def close(self) -> None:
        """Release the database file."""
        with self._lock:
            self._db.close()
