"""`ml-intern-bot forge ...` as separate processes on the root another process serves.

One server process (`ml-intern-bot forge --root DIR --port 0`) serves the module; every command
is its own process, through the same entry point users run (bot/cli.py forwards to
bot/forge/server.py's main)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from github import Auth, Github, GithubException

from tests.forge.conftest import NO_THROTTLE, REPO, Receiver

ROOT_DIR = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def cli(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`ml-intern-bot forge --root ROOT --port 1 ARGS` in its own process (--port is always passed)."""
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "forge", "--root", str(root), "--port", "1", *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT_DIR, env=ENV)
    if check:
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def _lines_of(proc: subprocess.Popen) -> queue.Queue:
    """A queue fed with the process's stdout lines by a reader thread (no blocking reads in tests)."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in proc.stdout], daemon=True).start()
    return lines


def _read_until(lines: queue.Queue, prefix: str, timeout: float = 30) -> list[str]:
    """Lines up to and including the first that starts with `prefix`."""
    seen = []
    try:
        while not (seen and seen[-1].startswith(prefix)):
            seen.append(lines.get(timeout=timeout))
    except queue.Empty:
        raise AssertionError(f"no {prefix!r} line from the forge: {seen}") from None
    return seen


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(root, api_url, tokens) of a forge served by another process."""
    root = tmp_path_factory.mktemp("served") / "forge"
    log = root.parent / "stderr.log"
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "forge", "--root", str(root), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=log.open("w"), text=True, cwd=ROOT_DIR, env=ENV)
    try:
        stdout = _lines_of(proc)
        lines = _read_until(stdout, "forge API: ")
        lines += _read_until(stdout, "  token ml-intern[bot]: ")
        api = next(line.split(": ", 1)[1] for line in lines if line.startswith("forge API: "))
        tokens = dict(line.strip().removeprefix("token ").split(": ", 1) for line in lines if "token " in line)
        yield root, api, tokens
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
        assert "forge stopped" in _read_until(stdout, "forge stopped", timeout=5)[-1]


def client(api: str, token: str) -> Github:
    return Github(base_url=api, auth=Auth.Token(token), retry=None, **NO_THROTTLE)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _until(check, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return result


def test_user_add_prints_a_stable_token_and_the_server_obeys_it_at_once(served):
    root, api, _ = served
    first = cli(root, "user", "add", "carol", "--permission", "write").stdout.splitlines()
    token = first[-1]
    carol = client(api, token).get_repo(REPO)
    carol.create_label("from-carol", "00ff00")
    again = cli(root, "user", "add", "carol", "--permission", "read").stdout.splitlines()
    assert again[-1] == token and "read on acme/support-bot" in again[0]
    with pytest.raises(GithubException) as err:
        carol.create_label("refused", "00ff00")
    assert err.value.status == 403
    helper = cli(root, "user", "add", "helper", "--bot", "--permission", "triage").stdout.splitlines()[-1]
    assert client(api, helper).get_user().type == "Bot"
    assert carol.get_collaborator_permission("helper") == "read"  # triage reads as "read"


def test_hooks_deliveries_and_redelivery_from_other_processes(served, receiver):
    root, api, tokens = served
    hook_id = cli(root, "hook", "add", "--url", receiver.url, "--secret", "one").stdout.strip()
    assert cli(root, "hook", "add", "--url", receiver.url, "--secret", "two").stdout.strip() == hook_id
    client(api, tokens["alice"]).get_repo(REPO).create_issue(title="via the CLI's hook")
    _until(lambda: receiver.requests)
    first = receiver.requests[0]
    guid = first["headers"]["X-GitHub-Delivery"]
    assert first["headers"]["X-Hub-Signature-256"] == "sha256=" + hmac.new(b"two", first["body"],
                                                                          hashlib.sha256).hexdigest()
    listed = _until(lambda: [d for d in json.loads(cli(root, "deliveries", "--json").stdout)
                             if d["id"] == guid and d["status_code"] is not None])
    assert [(d["event"], d["action"], d["status_code"], d["redelivery"]) for d in listed] == [
        ("issues", "opened", 204, False)]
    redelivered = cli(root, "redeliver", guid)
    assert redelivered.stdout.strip() == "204"
    assert [r["headers"]["X-GitHub-Delivery"] for r in receiver.requests] == [guid, guid]
    assert receiver.requests[1]["body"] == first["body"]
    assert receiver.requests[1]["headers"]["X-Hub-Signature-256"] == first["headers"]["X-Hub-Signature-256"]
    table = [line.split() for line in cli(root, "deliveries").stdout.splitlines() if line.startswith(guid)]
    assert table == [[guid, "issues", "opened", "204"], [guid, "issues", "opened", "204", "redelivery"]]
    unknown = cli(root, "redeliver", "no-such-guid", check=False)
    assert unknown.returncode == 2 and "no delivery with GUID no-such-guid" in unknown.stderr


def test_faults_from_the_cli_reach_the_running_server(served):
    root, api, tokens = served
    headers = {"Authorization": f"token {tokens['maintainer']}"}
    assert cli(root, "fault", "add", "--status", "503", "--times", "0").stdout.strip().isdigit()
    for _ in range(2):
        down = httpx.get(f"{api}/repos/{REPO}", headers=headers)
        assert down.status_code == 503 and down.json()["message"] == "Service Unavailable"
    assert [f["fired"] for f in json.loads(cli(root, "fault", "list", "--json").stdout)] == [2]
    assert cli(root, "fault", "clear").stdout.strip() == "cleared 1 fault(s)"
    cli(root, "fault", "add", "--status", "500", "--method", "POST", "--path", "/issues$", "--when", "after")
    saved = httpx.post(f"{api}/repos/{REPO}/issues", headers=headers, json={"title": "saved, then 500"})
    assert saved.status_code == 500
    titles = [i["title"] for i in httpx.get(f"{api}/repos/{REPO}/issues", headers=headers).json()]
    assert "saved, then 500" in titles
    assert httpx.post(f"{api}/repos/{REPO}/issues", headers=headers, json={"title": "ok"}).status_code == 201
    bad = cli(root, "fault", "add", "--status", "42", check=False)
    assert bad.returncode == 2 and "400-599" in bad.stderr


def test_a_fresh_root_is_seeded_and_other_repos_are_created(tmp_path):
    root = tmp_path / "fresh"
    out = cli(root, "user", "add", "dave", "--permission", "maintain").stdout.splitlines()
    assert out[-1].startswith("forge_")
    cli(root, "user", "add", "dave", "--permission", "admin", "--repo", "dave/tools")
    from bot.forge.store import Forge

    forge = Forge(root)
    try:
        assert forge.explicit_role(forge.repo(REPO), "dave") == "maintain"
        assert forge.explicit_role(forge.repo(REPO), "alice") == "read"  # seeded like `serve`
        assert forge.explicit_role(forge.repo("dave/tools"), "dave") == "admin"
    finally:
        forge.close()
    bad_hook = cli(root, "hook", "add", "--url", "not-a-url", "--secret", "s", check=False)
    assert bad_hook.returncode == 2 and "http(s) URL" in bad_hook.stderr
    helptext = subprocess.run([sys.executable, "-m", "bot.forge", "fault", "add", "--help"], capture_output=True,
                              text=True, cwd=ROOT_DIR, env=ENV).stdout
    assert "TESTING AID" in helptext
