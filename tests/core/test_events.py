"""Typed events from GitHub's real example payloads (../shared/github/webhooks-examples.json)."""

import json
from pathlib import Path

import pytest

from bot.core.events import CommentEvent, IssueEvent, MalformedEvent, PushEvent, parse_event

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "github" / "webhooks-examples.json"


def _examples(event: str, action: str) -> list[dict]:
    groups = json.loads(EXAMPLES.read_text())
    return [ex for g in groups if g["name"] == event for ex in g["examples"] if ex.get("action") == action]


def test_real_issues_opened_payload_becomes_an_issue_event():
    payload = _examples("issues", "opened")[0]
    event = parse_event("issues", payload)
    assert isinstance(event, IssueEvent)
    assert event.number == payload["issue"]["number"]
    assert event.repo == payload["repository"]["full_name"]
    assert event.sender.login == payload["sender"]["login"]


def test_real_issue_comment_payload_becomes_a_comment_event():
    payload = _examples("issue_comment", "created")[0]
    event = parse_event("issue_comment", payload)
    assert isinstance(event, CommentEvent)
    assert event.comment_id == payload["comment"]["id"]
    assert event.body == payload["comment"]["body"]


def test_synchronize_on_a_non_bot_branch_is_ignored_and_on_a_bot_branch_is_a_push():
    payload = json.loads(json.dumps(_examples("pull_request", "synchronize")[0]))
    assert parse_event("pull_request", payload) is None
    payload["pull_request"]["head"]["ref"] = "ml-intern/issue-7"
    event = parse_event("pull_request", payload)
    assert isinstance(event, PushEvent) and event.issue_number == 7
    assert event.head_sha == payload["pull_request"]["head"]["sha"]


@pytest.mark.parametrize("payload", [[], "text", {"action": "opened"}, {"action": "created", "issue": {}}])
def test_malformed_payloads_raise_a_clear_error(payload):
    with pytest.raises(MalformedEvent):
        parse_event("issues" if isinstance(payload, dict) and payload.get("action") == "opened" else "issue_comment",
                    payload)


def test_unrelated_events_are_ignored():
    assert parse_event("star", {"action": "created"}) is None
