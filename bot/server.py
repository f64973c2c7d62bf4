"""The GitHub App webhook server: verify, dedupe, acknowledge at once, work per issue in the background.

Delivery format: https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.config import ConfigError, Settings
from bot.core.events import issue_for_branch
from bot.dedupe import DeliveryLog
from bot.signature import redact, verify_signature

log = logging.getLogger(__name__)

MAX_BODY = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB
MAX_PARALLEL = 4  # issues worked on at the same time; the rest wait their turn in order
Handler = Callable[..., None]
Job = tuple[str, dict, str]  # (event name, payload, delivery id)


class IssueQueues:
    """One FIFO per key, drained by its own thread: one key in order, different keys in parallel."""

    def __init__(self, run: Callable[[Job], None]) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending: dict[Hashable, deque[Job]] = {}

    def submit(self, key: Hashable, job: Job) -> None:
        """Queue behind earlier work for the same key, or start a worker for a key at rest."""
        with self._lock:
            if key in self._pending:
                self._pending[key].append(job)
                return
            self._pending[key] = deque([job])
        threading.Thread(target=self._drain, args=(key,), name=f"ml-intern-{key}", daemon=True).start()

    def _drain(self, key: Hashable) -> None:
        while True:
            with self._lock:
                queue = self._pending[key]
                if not queue:
                    del self._pending[key]
                    self._idle.notify_all()
                    return
                job = queue.popleft()
            self._run(job)

    def busy(self) -> int:
        """How many keys still have work queued or running."""
        with self._lock:
            return len(self._pending)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every queue is drained; False when the timeout came first."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)


def issue_key(payload: dict) -> tuple[str, int | None]:
    """(repo, issue or PR number); events without one share a per-repository queue."""
    repo = (payload.get("repository") or {}).get("full_name") or ""
    branch_issue = issue_for_branch(((payload.get("pull_request") or {}).get("head") or {}).get("ref") or "")
    if branch_issue is not None:
        return repo, branch_issue  # a push to the bot's PR belongs to the goal issue's queue
    for field in ("issue", "pull_request"):
        item = payload.get(field)
        if isinstance(item, dict) and isinstance(item.get("number"), int):
            return repo, item["number"]
    return repo, None


def _runner(handler: Handler, settings: Settings, max_parallel: int) -> Callable[[Job], None]:
    slots = threading.BoundedSemaphore(max_parallel)  # many busy issues must not exhaust the machine

    def run(job: Job) -> None:
        event, payload, delivery = job
        try:
            with slots:
                handler(event, payload, settings=settings)
        except Exception:  # noqa: BLE001 -- a crash is logged and the worker moves on to the next event
            log.error(
                "handler failed on %s (delivery %s):\n%s", event, delivery, redact(traceback.format_exc(), settings)
            )

    return run


def _check(settings: Settings) -> None:
    """Refuse to start rather than accept unsigned webhooks or fail at the first event."""
    if not settings.webhook_secret:
        raise ConfigError(
            "GITHUB_WEBHOOK_SECRET is not set: the server refuses unsigned webhooks; "
            "set it to the secret configured on the GitHub App or repository webhook"
        )
    settings.require_token()


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _parse(body: bytes, content_type: str) -> Any:
    """The payload; GitHub sends JSON, or a form field `payload` when the hook says so."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = parse_qs(body.decode("utf-8")).get("payload", [""])[0].encode("utf-8")
    return json.loads(body)


def create_app(settings: Settings, handler: Handler | None = None, *, max_parallel: int = MAX_PARALLEL) -> FastAPI:
    """The webhook app; `handler` defaults to `bot.handler.handle_event`; at most `max_parallel` issues at once."""
    _check(settings)
    if handler is None:
        from bot.handler import handle_event as handler
    deliveries = DeliveryLog(settings.workdir / "deliveries.sqlite")
    queues = IssueQueues(_runner(handler, settings, max_parallel))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if queues.busy():
            log.warning("shutting down with %d issue queue(s) unfinished; /retry on the issue resumes", queues.busy())
        deliveries.close()

    app = FastAPI(title="ml-intern-bot", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.queues, app.state.deliveries = queues, deliveries

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "busy": queues.busy()}

    @app.post("/webhook")
    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(413, "payload larger than GitHub's 25 MB limit")
        if not verify_signature(settings.webhook_secret or "", body, request.headers.get("X-Hub-Signature-256")):
            return _error(401, "missing or invalid X-Hub-Signature-256")
        event = request.headers.get("X-GitHub-Event")
        delivery = request.headers.get("X-GitHub-Delivery")
        if not event or not delivery:
            return _error(400, "missing X-GitHub-Event or X-GitHub-Delivery header")
        try:
            payload = _parse(body, request.headers.get("content-type", ""))
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"body is not valid JSON: {exc}")
        if not isinstance(payload, dict):
            return _error(400, "payload must be a JSON object")
        if event == "ping":
            return JSONResponse({"status": "pong", "zen": payload.get("zen")})
        if not deliveries.first_time(delivery, event):
            return JSONResponse({"status": "duplicate", "delivery": delivery})
        queues.submit(issue_key(payload), (event, payload, delivery))
        return JSONResponse({"status": "accepted", "delivery": delivery}, status_code=202)

    return app


def serve(settings: Settings, port: int = 8000, host: str = "0.0.0.0") -> None:
    """Run the webhook server (`ml-intern-bot serve`); every request must carry a valid signature."""
    import uvicorn

    app = create_app(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(app, host=host, port=port)
