"""Webhook payloads shaped like GitHub's, delivered in order by one signed-POST worker per forge.

Headers follow https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers;
payloads validate against @octokit/webhooks-schemas (`issues$opened`, `pull_request$synchronize`...).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import queue
import threading
import uuid

import httpx

log = logging.getLogger(__name__)


def sign(secret: str | None, body: bytes) -> dict[str, str]:
    """X-Hub-Signature-256 (and the legacy sha1 header) for a body."""
    if not secret:
        return {}
    key = secret.encode()
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
            "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()}


class Hookshot:
    """One background worker that POSTs deliveries in order; failures are recorded, never raised."""

    def __init__(self, timeout: float = 10.0):
        self._queue: queue.Queue = queue.Queue()
        self._records: list[dict] = []
        self._lock = threading.Lock()
        self._timeout = timeout
        self._thread: threading.Thread | None = None
        self._stopped = False

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="forge-hookshot", daemon=True)
                self._thread.start()

    def enqueue(self, url: str, secret: str | None, event: str, payload: dict) -> dict:
        """Record a new delivery and queue it for sending."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        rec = {"id": str(uuid.uuid4()), "event": event, "action": payload.get("action"),
               "payload": copy.deepcopy(payload), "url": url, "body": body, "secret": secret,
               "status_code": None, "headers": {}, "error": None}
        with self._lock:
            self._records.append(rec)
        self._queue.put(rec)
        self._ensure_worker()
        return rec

    def redeliver(self, delivery_id: str) -> dict:
        """Queue the same body under the same delivery id again (GitHub's "Redeliver")."""
        with self._lock:
            old = next(r for r in self._records if r["id"] == delivery_id)
            rec = dict(old, status_code=None, headers={}, error=None, redelivery=True)
            self._records.append(rec)
        self._queue.put(rec)
        self._ensure_worker()
        return rec

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout) as client:
            while True:
                rec = self._queue.get()
                try:
                    if rec is None:
                        return
                    self._send(client, rec)
                finally:
                    self._queue.task_done()

    def _send(self, client: httpx.Client, rec: dict) -> None:
        """POST one delivery; the receiver's status (or the error) goes into the record."""
        headers = {"X-GitHub-Event": rec["event"], "X-GitHub-Delivery": rec["id"],
                   "X-GitHub-Hook-ID": "1", "User-Agent": "GitHub-Hookshot/forge",
                   "Content-Type": "application/json", **sign(rec["secret"], rec["body"])}
        rec["headers"] = headers
        try:
            resp = client.post(rec["url"], content=rec["body"], headers=headers)
            rec["status_code"] = resp.status_code
        except httpx.HTTPError as exc:  # a failing receiver must never take the forge down
            rec["status_code"], rec["error"] = 0, str(exc)
            log.warning("webhook delivery %s to %s failed: %s", rec["id"], rec["url"], exc)

    def wait(self, timeout: float = 10) -> bool:
        """Block until every queued delivery has been attempted."""
        done = threading.Event()

        def _join():
            self._queue.join()
            done.set()

        threading.Thread(target=_join, daemon=True).start()
        return done.wait(timeout)

    def deliveries(self) -> list[dict]:
        """Public view of the records (without the raw body and secret)."""
        with self._lock:
            return [{k: v for k, v in r.items() if k not in ("body", "secret")} for r in self._records]

    def stop(self) -> None:
        """Let the worker finish what is queued, then end it."""
        if self._thread and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5)


# --- payload builders (the forge's Views supply the objects) ----------------------------------
def _base(views, repo: dict, sender: str, action: str) -> dict:
    return {"action": action, "repository": views.repo(repo, webhook=True), "sender": views.user(sender)}


def issues_payload(views, repo: dict, issue: dict, sender: str, action: str, *, label: dict | None = None,
                   changes: dict | None = None) -> dict:
    """`issues` event (opened, edited, labeled, unlabeled, closed, reopened)."""
    out = _base(views, repo, sender, action)
    out["issue"] = views.issue(repo, issue)
    if label is not None:
        out["label"] = views.label(repo, label)
    if changes is not None:
        out["changes"] = changes
    return _order(out, ("action", "issue", "label", "changes", "repository", "sender"))


def comment_payload(views, repo: dict, issue: dict, comment: dict, sender: str, action: str,
                    changes: dict | None = None) -> dict:
    """`issue_comment` event (created, edited, deleted)."""
    out = _base(views, repo, sender, action)
    out.update(issue=views.issue(repo, issue), comment=views.comment(repo, comment))
    if changes is not None:
        out["changes"] = changes
    return _order(out, ("action", "changes", "issue", "comment", "repository", "sender"))


def pull_payload(views, repo: dict, issue: dict, sender: str, action: str, *, before: str | None = None,
                 after: str | None = None, changes: dict | None = None, label: dict | None = None) -> dict:
    """`pull_request` event (opened, synchronize, edited, closed, reopened, labeled, unlabeled)."""
    out = _base(views, repo, sender, action)
    out.update(number=issue["number"], pull_request=views.pull(repo, issue, webhook=True))
    if label is not None:
        out["label"] = views.label(repo, label)
    if before is not None:
        out.update(before=before, after=after)
    if changes is not None:
        out["changes"] = changes
    return _order(out, ("action", "number", "before", "after", "changes", "pull_request", "label",
                        "repository", "sender"))


def _order(d: dict, keys: tuple) -> dict:
    """Key order like GitHub's examples (readability of logs only)."""
    return {k: d[k] for k in keys if k in d}
