"""Fixtures local to the forge tests: a seeded forge, its server, PyGithub clients, a webhook receiver."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from github import Auth, Github

from bot.forge.server import ForgeServer, seed
from bot.forge.store import Forge

REPO = "acme/support-bot"
WORKFLOW = """name: ML intern training
on:
  workflow_dispatch:
    inputs:
      run_id:
        description: which run
        required: true
jobs:
  train:
    runs-on: ubuntu-latest
    steps:
      - run: echo train
"""
NO_THROTTLE = {"seconds_between_requests": None, "seconds_between_writes": None}
SHARED_GITHUB = Path(__file__).resolve().parents[2].parent / "shared" / "github"


@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    """A forge with acme/support-bot (README + a dispatchable workflow) and the demo users."""
    f = Forge(tmp_path / "forge")
    f.create_repo(REPO, owner_type="Organization",
                  files={"README.md": "# support-bot\n", ".github/workflows/train.yml": WORKFLOW})
    seed(f)
    yield f
    f.close()


@pytest.fixture
def tokens(forge: Forge) -> dict[str, str]:
    """login -> token for alice (read), maintainer (write), reader (read), ml-intern[bot] (write)."""
    return {login: forge.add_user(login) for login in ("alice", "maintainer", "reader", "ml-intern[bot]")}


@pytest.fixture
def server(forge: Forge):
    """The forge served over HTTP on a free port."""
    with ForgeServer(forge) as srv:
        yield srv


@pytest.fixture
def gh(server, tokens):
    """gh(login) -> a real PyGithub client for that user, pointed at the forge."""
    def make(login: str) -> Github:
        # PyGithub 2.x throttles by default (0.25 s per request, 1 s per write); the forge need not.
        return Github(base_url=server.api_url, auth=Auth.Token(tokens[login]), retry=None, **NO_THROTTLE)
    return make


class Receiver:
    """A tiny HTTP server that records webhook POSTs (headers + raw body)."""

    def __init__(self):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"headers": dict(self.headers), "body": body,
                                       "json": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
