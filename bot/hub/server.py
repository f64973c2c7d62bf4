"""The local Hub's app, served on a background thread (tests, playground) or in the foreground (CLI)."""

from __future__ import annotations

import signal
import socket
import threading
import time
from email.utils import formatdate
from pathlib import Path
from typing import Self

from fastapi import FastAPI

from bot.hub import api_files, api_jobs, api_repos, api_transfer, buckets, errors
from bot.hub.buckets import Buckets
from bot.hub.jobs import Jobs
from bot.hub.repos import Repos
from bot.hub.store import HubStore
from bot.hub.xet import XetStore

SEED_USER = "ml-intern"
SEED_ORGS = ("acme",)  # the playground's GitHub owner, the default Hub namespace of published repos


def create_app(store: HubStore) -> FastAPI:
    app = FastAPI(title="ml-intern-bot local Hub", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.repos = Repos(store)
    app.state.buckets = Buckets(store)
    app.state.xet = XetStore(store)
    app.state.jobs = Jobs(store, app.state.repos, app.state.buckets)
    errors.install(app)
    # Order matters: /api/jobs/... and /api/buckets/... before the generic /api/{kind}/{owner}/{name}.
    for router in (api_jobs.router, buckets.router, api_transfer.router, api_repos.router, api_files.router):
        app.include_router(router)
    return app


class ExactDate:
    """Stamp each response with the time it starts. uvicorn's own Date header is refreshed once a second
    and can lag by up to two; `fetch_job_logs(follow=False)` stops at events newer than Date + 1 s, so a
    lagging Date would hide the last lines of a job that just finished."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def stamped(message):
            if message["type"] == "http.response.start":
                date = formatdate(time.time(), usegmt=True).encode()
                message = {**message, "headers": [*message.get("headers", []), (b"date", date)]}
            await send(message)
        await self.app(scope, receive, stamped if scope["type"] == "http" else send)


class HubServer:
    """uvicorn serving a local Hub on a background thread; port 0 picks a free port."""

    def __init__(self, root: Path | HubStore, host: str = "127.0.0.1", port: int = 0):
        import uvicorn  # here, so `hub token add` starts without the web stack

        self.store = root if isinstance(root, HubStore) else HubStore(root)
        self.app = create_app(self.store)
        # IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted sockets (see bot/forge/server.py).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(ExactDate(self.app), log_level="warning", lifespan="off", date_header=False)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="hub-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local Hub did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop running jobs (stage ERROR), then the server."""
        self.app.state.jobs.stop_all()
        self._server.should_exit = True
        if self._thread:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(root: Path, host: str, port: int, user: str = SEED_USER, orgs: tuple[str, ...] = SEED_ORGS) -> int:
    """Print the endpoint and a write token (flushed: a parent process may read them), serve until
    Ctrl-C or SIGTERM."""
    store = HubStore(root)
    token = store.add_token(user, orgs)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with HubServer(store, host=host, port=port) as srv:
        print(f"hub endpoint: {srv.url}", flush=True)
        print(f"  use it with: HF_ENDPOINT={srv.url} HF_TOKEN=<token> (and HF_HUB_OFFLINE unset)", flush=True)
        print(f"  token {user} (orgs: {', '.join(orgs) or '-'}): {token}", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        print("hub stopped", flush=True)
    return 0
