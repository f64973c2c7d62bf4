"""Deliveries live in the forge's SQLite, so a second process (here: a second Forge on the same root)
lists and redelivers them, and its hooks, users and roles reach the serving forge at once."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid

import httpx
import pytest
from github import GithubException

from bot.forge.store import Forge
from tests.forge.conftest import REPO

SECRET = "s3cret"


def _signed(req: dict, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), req["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(req["headers"]["X-Hub-Signature-256"], expected)


@pytest.fixture
def other(forge):
    """Another connection to the same root, as the CLI process opens it."""
    second = Forge(forge.root)
    yield second
    second.close()


def test_connections_use_wal_and_a_busy_timeout(forge, other):
    for f in (forge, other):
        assert f.one("PRAGMA journal_mode")["journal_mode"] == "wal"
        assert f.one("PRAGMA busy_timeout")["timeout"] == 10000


def test_a_delivery_is_recorded_in_full(forge, gh, receiver, other):
    hook_id = forge.add_hook(REPO, url=receiver.url, secret=SECRET, events=["issues", "issue_comment"])
    comment = gh("alice").get_repo(REPO).create_issue(title="recorded").create_comment("hello")
    assert forge.wait_for_deliveries(timeout=10)
    d, c = other.deliveries()  # read through the other connection
    sent = receiver.requests[0]
    assert uuid.UUID(d["id"]).version == 4 and d["id"] == sent["headers"]["X-GitHub-Delivery"]
    assert (d["hook_id"], d["event"], d["action"], d["url"]) == (hook_id, "issues", "opened", receiver.url)
    assert (d["status_code"], d["error"], d["redelivery"]) == (204, None, False)
    assert other.one("SELECT body FROM deliveries WHERE seq=?", d["seq"])["body"] == sent["body"]
    assert d["payload"] == sent["json"]
    assert (d["issue_number"], d["comment_id"]) == (1, None)
    assert (c["event"], c["action"], c["issue_number"], c["comment_id"]) == ("issue_comment", "created", 1, comment.id)
    assert {k: sent["headers"][k] for k in d["headers"]} == d["headers"]
    assert d["headers"]["X-GitHub-Hook-ID"] == str(hook_id)
    assert d["headers"]["X-GitHub-Hook-Installation-Target-Type"] == "repository"
    for stamp in (d["created_at"], d["delivered_at"]):
        assert dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
    assert d["duration"] >= 0


def test_another_process_redelivers_with_the_hooks_current_secret(forge, gh, receiver, other):
    forge.add_hook(REPO, url=receiver.url, secret=SECRET, events=["issues"])
    gh("alice").get_repo(REPO).create_issue(title="again")
    assert forge.wait_for_deliveries(timeout=10)
    guid = forge.deliveries()[0]["id"]
    again = other.redeliver(guid, wait=True)  # sent from the caller's thread, no server involved
    assert (again["id"], again["status_code"], again["redelivery"]) == (guid, 204, True)
    assert other.add_hook(REPO, url=receiver.url, secret="rotated", events=["issues"]) == again["hook_id"]
    assert other.redeliver(guid, wait=True)["status_code"] == 204
    first, second, third = receiver.requests
    assert [r["headers"]["X-GitHub-Delivery"] for r in receiver.requests] == [guid] * 3
    assert first["body"] == second["body"] == third["body"]
    assert _signed(first, SECRET) and _signed(second, SECRET) and _signed(third, "rotated")
    assert {k: v for k, v in second["headers"].items() if k.startswith("X-")} == {
        k: v for k, v in first["headers"].items() if k.startswith("X-")}
    assert [d["redelivery"] for d in forge.deliveries()] == [False, True, True]
    with pytest.raises(KeyError):
        other.redeliver("no-such-guid")


def test_the_serving_forge_sees_another_processs_changes_at_once(forge, gh, server, receiver, other):
    """Hooks are read per event, users and roles per request."""
    other.add_hook(REPO, url=receiver.url, secret=SECRET, events=["issues"])
    gh("alice").get_repo(REPO).create_issue(title="seen")
    assert forge.wait_for_deliveries(timeout=10)
    assert [r["json"]["issue"]["title"] for r in receiver.requests] == ["seen"]
    page = httpx.get(f"{server.url}/_forge/deliveries").text
    assert forge.deliveries()[0]["id"] in page
    from github import Auth, Github

    token = other.add_user("carol")
    other.set_permission(REPO, "carol", "write")
    carol = Github(base_url=server.api_url, auth=Auth.Token(token), retry=None,
                   seconds_between_requests=None, seconds_between_writes=None).get_repo(REPO)
    carol.create_label("by-carol", "00ff00")
    other.set_permission(REPO, "carol", "read")
    with pytest.raises(GithubException) as err:
        carol.create_label("refused", "00ff00")
    assert err.value.status == 403


def test_a_hook_is_one_per_repository_and_url(forge, receiver):
    first = forge.add_hook(REPO, url=receiver.url, secret="a", events=["issues"])
    assert forge.add_hook(REPO, url=receiver.url, secret="b", events=["pull_request"]) == first
    assert forge.hook(first)["secret"] == "b" and forge.hook(first)["events"] == "pull_request"
    assert forge.add_hook(REPO, url=receiver.url + "2", secret="c") != first
    with pytest.raises(ValueError, match="http"):
        forge.add_hook(REPO, url="ftp://example.com/hook")
