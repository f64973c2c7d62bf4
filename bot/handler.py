"""One event for one issue: load the state from GitHub, step the core, carry out its effects.

The server, the Action and the demo all call `handle_event`; it never raises for bad input.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

from bot.config import Settings
from bot.core import effects as fx
from bot.core.commands import CommandError, parse_commands
from bot.core.events import (
    CommentEvent,
    Event,
    Facts,
    IssueEvent,
    MalformedEvent,
    PushEvent,
    issue_for_branch,
    parse_event,
)
from bot.core.machine import step
from bot.core.render import render
from bot.core.state import PHASE_LABELS, IssueState
from bot.executor import Executor
from bot.github import RepoClient, connect

log = logging.getLogger(__name__)
_locks: dict[tuple[str, int], threading.Lock] = {}
_locks_guard = threading.Lock()


def handle_event(event_name: str, payload: Any, *, settings: Settings) -> None:
    """Entry point for every delivery; malformed payloads are logged and dropped."""
    try:
        event = parse_event(event_name, payload)
    except MalformedEvent as exc:
        log.warning("ignored a malformed %s delivery: %s", event_name, exc)
        return
    if event is None:
        return
    client = RepoClient(connect(settings), event.repo, settings.bot_login)
    number = _issue_number(client, event)
    if number is None:
        return
    with _issue_lock(event.repo, number):
        IssueSession(client, settings, event.repo, number).handle(event)


def _issue_lock(repo: str, number: int) -> threading.Lock:
    """One event per issue at a time, even when it arrives as a comment on the issue's PR."""
    with _locks_guard:
        return _locks.setdefault((repo, number), threading.Lock())


def _issue_number(client: RepoClient, event: Event) -> int | None:
    if isinstance(event, PushEvent):
        return event.issue_number
    if isinstance(event, CommentEvent) and event.on_pull_request:
        return issue_for_branch(client.pull_branch(event.number))
    return event.number


class IssueSession:
    """The state of one issue while one event is handled; saved to GitHub after every step."""

    def __init__(self, client: RepoClient, settings: Settings, repo: str, number: int):
        self.client, self.settings, self.number = client, settings, number
        self.executor = Executor(client, settings, repo, number, self.progress)
        self.state = IssueState()
        self.facts = Facts(bot_login=settings.bot_login)

    def handle(self, event: Event) -> None:
        self.state = self.client.load_state(self.number)
        self.facts = self._facts(event)
        if isinstance(event, IssueEvent) and event.label in PHASE_LABELS and self.client.has_status(self.number):
            self.client.sync_labels(self.number, self.state)  # a hand-added phase label is undone
        if isinstance(event, CommentEvent) and event.on_pull_request:
            title, body = self.client.issue_text(self.number)
            event = dataclasses.replace(event, number=self.number, issue_title=title, issue_body=body)
        queue: list[object] = [event]
        while queue:
            queue.extend(self.apply(queue.pop(0)))

    def apply(self, event: object) -> list[fx.Outcome]:
        """Step the machine, save the state, run the effects; returns their outcomes."""
        before = self.state
        self.state, effects = step(self.state, event, self.facts)
        if self.state != before or effects:
            self.save()
        return [outcome for effect in effects if (outcome := self.execute(effect)) is not None]

    def progress(self, activity: str) -> None:
        self.apply(fx.Progress(activity))

    def save(self) -> None:
        self.client.save_state(self.number, self.state, render("comments/status.md.j2", state=self.state))

    def execute(self, effect: fx.Effect) -> fx.Outcome | None:
        if isinstance(effect, fx.React):
            self._react(effect)
        elif isinstance(effect, fx.Reply):
            self.client.upsert_keyed(self.number, f"reply:{effect.key}", effect.body, edit=False)
        elif isinstance(effect, fx.Sticky):
            self.client.upsert_keyed(self.number, effect.kind, effect.body, edit=True)
        elif isinstance(effect, fx.CancelRun):
            self.executor.cancel()
        else:
            return self._slow(effect)
        return None

    def _slow(self, effect: fx.Effect) -> fx.Outcome:
        step_name, run = {
            fx.Research: ("research", self.executor.research),
            fx.OpenPullRequest: ("smoke", self.executor.open_pull_request),
            fx.Train: ("training", self.executor.train),
            fx.Publish: ("publish", self.executor.publish),
        }[type(effect)]
        try:
            return run(effect)
        except Exception as exc:  # every failure ends in a comment, never in silence
            log.exception("%s step failed for issue #%s", step_name, self.number)
            return fx.StepFailed(step_name, _explain(exc))

    def _react(self, effect: fx.React) -> None:
        try:
            self.client.react(self.number, effect.content, effect.comment_id)
        except Exception:  # noqa: BLE001 -- a missing reaction is cosmetic; the status comment is what counts
            log.warning("could not add reaction %s on #%s", effect.content, self.number)

    def _facts(self, event: Event) -> Facts:
        """Read through the API what the core must not guess: permission and the PR head."""
        facts = Facts(bot_login=self.settings.bot_login)
        if not isinstance(event, CommentEvent) or event.sender.type == "Bot":
            return facts
        try:
            commands = parse_commands(event.body)
        except CommandError:
            return facts
        if not commands:
            return facts
        permission = self.client.permission(event.sender.login) if commands[0].privileged else None
        return Facts(bot_login=self.settings.bot_login, permission=permission,
                     pr_head_sha=self.client.pull_head(self.state.pr_number))


def _explain(exc: Exception) -> str:
    """A user-facing sentence for an exception; known error types carry their own message."""
    name = type(exc).__name__
    known = {"PlanError", "DatasetError", "InspectionError", "ModelError", "PublishError", "ConfigError",
             "FileNotFoundError", "ValueError"}
    if name in known:
        return str(exc)
    return f"unexpected {name}: {exc}. This is a bug in ml-intern-bot; comment `/retry` to try again."
