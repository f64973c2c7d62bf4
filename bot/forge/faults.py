"""A TESTING AID: make the forge's REST API fail on purpose, the way GitHub sometimes does.

A fault answers one HTTP error status for the requests it matches (method, and a regex searched in
the path after /api/v3), a set number of times or until cleared:

- `when="before"` answers without touching the request: an outage (`status=503, times=0`), a
  502 from the load balancer, a rate limit.
- `when="after"` lets the forge do the work (a write is saved, its webhook goes out) and then
  answers the error instead: "a 500 after a saved write", which a client that retries must survive
  without doing the write twice.

Faults live in the forge's SQLite, so `ml-intern-bot forge --root DIR fault add ...` changes a
forge that another process is serving, at once. The error body has GitHub's shape
(https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api).
Never part of GitHub's behaviour on its own: nothing fires unless a fault was added.
"""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from typing import TYPE_CHECKING

from bot.forge.errors import error_body
from bot.forge.rows import Row

if TYPE_CHECKING:
    import sqlite3
    import threading

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

WHEN = ("before", "after")
log = logging.getLogger(__name__)


class FaultsMixin:
    """Fault rows; mixed into Forge, which provides q/x, the connection and the lock."""

    if TYPE_CHECKING:  # Forge's, as the methods below use them
        _lock: threading.RLock
        _db: sqlite3.Connection

        def q(self, sql: str, *args) -> list[Row]: ...
        def x(self, sql: str, *args) -> int: ...

    def add_fault(self, status: int, method: str | None = None, path: str | None = None,
                  when: str = "before", times: int = 1, message: str | None = None) -> int:
        """Make matching /api/v3 requests answer `status`; `times=0` keeps firing until cleared."""
        if not 400 <= int(status) <= 599:
            raise ValueError(f"status {status} is not an HTTP error status (400-599)")
        if when not in WHEN:
            raise ValueError(f"when must be one of {WHEN}, not {when!r}")
        if int(times) < 0:
            raise ValueError("times must be 0 (until cleared) or more")
        re.compile(path or "")  # a bad regex fails here, not on the next request
        return self.x("INSERT INTO faults (status, method, path, timing, times, fired, message, created_at) "
                      "VALUES (?,?,?,?,?,0,?,strftime('%Y-%m-%dT%H:%M:%SZ','now'))", int(status),
                      method.upper() if method else None, path or "", when, int(times), message)

    def clear_faults(self) -> int:
        """Remove every fault; returns how many there were."""
        with self._lock:
            return self._db.execute("DELETE FROM faults").rowcount

    def faults(self) -> list[Row]:
        """Every fault, oldest first, with `remaining` (None: until cleared) and `active`."""
        rows = self.q("SELECT * FROM faults ORDER BY id")
        for r in rows:
            r["when"] = r.pop("timing")
            r["remaining"] = None if r["times"] == 0 else max(0, r["times"] - r["fired"])
            r["active"] = r["remaining"] is None or r["remaining"] > 0
        return rows

    def fire_fault(self, method: str, path: str) -> Row | None:
        """Claim the oldest active fault matching a request, counting it as fired (atomically, so
        two processes never spend one `times=1` fault twice); None when none matches."""
        candidates = self.q("SELECT * FROM faults WHERE times=0 OR fired<times ORDER BY id")
        for f in candidates:
            if f["method"] not in (None, method.upper()) or not re.search(f["path"], path):
                continue
            with self._lock:
                claimed = self._db.execute("UPDATE faults SET fired=fired+1 WHERE id=? AND (times=0 OR "
                                           "fired<times)", (f["id"],)).rowcount
            if claimed:
                return f
        return None


class FaultMiddleware:
    """ASGI middleware on the REST API: checks each request against the active faults."""

    def __init__(self, app: ASGIApp, forge, prefix: str = "/api/v3"):
        from starlette.concurrency import run_in_threadpool

        self.app, self.forge, self.prefix, self._in_thread = app, forge, prefix, run_in_threadpool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self.prefix):
            return await self.app(scope, receive, send)
        fault = await self._in_thread(self.forge.fire_fault, scope["method"], path[len(self.prefix):] or "/")
        if fault is None:
            return await self.app(scope, receive, send)
        if fault["timing"] == "after":
            await self._run_and_discard(scope, receive)
        await _answer(send, fault)

    async def _run_and_discard(self, scope: Scope, receive: Receive) -> None:
        """Process the request fully (so its write is saved) and drop the real response."""
        async def swallow(message: Message) -> None:
            return None

        try:
            await self.app(scope, receive, swallow)
        except Exception:  # the fault's answer stands whatever the route did
            log.exception("forge: the request behind fault-after failed")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _answer(send: Send, fault: Row) -> None:
    status = fault["status"]
    body = json.dumps(error_body(status, fault["message"] or _phrase(status))).encode()
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
               (b"x-forge-fault", str(fault["id"]).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
