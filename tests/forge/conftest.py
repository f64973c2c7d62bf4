"""Fixtures local to the forge tests: a seeded forge, its server, PyGithub clients, a webhook receiver,
and a `requests` client that validates every answer against GitHub's OpenAPI description."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from github import Auth, Github
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.response.exceptions import InvalidData

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
        # A short poll interval: shutdown() waits for it, once per test.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# --- GitHub's OpenAPI description ---------------------------------------------------------------
def _allow_null_in_nullable_enums(node) -> None:
    """GitHub sends null where the spec says nullable but forgot null in the enum (README quirk)."""
    if isinstance(node, dict):
        if node.get("nullable") and isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"].append(None)
        for value in node.values():
            _allow_null_in_nullable_enums(value)
    elif isinstance(node, list):
        for value in node:
            _allow_null_in_nullable_enums(value)


@pytest.fixture(scope="session")
def spec() -> dict:
    """api.github.com.json as published (unpatched)."""
    return json.loads((SHARED_GITHUB / "api.github.com.json").read_text())


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    doc = json.loads((SHARED_GITHUB / "api.github.com.json").read_text())
    _allow_null_in_nullable_enums(doc)
    return OpenAPI.from_dict(doc, config=Config(spec_validator_cls=None))


class GitHubRequest(RequestsOpenAPIRequest):
    """The forge serves under http://host/api/v3; the spec's server is https://api.github.com."""

    @property
    def host_url(self) -> str:
        return "https://api.github.com"

    @property
    def path(self) -> str:
        return super().path.removeprefix("/api/v3")


class Client:
    """Calls the forge with `requests` and validates every response against the spec."""

    def __init__(self, server, tokens, openapi):
        self.server, self.tokens, self.openapi = server, tokens, openapi
        self.session = requests.Session()
        self.checked: list[tuple[str, str, int]] = []

    def call(self, method: str, path: str, as_user: str | None = "ml-intern[bot]", expect: int = 200,
             headers: dict | None = None, **kwargs) -> requests.Response:
        """`as_user=None` sends no Authorization header; an unknown name is sent as the token."""
        sent = {"Accept": "application/vnd.github+json", **(headers or {})}
        if as_user is not None:
            sent["Authorization"] = f"token {self.tokens.get(as_user, as_user)}"
        resp = self.session.request(method, self.server.api_url + path, headers=sent, **kwargs)
        assert resp.status_code == expect, (method, path, resp.status_code, resp.text[:500])
        try:
            self.openapi.validate_response(GitHubRequest(resp.request), RequestsOpenAPIResponse(resp))
        except (ResponseNotFound, PathNotFound, OperationNotFound):
            # GitHub leaves some error statuses undocumented per operation (and unknown routes have
            # no operation); they still carry the documented `basic-error` shape.
            self._basic_error(resp)
        except InvalidData as exc:
            # Some 422s are documented as oneOf(validation-error, repository-rule-violation-error),
            # two schemas any body without their optional keys satisfies both of: a spec quirk.
            if "is valid under each of" not in str(exc.__cause__ or exc):
                raise
            self._basic_error(resp)
        self.checked.append((method, path, resp.status_code))
        return resp

    @staticmethod
    def _basic_error(resp: requests.Response) -> None:
        assert resp.status_code >= 400, (resp.request.method, resp.request.url, resp.status_code)
        assert {"message", "documentation_url"} <= set(resp.json()), resp.text


@pytest.fixture
def api(server, tokens, openapi) -> Client:
    return Client(server, tokens, openapi)
