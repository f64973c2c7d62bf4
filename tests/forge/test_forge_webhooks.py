"""Webhooks: signed, ordered deliveries whose payloads validate against GitHub's webhook schemas.

Schemas: @octokit/webhooks-schemas (definitions `<event>$<action>`); shapes compared with the real
payloads in @octokit/webhooks-examples (../shared/github/README.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest
from github import InputGitTreeElement
from jsonschema import Draft7Validator

from tests.forge.conftest import REPO, SHARED_GITHUB

SECRET = "s3cret"
EVENTS = ["issues", "issue_comment", "pull_request"]


@pytest.fixture(scope="module")
def webhook_schema() -> dict:
    return json.loads((SHARED_GITHUB / "webhooks-schema.json").read_text())


@pytest.fixture(scope="module")
def examples() -> dict:
    """(event, action) -> a real payload GitHub delivered; (event, None) -> any of that event."""
    out = {}
    for group in json.loads((SHARED_GITHUB / "webhooks-examples.json").read_text()):
        for ex in group["examples"]:
            out.setdefault((group["name"], ex.get("action")), ex)
            out.setdefault((group["name"], None), ex)
    return out


def validate(schema: dict, event: str, payload: dict) -> None:
    """Draft-7 validation against `#/definitions/<event>$<action>` with the schema as root."""
    root = {"$ref": f"#/definitions/{event}${payload['action']}", "definitions": schema["definitions"]}
    errors = sorted(Draft7Validator(root).iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, f"{event}.{payload['action']}: " + "; ".join(
        f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])


def _story(forge, gh, receiver):
    """Alice opens an issue; the bot comments, labels, opens a PR and pushes to it."""
    forge.add_hook(REPO, url=receiver.url, secret=SECRET, events=EVENTS)
    issue = gh("alice").get_repo(REPO).create_issue(title="Classify support tickets", body="Bitext please")
    repo = gh("ml-intern[bot]").get_repo(REPO)
    bot_issue = repo.get_issue(issue.number)
    comment = bot_issue.create_comment("<!-- ml-intern:state -->\nPlanning...")
    comment.edit("<!-- ml-intern:state -->\nPlan ready")
    bot_issue.add_to_labels("ml-intern")
    main = repo.get_git_ref("heads/main")
    parent = repo.get_git_commit(main.object.sha)
    tree = repo.create_git_tree([InputGitTreeElement("train.py", "100644", "blob", content="print(1)\n")],
                                base_tree=parent.tree)
    first = repo.create_git_commit("Add train.py", tree, [parent])
    ref = repo.create_git_ref("refs/heads/ml-intern/issue-1", first.sha)
    pr = repo.create_pull(title="Fine-tune", body="Closes #1", head="ml-intern/issue-1", base="main")
    tree2 = repo.create_git_tree([InputGitTreeElement("train.py", "100644", "blob", content="print(2)\n")],
                                 base_tree=first.tree)
    second = repo.create_git_commit("Tune", tree2, [first])
    ref.edit(second.sha)
    pr.edit(body="Closes #1 (v2)")
    bot_issue.edit(state="closed")
    assert forge.wait_for_deliveries(timeout=10)
    return first.sha, second.sha


def test_deliveries_are_signed_ordered_and_valid(forge, gh, receiver, webhook_schema):
    first, second = _story(forge, gh, receiver)
    got = [(r["headers"]["X-GitHub-Event"], r["json"]["action"]) for r in receiver.requests]
    assert got == [("issues", "opened"), ("issue_comment", "created"), ("issue_comment", "edited"),
                   ("issues", "labeled"), ("pull_request", "opened"), ("pull_request", "synchronize"),
                   ("pull_request", "edited"), ("issues", "closed")]
    for req in receiver.requests:
        h = req["headers"]
        expected = "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
        assert hmac.compare_digest(h["X-Hub-Signature-256"], expected)
        assert h["User-Agent"].startswith("GitHub-Hookshot/")
        assert h["Content-Type"] == "application/json"
        assert uuid.UUID(h["X-GitHub-Delivery"]).version == 4
        validate(webhook_schema, h["X-GitHub-Event"], req["json"])
    by = {(r["headers"]["X-GitHub-Event"], r["json"]["action"]): r["json"] for r in receiver.requests}
    assert by["issues", "opened"]["sender"]["type"] == "User"
    assert by["issues", "opened"]["issue"]["user"]["login"] == "alice"
    labeled = by["issues", "labeled"]
    assert (labeled["sender"]["login"], labeled["sender"]["type"]) == ("ml-intern[bot]", "Bot")
    assert labeled["label"]["name"] == "ml-intern"
    assert by["issue_comment", "created"]["comment"]["body"].endswith("Planning...")
    sync = by["pull_request", "synchronize"]
    assert (sync["before"], sync["after"], sync["pull_request"]["head"]["sha"]) == (first, second, second)
    assert by["pull_request", "edited"]["changes"] == {"body": {"from": "Closes #1"}}
    assert by["issues", "closed"]["issue"]["state"] == "closed"
    assert [d["status_code"] for d in forge.deliveries()] == [204] * 8


def test_payloads_have_the_shape_of_real_github_examples(forge, gh, receiver, examples):
    _story(forge, gh, receiver)
    optional = {"installation", "organization", "enterprise", "draft", "changes"}
    for req in receiver.requests:
        event, ours = req["headers"]["X-GitHub-Event"], req["json"]
        real = examples.get((event, ours["action"])) or examples[(event, None)]
        assert set(real) - optional <= set(ours), (event, ours["action"], set(real) - set(ours))
        for key in ("issue", "comment", "pull_request", "repository", "sender"):
            if key in real:
                missing = set(real[key]) - set(ours[key]) - optional
                assert not missing, (event, ours["action"], key, missing)


def test_failing_receiver_is_recorded_and_redelivery_keeps_the_id(forge, gh, receiver):
    forge.add_hook(REPO, url="http://127.0.0.1:9/unreachable", secret=SECRET, events=["issues"])
    forge.add_hook(REPO, url=receiver.url, secret=SECRET, events=["issues"])
    gh("alice").get_repo(REPO).create_issue(title="first")
    assert forge.wait_for_deliveries(timeout=10)
    dead, alive = forge.deliveries()
    assert dead["status_code"] == 0 and dead["error"]
    assert alive["status_code"] == 204
    forge.redeliver(alive["id"])
    assert forge.wait_for_deliveries(timeout=10)
    assert [r["headers"]["X-GitHub-Delivery"] for r in receiver.requests] == [alive["id"]] * 2
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    gh("alice").get_repo(REPO).create_issue(title="the forge still works")


def test_hooks_only_get_subscribed_events(forge, gh, receiver):
    forge.add_hook(REPO, url=receiver.url, secret=SECRET, events=["pull_request"])
    issue = gh("alice").get_repo(REPO).create_issue(title="no PR here")
    issue.create_comment("hello")
    assert forge.wait_for_deliveries(timeout=10)
    assert receiver.requests == []


def test_other_actions_validate_too(forge, gh, receiver, webhook_schema):
    """edited/unlabeled/reopened issues, deleted comments, labeled/closed/reopened PRs."""
    forge.add_hook(REPO, url=receiver.url, secret=SECRET, events=EVENTS)
    repo = gh("maintainer").get_repo(REPO)
    issue = repo.create_issue(title="t", body="b", labels=["bug"])
    issue.edit(title="t2", body="b2")
    issue.remove_from_labels("bug")
    issue.edit(state="closed")
    issue.edit(state="open")
    issue.create_comment("bye").delete()
    parent = repo.get_git_commit(repo.get_git_ref("heads/main").object.sha)
    tree = repo.create_git_tree([InputGitTreeElement("x.txt", "100644", "blob", content="x")], parent.tree)
    repo.create_git_ref("refs/heads/feature", repo.create_git_commit("x", tree, [parent]).sha)
    pr = repo.create_pull(title="PR", body="", head="feature", base="main")
    repo.get_issue(pr.number).add_to_labels("ml-intern")
    pr.edit(state="closed")
    pr.edit(state="open")
    assert forge.wait_for_deliveries(timeout=10)
    seen = [(r["headers"]["X-GitHub-Event"], r["json"]["action"]) for r in receiver.requests]
    assert seen == [("issues", "opened"), ("issues", "labeled"), ("issues", "edited"), ("issues", "unlabeled"),
                    ("issues", "closed"), ("issues", "reopened"), ("issue_comment", "created"),
                    ("issue_comment", "deleted"), ("pull_request", "opened"), ("pull_request", "labeled"),
                    ("pull_request", "closed"), ("pull_request", "reopened")]
    for req in receiver.requests:
        validate(webhook_schema, req["headers"]["X-GitHub-Event"], req["json"])
    closed = receiver.requests[-2]["json"]["pull_request"]
    assert (closed["state"], closed["merged"]) == ("closed", False)
