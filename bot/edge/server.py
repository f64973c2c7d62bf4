"""The GitHub App webhook server: verify, persist, acknowledge at once, work per issue in the background.

Delivery format: https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers
The body is read in chunks up to GitHub's 25 MB cap, its signature checked before it is parsed,
and its shape checked before it is acknowledged: a delivery is either refused with a status that
says why (and can be sent again), or persisted in the inbox before the 202 goes out.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.config import ConfigError, Settings
from bot.core.events import MalformedEvent, parse_event
from bot.core.routing import goal_of
from bot.edge.inbox import Delivery, Inbox
from bot.edge.signature import PREFIX, signer
from bot.edge.watcher import Watcher
from bot.edge.workers import BUG_ATTEMPTS, WorkerPool  # noqa: F401 -- BUG_ATTEMPTS: the server's documented policy
from bot.errors import redact
from bot.shell.follow import Lister, training_issues
from runners.local import stop_all as stop_smoke_tests

log = logging.getLogger(__name__)

MAX_BODY = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB
MAX_PARALLEL = 4  # issues worked on at the same time; the rest wait their turn in order
STOP_GRACE_S = 20.0  # on SIGTERM, running handlers get this long; the rest stays pending for the next start
Handler = Callable[..., None]


class Refused(Exception):
    """A delivery the server answers with an error status; nothing was stored, so it may be sent again."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


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


async def read_signed_body(request: Request, secret: str) -> bytes:
    """The raw body, read in chunks up to MAX_BODY, with its HMAC computed on the way; Refused otherwise."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise Refused(413, "payload larger than GitHub's 25 MB limit")
    header = request.headers.get("x-hub-signature-256") or ""
    if not header.startswith(PREFIX):
        raise Refused(401, "missing or invalid X-Hub-Signature-256")
    mac, chunks, size = signer(secret), [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Refused(413, "payload larger than GitHub's 25 MB limit")
        mac.update(chunk)
        chunks.append(chunk)
    expected = (PREFIX + mac.hexdigest()).encode("ascii")
    if not hmac.compare_digest(expected, header.strip().encode("utf-8", "replace")):
        raise Refused(401, "missing or invalid X-Hub-Signature-256")
    return b"".join(chunks)


def parse_payload(body: bytes, content_type: str) -> dict:
    """The payload object; GitHub sends JSON, or a form field `payload` when the hook says so."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            body = parse_qs(body.decode("utf-8")).get("payload", [""])[0].encode("utf-8")
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Refused(400, f"body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(payload, dict):
        raise Refused(400, "payload must be a JSON object")
    return payload


def route(event: str, payload: dict, bot_login: str) -> str | None:
    """The queue key (`owner/repo#issue`) of a delivery, None when the bot has nothing to do with it."""
    try:
        parsed = parse_event(event, payload)
    except MalformedEvent as exc:
        raise Refused(400, f"malformed {event} payload: {exc}") from None
    if parsed is None:
        return None
    return f"{parsed.repo}#{goal_of(payload, bot_login)}"


def _work(handler: Handler, settings: Settings) -> Callable[[Delivery], None]:
    def work(delivery: Delivery) -> None:
        handler(delivery.event, delivery.payload, settings=settings)

    return work


def create_app(settings: Settings, handler: Handler | None = None, *, max_parallel: int = MAX_PARALLEL,
               lister: Lister | None = None) -> FastAPI:
    """The webhook app; `handler` defaults to `bot.shell.handler.handle_event`; at most `max_parallel` issues at once."""
    _check(settings)
    if handler is None:
        from bot.shell.handler import handle_event, warm_up

        warm_up()
        handler = handle_event
    inbox = Inbox(settings.workdir / "deliveries.sqlite")
    workers = WorkerPool(inbox, _work(handler, settings), size=max_parallel, retry_base_s=settings.retry_base_s,
                         redact=lambda text: redact(text, settings))

    watcher = Watcher(inbox, workers.wake, lister or training_issues(settings), settings.poll_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers.start()
        watcher.start()
        yield
        app.state.stopping = True
        watcher.stopped.set()  # training jobs run on: the next start follows them again
        stop_smoke_tests()  # a smoke test cannot finish in the grace period: `/retry` runs it again
        left = workers.stop(STOP_GRACE_S)
        if left:
            log.warning("stopped with %d issue(s) still running; their deliveries stay pending and resume "
                        "at the next start (`/retry` on the issue resumes interrupted work)", len(left))
        inbox.close()

    app = FastAPI(title="ml-intern-bot", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.workers, app.state.inbox, app.state.watcher, app.state.stopping = workers, inbox, watcher, False

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "stopping" if app.state.stopping else "ok", "busy": workers.busy(),
                "deliveries": inbox.counts()}

    @app.post("/webhook")
    async def webhook(request: Request) -> JSONResponse:
        if app.state.stopping:
            return _error(503, "the server is shutting down; redeliver this delivery once it is back")
        try:
            return _accept(request, await read_signed_body(request, settings.webhook_secret or ""))
        except Refused as refused:
            return _error(refused.status, refused.detail)

    def _accept(request: Request, body: bytes) -> JSONResponse:
        event = request.headers.get("X-GitHub-Event")
        delivery = request.headers.get("X-GitHub-Delivery")
        if not event or not delivery:
            raise Refused(400, "missing X-GitHub-Event or X-GitHub-Delivery header")
        payload = parse_payload(body, request.headers.get("content-type", ""))
        if event == "ping":
            return JSONResponse({"status": "pong", "zen": payload.get("zen")})
        key = route(event, payload, settings.bot_login)
        if key is None:
            return JSONResponse({"status": "ignored", "delivery": delivery})
        status = inbox.accept(delivery, event, key, payload)
        if status == "duplicate":
            return JSONResponse({"status": "duplicate", "delivery": delivery})
        workers.wake()
        return JSONResponse({"status": status, "delivery": delivery}, status_code=202)

    return app


def serve(settings: Settings, port: int = 8000, host: str = "0.0.0.0") -> None:
    """Run the webhook server (`ml-intern-bot serve`); every request must carry a valid signature."""
    import uvicorn

    from bot.offline import hub_online, prepare_offline

    _check(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if prepare_offline(settings.workdir / "hf-home", hub_online()):
        log.info("the Hub is unreachable: working offline with the packaged %s", "all-MiniLM-L6-v2")
    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=int(STOP_GRACE_S) + 5)
