"""The webhook server as GitHub sees it: signed deliveries in, fast acknowledgements out."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.config import ConfigError, Settings
from bot.edge import server
from bot.edge.signature import sign
from bot.playground.serving import free_port

SECRET = "webhook-secret-for-tests"
TOKEN = "ghp_token_for_tests_only"
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT.parent / "shared" / "github" / "webhooks-examples.json"


class Recorder:
    """A fake handler: records calls, optionally runs a per-call hook (sleep, raise, wait)."""

    def __init__(self, hook=None):
        self.calls: list[tuple[str, dict]] = []
        self.log: list[tuple[str, str, float]] = []  # (what, event id, time)
        self.hook = hook
        self.lock = threading.Lock()

    def __call__(self, event_name, payload, *, settings):
        assert isinstance(settings, Settings)
        with self.lock:
            self.calls.append((event_name, payload))
            self.log.append(("start", payload.get("id"), time.monotonic()))
        try:
            if self.hook:
                self.hook(event_name, payload)
        finally:
            with self.lock:
                self.log.append(("end", payload.get("id"), time.monotonic()))

    def span(self, event_id):
        """(start, end) times of one handled event."""
        times = {what: t for what, eid, t in self.log if eid == event_id}
        return times["start"], times["end"]


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = {"github_token": TOKEN, "webhook_secret": SECRET, "workdir": tmp_path / "work"}
    values.update(overrides)
    return Settings(**values)


def issue_payload(number: int, event_id: str, repo: str = "octo/ml") -> dict:
    """An `issues` opened payload with the fields the bot reads (`id` lets the fake handler tell events apart)."""
    return {"action": "opened", "id": event_id, "issue": {"number": number, "title": "t", "body": "b"},
            "repository": {"full_name": repo}, "sender": {"login": "alice", "type": "User"}}


def post(client, payload=None, *, event="issues", delivery=None, secret=SECRET, body=None, headers=None):
    """Deliver like GitHub: raw JSON body, HMAC-SHA256 signature, event and delivery headers."""
    body = json.dumps(payload).encode() if body is None else body
    sent = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
    }
    if secret is not None:
        sent["X-Hub-Signature-256"] = sign(secret, body)
    sent.update(headers or {})
    return client.post("/webhook", content=body, headers=sent)


@pytest.fixture
def app_with(tmp_path):
    """Build an app around a fake handler; returns (client, handler, app)."""
    clients = []

    def build(handler=None, max_parallel=server.MAX_PARALLEL, *, started=True, **overrides):
        handler = handler or Recorder()
        overrides.setdefault("retry_base_s", 0.01)
        app = server.create_app(make_settings(tmp_path, **overrides), handler=handler, max_parallel=max_parallel)
        client = TestClient(app)
        if started:  # entering the client runs the lifespan, which starts the workers
            client.__enter__()
            clients.append(client)
        return client, handler, app

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def drain(app, timeout=10.0):
    assert app.state.workers.join(timeout), "background work did not finish in time"


def test_signed_delivery_is_accepted_at_once_and_handled_in_the_background(app_with):
    gate = threading.Event()
    client, handler, app = app_with(Recorder(hook=lambda *_: gate.wait(10)))
    started = time.monotonic()
    response = post(client, issue_payload(1, "a"), delivery="d-1")
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "delivery": "d-1"}
    assert time.monotonic() - started < 2, "the acknowledgement must not wait for the handler"
    gate.set()
    drain(app)
    assert handler.calls == [("issues", issue_payload(1, "a"))]


def test_unsigned_delivery_is_401_and_has_no_side_effects(app_with):
    client, handler, app = app_with()
    response = post(client, issue_payload(1, "a"), delivery="d-1", secret=None)
    assert response.status_code == 401
    assert "X-Hub-Signature-256" in response.json()["detail"]
    # The rejected delivery was not recorded: the real one with the same ID is still accepted.
    assert post(client, issue_payload(1, "a"), delivery="d-1").status_code == 202
    drain(app)
    assert len(handler.calls) == 1


def test_wrong_signature_is_401_and_the_handler_is_not_called(app_with):
    client, handler, app = app_with()
    assert post(client, issue_payload(1, "a"), secret="not-the-secret").status_code == 401
    body = json.dumps(issue_payload(1, "a")).encode()
    tampered = {"X-Hub-Signature-256": sign(SECRET, body + b" ")}
    assert post(client, body=body, headers=tampered).status_code == 401
    drain(app)
    assert handler.calls == []


def test_repeated_delivery_id_is_handled_once(app_with):
    client, handler, app = app_with()
    assert post(client, issue_payload(1, "a"), delivery="same").status_code == 202
    drain(app)
    again = post(client, issue_payload(1, "a"), delivery="same")
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    drain(app)
    assert len(handler.calls) == 1


def test_a_redelivery_of_a_delivery_still_waiting_is_acknowledged_and_runs_once(app_with):
    gate = threading.Event()
    client, handler, app = app_with(Recorder(hook=lambda _e, p: p["id"] == "first" and gate.wait(10)))
    post(client, issue_payload(1, "first"))
    assert post(client, issue_payload(1, "waiting"), delivery="w").status_code == 202
    again = post(client, issue_payload(1, "waiting"), delivery="w")
    assert again.status_code == 202 and again.json()["status"] == "pending"
    gate.set()
    drain(app)
    assert [payload["id"] for _, payload in handler.calls] == ["first", "waiting"]


def test_dedupe_survives_a_restart(tmp_path, app_with):
    client, _, app = app_with()
    assert post(client, issue_payload(1, "a"), delivery="kept").status_code == 202
    drain(app)
    restarted, handler, _ = app_with()
    assert post(restarted, issue_payload(1, "a"), delivery="kept").json()["status"] == "duplicate"
    assert handler.calls == []
    assert (tmp_path / "work" / "deliveries.sqlite").is_file()


def test_malformed_json_is_400_with_a_message(app_with):
    client, handler, app = app_with()
    response = post(client, body=b'{"action": "opened",')
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]
    assert post(client, body=b"[1, 2]").status_code == 400
    drain(app)
    assert handler.calls == []


def test_missing_event_or_delivery_header_is_400(app_with):
    client, handler, _ = app_with()
    assert post(client, issue_payload(1, "a"), headers={"X-GitHub-Event": ""}).status_code == 400
    assert post(client, issue_payload(1, "a"), headers={"X-GitHub-Delivery": ""}).status_code == 400
    assert handler.calls == []


def test_form_encoded_delivery_is_understood(app_with):
    client, handler, app = app_with()
    body = urlencode({"payload": json.dumps(issue_payload(4, "form"))}).encode()
    response = post(client, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 202
    drain(app)
    assert handler.calls[0][1]["id"] == "form"


def test_ping_answers_pong_without_calling_the_handler(app_with):
    client, handler, _ = app_with()
    response = post(client, {"zen": "Keep it logically awesome.", "hook_id": 1}, event="ping")
    assert response.status_code == 200
    assert response.json() == {"status": "pong", "zen": "Keep it logically awesome."}
    assert handler.calls == []


def test_healthz(app_with):
    client, _, _ = app_with()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_one_issue_in_order_different_issues_in_parallel(app_with):
    issue2_started = threading.Event()
    overlapped = []

    def hook(_event, payload):
        if payload["id"] == "1a":  # holds issue 1 until issue 2's event runs beside it
            overlapped.append(issue2_started.wait(10))
            time.sleep(0.2)
        elif payload["id"] == "2a":
            issue2_started.set()

    client, handler, app = app_with(Recorder(hook=hook))
    for number, event_id in [(1, "1a"), (1, "1b"), (1, "1c"), (2, "2a")]:
        assert post(client, issue_payload(number, event_id)).status_code == 202
    drain(app)
    assert overlapped == [True], "issue 2's event should run while issue 1's first event is still running"
    order = [eid for what, eid, _ in handler.log if what == "start" and eid.startswith("1")]
    assert order == ["1a", "1b", "1c"]
    assert handler.span("1a")[1] <= handler.span("1b")[0] <= handler.span("1b")[1] <= handler.span("1c")[0]


def test_same_number_in_different_repositories_runs_in_parallel(app_with):
    other_started = threading.Event()
    seen = []

    def hook(_event, payload):
        if payload["id"] == "x":
            seen.append(other_started.wait(10))
        else:
            other_started.set()

    client, _, app = app_with(Recorder(hook=hook))
    post(client, issue_payload(1, "x", repo="octo/one"))
    post(client, issue_payload(1, "y", repo="octo/two"))
    drain(app)
    assert seen == [True]


def test_parallel_work_is_capped(app_with):
    running, peak, lock = [0], [0], threading.Lock()

    def hook(_event, _payload):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    client, handler, app = app_with(Recorder(hook=hook), max_parallel=2)
    for number in range(1, 7):
        post(client, issue_payload(number, f"n{number}"))
    drain(app)
    assert len(handler.calls) == 6
    assert peak[0] <= 2


def test_default_handler_is_the_bots_handle_event(tmp_path, monkeypatch):
    import bot.shell.handler

    recorder = Recorder()
    monkeypatch.setattr(bot.shell.handler, "handle_event", recorder)
    app = server.create_app(make_settings(tmp_path))
    with TestClient(app) as client:
        assert post(client, issue_payload(9, "default")).status_code == 202
        drain(app)
    assert recorder.calls == [("issues", issue_payload(9, "default"))]


def _examples():
    return {group["name"]: group["examples"] for group in json.loads(EXAMPLES.read_text())}


def test_a_push_to_the_bots_branch_is_queued_with_its_goal_issue():
    sync = json.loads(json.dumps(next(e for e in _examples()["pull_request"] if e["action"] == "synchronize")))
    sync["pull_request"]["head"]["ref"] = "ml-intern/issue-12"
    assert server.route("pull_request", sync, "ml-intern[bot]") == f"{sync['repository']['full_name']}#12"


def test_a_comment_on_the_bots_pr_is_queued_with_its_goal_issue_but_a_strangers_marker_is_not():
    from bot.core.routing import pr_marker

    comment = json.loads(json.dumps(_examples()["issue_comment"][0]))
    repo = comment["repository"]["full_name"]
    assert server.route("issue_comment", comment, "ml-intern[bot]") == f"{repo}#{comment['issue']['number']}"
    comment["issue"].update(pull_request={"url": "x"}, number=40, body=f"scripts\n{pr_marker(12)}")
    comment["issue"]["user"] = {"login": "ml-intern[bot]", "type": "Bot"}
    assert server.route("issue_comment", comment, "ml-intern[bot]") == f"{repo}#12"
    comment["issue"]["user"] = {"login": "mallory", "type": "User"}
    assert server.route("issue_comment", comment, "ml-intern[bot]") == f"{repo}#40"


def test_events_the_bot_does_not_act_on_are_answered_and_not_stored(app_with):
    client, handler, app = app_with()
    response = post(client, {"action": "created", "repository": {"full_name": "o/r"}}, event="star")
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    drain(app)
    assert handler.calls == [] and app.state.inbox.counts() == {}


@pytest.mark.parametrize("change, field", [
    (lambda p: p.update(repository="octo/ml"), "repository"),
    (lambda p: p["issue"].update(number=True), "issue.number"),
    (lambda p: p["issue"].update(number="5"), "issue.number"),
    (lambda p: p.pop("sender"), "sender"),
])
def test_a_signed_payload_of_the_wrong_shape_is_400_and_does_not_burn_its_delivery(app_with, change, field):
    client, handler, app = app_with()
    bad = issue_payload(1, "bad")
    change(bad)
    response = post(client, bad, delivery="shape-1")
    assert response.status_code == 400 and field in response.json()["detail"]
    assert post(client, issue_payload(1, "good"), delivery="shape-1").status_code == 202
    drain(app)
    assert [payload["id"] for _, payload in handler.calls] == ["good"]


def test_deeply_nested_json_is_400_not_a_crash(app_with):
    client, handler, _ = app_with()
    response = post(client, body=b"[" * 100_000 + b"]" * 100_000)
    assert response.status_code == 400
    assert handler.calls == []


def test_a_body_declared_over_25_mb_is_refused_before_it_is_read(app_with):
    client, handler, _ = app_with()
    response = post(client, body=b"{}", headers={"Content-Length": str(26 * 1024 * 1024)}, secret=None)
    assert response.status_code == 413
    assert handler.calls == []


def test_acknowledged_deliveries_survive_a_stop_before_they_ran(app_with):
    """Regression: the work lived only in memory, so a kill lost acknowledged deliveries."""
    client, _, stopped = app_with(started=False)
    for n in range(5):
        assert post(client, issue_payload(n, f"e{n}"), delivery=f"d{n}").status_code == 202
    assert stopped.state.inbox.counts() == {"pending": 5}
    stopped.state.inbox.close()
    restarted, handler, app = app_with()
    drain(app)
    assert sorted(payload["id"] for _, payload in handler.calls) == [f"e{n}" for n in range(5)]
    assert app.state.inbox.counts() == {"done": 5}
    assert post(restarted, issue_payload(0, "e0"), delivery="d0").json()["status"] == "duplicate"


def test_a_transient_failure_is_tried_again_later_in_order(app_with):
    import requests

    failures = [requests.ConnectionError("GitHub is down")] * 2

    def hook(_event, payload):
        if payload["id"] == "first" and failures:
            raise failures.pop()

    client, handler, app = app_with(Recorder(hook=hook))
    post(client, issue_payload(1, "first"))
    post(client, issue_payload(1, "second"))
    drain(app)
    assert [payload["id"] for _, payload in handler.calls] == ["first", "first", "first", "second"]
    assert app.state.inbox.counts() == {"done": 2}


def test_a_delivery_set_aside_after_repeated_crashes_can_be_redelivered(app_with):
    crash = [True]

    def hook(_event, payload):
        if crash[0]:
            raise RuntimeError("bug")

    client, handler, app = app_with(Recorder(hook=hook))
    post(client, issue_payload(1, "x"), delivery="again")
    drain(app)
    assert len(handler.calls) == server.BUG_ATTEMPTS and app.state.inbox.counts() == {"dead": 1}
    crash[0] = False
    assert post(client, issue_payload(1, "x"), delivery="again").json()["status"] == "requeued"
    drain(app)
    assert app.state.inbox.counts() == {"done": 1}


def test_a_crashing_handler_is_logged_without_secrets_and_the_next_event_still_runs(app_with, caplog):
    def hook(_event, payload):
        if payload["id"] == "boom":
            raise RuntimeError(f"GitHub said no to token {TOKEN} and secret {SECRET}")

    client, handler, app = app_with(Recorder(hook=hook))
    with caplog.at_level(logging.ERROR, logger="bot.edge.workers"):
        post(client, issue_payload(1, "boom"))
        post(client, issue_payload(1, "after"))
        drain(app)
    assert [payload["id"] for _, payload in handler.calls] == ["boom"] * server.BUG_ATTEMPTS + ["after"]
    assert handler.span("after")[1] > 0
    logged = caplog.text
    assert "handler failed on issues" in logged and "RuntimeError" in logged
    assert TOKEN not in logged and SECRET not in logged


def test_refuses_to_start_without_a_webhook_secret(tmp_path):
    with pytest.raises(ConfigError, match="GITHUB_WEBHOOK_SECRET"):
        server.create_app(make_settings(tmp_path, webhook_secret=None), handler=Recorder())
    with pytest.raises(ConfigError, match="GITHUB_WEBHOOK_SECRET"):
        server.serve(make_settings(tmp_path, webhook_secret=""), port=0)


def test_refuses_to_start_without_a_github_token(tmp_path):
    with pytest.raises(ConfigError, match="GITHUB_TOKEN"):
        server.create_app(make_settings(tmp_path, github_token=None), handler=Recorder())


def cli(*args, env, **kwargs):
    """`ml-intern-bot ...` as a user runs it (through the module, so no install is needed)."""
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], env={**base, **env}, text=True, **kwargs)


def test_serve_command_refuses_to_start_without_a_secret(tmp_path):
    proc = cli("serve", "--port", "0", env={"GITHUB_TOKEN": TOKEN}, stderr=subprocess.PIPE, cwd=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "GITHUB_WEBHOOK_SECRET is not set" in err


def test_serve_command_answers_signed_deliveries_over_http(tmp_path):
    port = free_port()
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_WEBHOOK_SECRET": SECRET, "ML_INTERN_WORKDIR": str(tmp_path / "work")}
    proc = cli("serve", "--host", "127.0.0.1", "--port", str(port), env=env, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"{url}/healthz", timeout=1).json()["status"] == "ok"
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        body = json.dumps({"zen": "Design for failure."}).encode()
        headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "p-1", "Content-Type": "application/json"}
        unsigned = httpx.post(f"{url}/webhook", content=body, headers=headers, timeout=5)
        assert unsigned.status_code == 401
        signed = httpx.post(
            f"{url}/webhook", content=body, headers={**headers, "X-Hub-Signature-256": sign(SECRET, body)}, timeout=5
        )
        assert signed.status_code == 200 and signed.json()["status"] == "pong"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert TOKEN not in err and SECRET not in err
