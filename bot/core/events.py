"""Typed events parsed from GitHub webhook payloads (docs: "Webhook events and payloads")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

TRIGGER_LABEL = "ml-intern"
BRANCH_PREFIX = "ml-intern/issue-"
_BRANCH = re.compile(rf"^{re.escape(BRANCH_PREFIX)}(\d+)$")


class MalformedEvent(ValueError):
    """A payload that lacks what its event type promises; the message names the missing part."""


@dataclass(frozen=True)
class Actor:
    login: str
    type: str = "User"  # GitHub's sender.type: User | Bot | Organization


@dataclass(frozen=True)
class IssueEvent:
    """`issues` opened / edited / labeled: a possible goal."""

    repo: str
    number: int
    action: str
    title: str
    body: str
    labels: tuple[str, ...]
    sender: Actor
    label: str | None = None  # the label just added, for `labeled`


@dataclass(frozen=True)
class CommentEvent:
    """`issue_comment` created on an issue or a PR."""

    repo: str
    number: int
    comment_id: int
    body: str
    sender: Actor
    on_pull_request: bool
    issue_title: str = ""
    issue_body: str = ""


@dataclass(frozen=True)
class PushEvent:
    """`pull_request` synchronize on a bot branch: the PR's head moved."""

    repo: str
    pr_number: int
    issue_number: int
    head_sha: str
    sender: Actor


Event = IssueEvent | CommentEvent | PushEvent


@dataclass(frozen=True)
class Facts:
    """What the adapter read through the API for this event, so the core can stay pure."""

    bot_login: str
    permission: str | None = None  # sender's repository permission: admin|maintain|write|triage|read|none
    pr_head_sha: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def issue_for_branch(ref: str) -> int | None:
    """The issue number of a bot branch `ml-intern/issue-<n>`, else None."""
    match = _BRANCH.match(ref or "")
    return int(match.group(1)) if match else None


def parse_event(name: str, payload: Any) -> Event | None:
    """Turn a delivery into an Event, None when the bot has nothing to do with it."""
    if not isinstance(payload, dict):
        raise MalformedEvent("the payload is not a JSON object")
    try:
        if name == "issues":
            return _issue(payload)
        if name == "issue_comment":
            return _comment(payload)
        if name == "pull_request":
            return _push(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedEvent(f"{name} payload is missing or has a bad field: {exc}") from exc
    return None


def _actor(user: dict) -> Actor:
    return Actor(login=str(user["login"]), type=str(user.get("type") or "User"))


def _repo(payload: dict) -> str:
    return str(payload["repository"]["full_name"])


def _issue(payload: dict) -> IssueEvent | None:
    if payload["action"] not in {"opened", "edited", "labeled", "reopened"}:
        return None
    issue = payload["issue"]
    if issue.get("pull_request"):
        return None
    return IssueEvent(
        repo=_repo(payload), number=int(issue["number"]), action=payload["action"],
        title=str(issue.get("title") or ""), body=str(issue.get("body") or ""),
        labels=tuple(str(label["name"]) for label in issue.get("labels") or []),
        sender=_actor(payload["sender"]),
        label=(payload.get("label") or {}).get("name"),
    )


def _comment(payload: dict) -> CommentEvent | None:
    if payload["action"] != "created":
        return None
    issue, comment = payload["issue"], payload["comment"]
    return CommentEvent(
        repo=_repo(payload), number=int(issue["number"]), comment_id=int(comment["id"]),
        body=str(comment.get("body") or ""), sender=_actor(payload["sender"]),
        on_pull_request=bool(issue.get("pull_request")),
        issue_title=str(issue.get("title") or ""), issue_body=str(issue.get("body") or ""),
    )


def _push(payload: dict) -> PushEvent | None:
    if payload["action"] != "synchronize":
        return None
    pull = payload["pull_request"]
    issue_number = issue_for_branch(pull["head"]["ref"])
    if issue_number is None:
        return None
    return PushEvent(
        repo=_repo(payload), pr_number=int(pull["number"]), issue_number=issue_number,
        head_sha=str(pull["head"]["sha"]), sender=_actor(payload["sender"]),
    )
