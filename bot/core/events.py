"""Typed events parsed from GitHub webhook payloads (docs: "Webhook events and payloads")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.core.commands import Command, CommandError, parse_commands
from bot.core.routing import issue_for_branch, issue_for_run_title
from runners.base import TERMINAL

TRIGGER_LABEL = "ml-intern"


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
    commands: tuple[Command, ...] = ()  # read once, here, from the body's visible text


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
    created_at: str = ""  # GitHub's ISO 8601 time of the comment, to compare with what the bot announced
    pr_author: str = ""  # who opened the PR, for a comment on a PR
    commands: tuple[Command, ...] = ()  # read once, here, from the comment's visible text
    command_error: str = ""  # why a command line could not be read, for the reply


@dataclass(frozen=True)
class PushEvent:
    """`pull_request` synchronize on a bot branch: the PR's head moved."""

    repo: str
    pr_number: int
    issue_number: int
    head_sha: str
    sender: Actor


@dataclass(frozen=True)
class PollEvent:
    """Time to look at the issue's training job: from the server's watcher, `ml-intern-bot poll-runs`,
    or GitHub's `workflow_run` for the repository's train workflow. It carries no result: the shell asks
    the job's backend, so a forged event can at most make the bot look."""

    repo: str
    number: int


Event = IssueEvent | CommentEvent | PushEvent | PollEvent
POLL_EVENT = "ml_intern_poll"  # the bot's own event name for the watcher's deliveries


@dataclass(frozen=True)
class JobNews:
    """What the job's backend says now (runners.base.JobStatus, as the core needs it)."""

    stage: str
    message: str = ""
    seconds: float = 0.0
    cost_usd: float | None = None
    latest: dict[str, Any] = field(default_factory=dict)  # train.py's latest progress line
    epoch: dict[str, Any] = field(default_factory=dict)  # its latest epoch line

    @property
    def ended(self) -> bool:
        return self.stage in TERMINAL


@dataclass(frozen=True)
class Facts:
    """What the adapter read through the API for this event, so the core can stay pure."""

    bot_login: str
    permission: str | None = None  # sender's repository permission: admin|maintain|write|triage|read|none
    pr_head_sha: str | None = None
    new_commits: tuple[str, ...] = ()  # commits on the PR after the smoke-tested one, e.g. "`abc1234` by @x"
    job: JobNews | None = None  # the training job's news, read for polls and `/status` while it runs
    extra: dict[str, Any] = field(default_factory=dict)


def parse_event(name: str, payload: Any) -> Event | None:
    """Turn a delivery into an Event, None when the bot has nothing to do with it.

    Types are checked strictly (an issue number is an int, never `true` or "5"), so a signed
    payload of the wrong shape is refused as malformed instead of being misread.
    """
    if not isinstance(payload, dict):
        raise MalformedEvent("the payload is not a JSON object")
    parse = {"issues": _issue, "issue_comment": _comment, "pull_request": _push, "workflow_run": _workflow_run,
             POLL_EVENT: _poll}.get(name)
    return parse(payload) if parse else None


def _field(obj: dict, key: str, kind: type | tuple[type, ...], where: str, *, optional: bool = False) -> Any:
    """obj[key] of the given JSON type; MalformedEvent naming the field otherwise."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None and optional:
        return None
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        value = None  # JSON true/false is not a number, whatever Python's bool says
    if not isinstance(value, kind):
        raise MalformedEvent(f"`{where}{key}` is missing or is not {_KIND_NAMES.get(kind, 'valid')}")
    return value


_KIND_NAMES: dict[Any, str] = {int: "an integer", str: "a string", dict: "an object", list: "an array"}


def _text(obj: dict, key: str, where: str) -> str:
    return _field(obj, key, str, where, optional=True) or ""


def _actor(payload: dict) -> Actor:
    sender = _field(payload, "sender", dict, "")
    return Actor(login=_field(sender, "login", str, "sender."), type=_text(sender, "type", "sender.") or "User")


def _repo(payload: dict) -> str:
    return _field(_field(payload, "repository", dict, ""), "full_name", str, "repository.")


def _labels(issue: dict) -> tuple[str, ...]:
    labels = _field(issue, "labels", list, "issue.", optional=True) or []
    return tuple(_field(label, "name", str, "issue.labels[].") for label in labels)


def _commands(body: str) -> tuple[tuple[Command, ...], str]:
    try:
        return tuple(parse_commands(body)), ""
    except CommandError as exc:
        return (), str(exc)


def _issue(payload: dict) -> IssueEvent | None:
    action = _field(payload, "action", str, "")
    issue = _field(payload, "issue", dict, "")
    if action not in {"opened", "edited", "labeled", "reopened"} or issue.get("pull_request"):
        return None
    label = _field(payload, "label", dict, "", optional=True)
    body = _text(issue, "body", "issue.")
    return IssueEvent(
        repo=_repo(payload), number=_field(issue, "number", int, "issue."), action=action,
        title=_text(issue, "title", "issue."), body=body,
        labels=_labels(issue), sender=_actor(payload),
        label=_field(label, "name", str, "label.") if label else None, commands=_commands(body)[0],
    )


def _comment(payload: dict) -> CommentEvent | None:
    action = _field(payload, "action", str, "")
    issue, comment = _field(payload, "issue", dict, ""), _field(payload, "comment", dict, "")
    if action != "created":
        return None
    on_pull = bool(issue.get("pull_request"))
    author = _field(issue, "user", dict, "issue.", optional=True) or {}
    body = _text(comment, "body", "comment.")
    commands, error = _commands(body)
    return CommentEvent(
        repo=_repo(payload), number=_field(issue, "number", int, "issue."),
        comment_id=_field(comment, "id", int, "comment."), body=body, commands=commands, command_error=error,
        sender=_actor(payload), on_pull_request=on_pull,
        issue_title=_text(issue, "title", "issue."), issue_body=_text(issue, "body", "issue."),
        created_at=_text(comment, "created_at", "comment."),
        pr_author=_text(author, "login", "issue.user.") if on_pull else "",
    )


def _push(payload: dict) -> PushEvent | None:
    action = _field(payload, "action", str, "")
    pull = _field(payload, "pull_request", dict, "")
    head = _field(pull, "head", dict, "pull_request.")
    if action != "synchronize":
        return None
    issue_number = issue_for_branch(_field(head, "ref", str, "pull_request.head."))
    if issue_number is None:
        return None
    return PushEvent(
        repo=_repo(payload), pr_number=_field(pull, "number", int, "pull_request."), issue_number=issue_number,
        head_sha=_field(head, "sha", str, "pull_request.head."), sender=_actor(payload),
    )


def _poll(payload: dict) -> PollEvent:
    issue = _field(payload, "issue", dict, "")
    return PollEvent(repo=_repo(payload), number=_field(issue, "number", int, "issue."))


def _workflow_run(payload: dict) -> PollEvent | None:
    """A run of the train workflow (its run-name names the issue) moved: look at that issue's job."""
    run = _field(payload, "workflow_run", dict, "")
    number = issue_for_run_title(_text(run, "display_title", "workflow_run."))
    return PollEvent(repo=_repo(payload), number=number) if number is not None else None
