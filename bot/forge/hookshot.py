"""Webhook delivery: every delivery is a row in the forge's SQLite, sent in order by one worker thread.

Rows outlive the process, so `ml-intern-bot forge --root DIR deliveries` and `... redeliver GUID`
work from another process while the forge serves. Headers follow
https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers; a redelivery repeats
the exact body bytes and the X-GitHub-Delivery GUID, signed with the hook's current secret, like the
"Redeliver" button (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid

import httpx

log = logging.getLogger(__name__)

DELIVERIES_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY,             -- attempt order: oldest first
    guid TEXT NOT NULL,                  -- X-GitHub-Delivery; a redelivery repeats its original's
    hook_id INTEGER NOT NULL,
    event TEXT NOT NULL,                 -- X-GitHub-Event
    action TEXT,                         -- payload["action"]
    url TEXT NOT NULL,                   -- where it was (or will be) POSTed
    body BLOB NOT NULL,                  -- the exact bytes POSTed; the signature covers these
    headers TEXT,                        -- JSON of the request headers sent; NULL until sent
    status_code INTEGER,                 -- receiver's status; NULL while queued, 0 when no answer
    error TEXT,                          -- why there was no answer
    redelivery INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,            -- queued, ISO 8601 UTC
    delivered_at TEXT,                   -- sent, ISO 8601 UTC
    duration REAL                        -- seconds the receiver took
);
CREATE INDEX IF NOT EXISTS deliveries_guid ON deliveries (guid);
"""


def sign(secret: str | None, body: bytes) -> dict[str, str]:
    """X-Hub-Signature-256 (and the legacy sha1 header) for a body."""
    if not secret:
        return {}
    key = secret.encode()
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
            "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def public(row: dict) -> dict:
    """A delivery row as callers see it: GUID as `id`, payload decoded, no raw body, and the issue
    number and comment id it is about (None where the event has none), for picking one out."""
    payload = json.loads(row["body"])
    subject = payload.get("issue") or payload.get("pull_request") or {}
    out = {k: v for k, v in row.items() if k not in ("guid", "body")}
    out.update(id=row["guid"], payload=payload, headers=json.loads(row["headers"] or "{}"),
               redelivery=bool(row["redelivery"]), issue_number=subject.get("number"),
               comment_id=(payload.get("comment") or {}).get("id"))
    return out


class Hookshot:
    """Records deliveries in the forge's database and POSTs them in order from one worker thread.
    A failing receiver is recorded (status 0 and the error), never raised into the forge."""

    def __init__(self, forge, timeout: float = 10.0):
        self.forge = forge
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._timeout = timeout
        self._thread: threading.Thread | None = None

    # --- recording ------------------------------------------------------------------
    def enqueue(self, hook: dict, event: str, payload: dict) -> dict:
        """Record a new delivery to `hook` and queue it for sending."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        seq = self._insert(str(uuid.uuid4()), hook, event, payload.get("action"), body, redelivery=False)
        self._queue.put(seq)
        self._ensure_worker()
        return self.get(seq)

    def redeliver(self, guid: str, wait: bool = False) -> dict:
        """Send a past delivery again: same GUID, same body, to the hook's current URL and secret.
        `wait=True` sends it from the calling thread and returns the finished record."""
        first = self.forge.one("SELECT * FROM deliveries WHERE guid=? ORDER BY seq LIMIT 1", guid)
        if first is None:
            raise KeyError(f"no delivery with GUID {guid}")
        hook = self.forge.one("SELECT * FROM hooks WHERE id=?", first["hook_id"])
        if hook is None:
            raise KeyError(f"delivery {guid}: its hook {first['hook_id']} no longer exists")
        seq = self._insert(guid, hook, first["event"], first["action"], first["body"], redelivery=True)
        if wait:
            with httpx.Client(timeout=self._timeout) as client:
                self._send(client, seq)
        else:
            self._queue.put(seq)
            self._ensure_worker()
        return self.get(seq)

    def _insert(self, guid: str, hook: dict, event: str, action: str | None, body: bytes, redelivery: bool) -> int:
        return self.forge.x("INSERT INTO deliveries (guid, hook_id, event, action, url, body, redelivery, created_at)"
                            " VALUES (?,?,?,?,?,?,?,?)", guid, hook["id"], event, action, hook["url"], body,
                            int(redelivery), _now())

    def get(self, seq: int) -> dict:
        """One delivery attempt by its sequence number."""
        return public(self.forge.one("SELECT * FROM deliveries WHERE seq=?", seq))

    def deliveries(self) -> list[dict]:
        """Every delivery attempt, oldest first, from any process that shares the database."""
        return [public(r) for r in self.forge.q("SELECT * FROM deliveries ORDER BY seq")]

    # --- sending --------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="forge-hookshot", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout) as client:
            while True:
                seq = self._queue.get()
                try:
                    if seq is None:
                        return
                    self._send(client, seq)
                except Exception:  # one broken record must not stop the deliveries after it
                    log.exception("forge: delivery %s could not be sent", seq)
                finally:
                    self._queue.task_done()

    def _headers(self, row: dict, hook: dict) -> dict[str, str]:
        return {"X-GitHub-Event": row["event"], "X-GitHub-Delivery": row["guid"], "X-GitHub-Hook-ID": str(hook["id"]),
                "X-GitHub-Hook-Installation-Target-Type": "repository",
                "X-GitHub-Hook-Installation-Target-ID": str(hook["repo_id"]),
                "User-Agent": "GitHub-Hookshot/forge", "Content-Type": "application/json",
                **sign(hook["secret"], row["body"])}

    def _send(self, client: httpx.Client, seq: int) -> None:
        """POST one delivery, signed with its hook's secret now; record the answer or the error."""
        row = self.forge.one("SELECT * FROM deliveries WHERE seq=?", seq)
        hook = self.forge.one("SELECT * FROM hooks WHERE id=?", row["hook_id"])
        if hook is None:
            self._record(seq, {}, 0, "the hook no longer exists", 0.0)
            return
        headers, started = self._headers(row, hook), time.monotonic()
        try:
            status, error = client.post(row["url"], content=row["body"], headers=headers).status_code, None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # a failing receiver must never take the forge down
            status, error = 0, str(exc) or type(exc).__name__
            log.warning("webhook delivery %s to %s failed: %s", row["guid"], row["url"], error)
        self._record(seq, headers, status, error, time.monotonic() - started)

    def _record(self, seq: int, headers: dict, status: int, error: str | None, duration: float) -> None:
        self.forge.x("UPDATE deliveries SET headers=?, status_code=?, error=?, delivered_at=?, duration=? "
                     "WHERE seq=?", json.dumps(headers), status, error, _now(), round(duration, 3), seq)

    def wait(self, timeout: float = 10) -> bool:
        """Block until every delivery queued in this process has been attempted."""
        done = threading.Event()

        def _join():
            self._queue.join()
            done.set()

        threading.Thread(target=_join, daemon=True).start()
        return done.wait(timeout)

    def stop(self) -> None:
        """Let the worker finish what is queued, then end it."""
        if self._thread and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5)
