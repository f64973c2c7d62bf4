"""One event for one issue: load the state from GitHub, step the core, carry out its effects.

The server, the Action and the demo all call `handle_event`. Bad input is logged and dropped;
a transient GitHub failure raises, so the delivery queue tries the event again later.

Order matters for crash safety. Quick effects (replies, reactions, the plan and report comments)
are keyed, so doing one twice changes nothing: they run first. Then the state is saved, with a
lease when a slow step follows; then the slow step runs, refreshing its lease. A process that dies
anywhere leaves either an event that replays cleanly or a lease that the next reader sees lapse.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import Any

from bot.config import Settings
from bot.core import effects as fx
from bot.core.events import (
    CommentEvent,
    Event,
    Facts,
    IssueEvent,
    JobNews,
    MalformedEvent,
    PollEvent,
    PushEvent,
    parse_event,
)
from bot.core.machine import short, step
from bot.core.render import render
from bot.core.routing import issue_for_branch
from bot.core.state import PHASE_LABELS, IssueState, label_changes, status_comment
from bot.errors import explain, public_text
from bot.shell import lease as leases
from bot.shell.executor import Executor
from bot.shell.github import RepoClient, connect
from bot.shell.ports import Repository
from bot.shell.retry import is_transient

log = logging.getLogger(__name__)
STEP_OF = {fx.Research: "research", fx.OpenPullRequest: "smoke", fx.Train: "training", fx.Collect: "training",
           fx.Publish: "publish", fx.CancelRun: "cancel"}


def warm_up() -> None:
    """Import the ML stack once, in one thread: first imports racing in worker threads can fail."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: F401

    import bot.planner.rules  # noqa: F401


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
    if number is not None:
        IssueSession(client, settings, event.repo, number).handle(event)


def _issue_number(client: Repository, event: Event) -> int | None:
    if isinstance(event, PushEvent):
        return event.issue_number
    if isinstance(event, CommentEvent) and event.on_pull_request:
        return issue_for_branch(client.pull_branch(event.number))  # the API, not the PR's editable text
    return event.number


class IssueSession:
    """The state of one issue while one event is handled; saved to GitHub after every step."""

    def __init__(self, client: Repository, settings: Settings, repo: str, number: int):
        self.client, self.settings, self.number = client, settings, number
        self.executor = Executor(client, settings, repo, number, self.progress)
        self.state = IssueState()
        self.facts = Facts(bot_login=settings.bot_login)
        self._lock = threading.RLock()  # progress and heartbeats arrive from other threads

    def handle(self, event: Event) -> None:
        self.state = self.client.load_state(self.number)
        self._settle_dead_lease()
        self.facts = self._facts(event)  # after settling: a lapsed lease no longer hides the job's news
        if isinstance(event, IssueEvent) and event.label in PHASE_LABELS and self.client.has_status(self.number):
            self._mirror_labels()  # a hand-added phase label is undone
        if isinstance(event, CommentEvent) and event.on_pull_request:
            title, body = self.client.issue_text(self.number)  # the goal is the issue's text, not the PR's
            event = dataclasses.replace(event, issue_title=title, issue_body=body)
        self._run([event])

    def _run(self, queue: list[object]) -> None:
        while queue:
            queue.extend(self.apply(queue.pop(0)))

    def _settle_dead_lease(self) -> None:
        """A step whose worker died is interrupted (a training job runs on its own and is followed by polls)."""
        held = self.state.lease
        if not held or leases.alive(held):
            return
        log.warning("issue #%s: the %s step's lease lapsed (holder %s)", self.number, held.get("step"),
                    held.get("holder"))
        self._run([fx.Interrupted(str(held.get("step")), str(held.get("beat", "")))])

    def apply(self, event: object) -> list[fx.Outcome]:
        """Step the machine, do the quick effects, save (with a lease for a slow one), run the slow one."""
        with self._lock:
            before = self.state
            self.state, effects = step(self.state, self._public(event), self.facts)
            slow = [effect for effect in effects if isinstance(effect, fx.SLOW)]
            for effect in effects:
                if not isinstance(effect, fx.SLOW):
                    self.execute(effect)
            if slow:
                details = {"sha": slow[0].sha} if isinstance(slow[0], fx.Train | fx.Collect | fx.Publish) else {}
                self.state.lease = leases.take(STEP_OF[type(slow[0])], **details)
            try:
                if self.state != before:
                    self.save()
            except Exception:
                leases.release(self.state.lease if slow else None)  # the step never starts: its lease reads dead
                raise
        return [self._slow(effect) for effect in slow]

    def _public(self, event: object) -> object:
        """A failure's message and log as anyone may read them: no secrets, colour codes or server folders."""
        if isinstance(event, fx.StepFailed):
            return fx.StepFailed(event.step, public_text(event.message, self.settings),
                                 public_text(event.log_tail, self.settings))
        return event

    def progress(self, activity: str) -> None:
        """A slow step's news: shown in the status comment, and a heartbeat for its lease."""
        with self._lock:
            self.state, _ = step(self.state, fx.Progress(activity), self.facts)
            try:
                self._beat()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("issue #%s: progress not shown, GitHub did not answer (%s)", self.number, exc)

    def _beat(self) -> None:
        with self._lock:
            if self.state.lease:
                self.state.lease = leases.beat(self.state.lease)
            self.save()

    def save(self) -> None:
        """The status comment and the labels, from the state; a newer state saved by someone else wins."""
        loaded = self.state.version
        self.state = dataclasses.replace(self.state, version=loaded + 1)
        try:
            body = status_comment(self.state, render("comments/status.md.j2", state=self.state))
            self.client.save_status(self.number, body, expected_version=loaded)
        except Exception:
            self.state = dataclasses.replace(self.state, version=loaded)
            raise
        self._mirror_labels()

    def _mirror_labels(self) -> None:
        add, remove = label_changes(self.state, self.client.labels(self.number))
        if add or remove:
            self.client.change_labels(self.number, add, remove)

    def execute(self, effect: fx.Effect) -> None:
        if isinstance(effect, fx.React):
            self._react(effect)
        elif isinstance(effect, fx.Reply):
            self.client.upsert_keyed(effect.on or self.number, f"reply:{effect.key}", effect.body, edit=False)
        elif isinstance(effect, fx.Sticky):
            self.client.upsert_keyed(self.number, effect.kind, effect.body, edit=True)

    def _slow(self, effect: fx.Effect) -> fx.Outcome:
        held = self.state.lease
        runs: dict[type, Callable[[Any], fx.Outcome]] = {
            fx.Research: self.executor.research, fx.OpenPullRequest: self.executor.open_pull_request,
            fx.Train: self.executor.train, fx.Collect: self.executor.collect, fx.Publish: self.executor.publish,
            fx.CancelRun: self.executor.cancel_run}
        run = runs[type(effect)]
        try:
            with leases.Heartbeat(self._beat):
                return run(effect)
        except Exception as exc:
            if is_transient(exc):
                raise  # GitHub is unreachable: the queue retries the event; the lease shows what was cut short
            log.exception("%s step failed for issue #%s", STEP_OF[type(effect)], self.number)
            return fx.StepFailed(STEP_OF[type(effect)], explain(exc, self.settings))
        finally:
            leases.release(held)

    def _react(self, effect: fx.React) -> None:
        try:
            self.client.react(self.number, effect.content, effect.comment_id)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("could not add reaction %s on #%s", effect.content, self.number)

    def _facts(self, event: Event) -> Facts:
        """Read through the API what the core must not guess: permission, the PR head and its new commits,
        and, for a poll or `/status` while a job runs, what its backend says."""
        facts = Facts(bot_login=self.settings.bot_login)
        if isinstance(event, PollEvent):
            return Facts(bot_login=self.settings.bot_login, job=self._job_news())
        if not isinstance(event, CommentEvent) or event.sender.type == "Bot" or not event.commands:
            return facts
        commands = event.commands
        permission = self.client.permission(event.sender.login) if commands[0].privileged else None
        head = self.client.pull_head(self.state.pr_number)
        new_commits: tuple[str, ...] = ()
        pr, tested = self.state.pr_number, self.state.tested_sha
        if commands[0].name == "approve-train" and pr and head and tested and head != tested:
            new_commits = tuple(f"`{short(sha)}` by @{who}" for sha, who in self.client.commits_after(pr, tested))
        job = self._job_news() if commands[0].name == "status" else None
        return Facts(bot_login=self.settings.bot_login, permission=permission, pr_head_sha=head,
                     new_commits=new_commits, job=job)

    def _job_news(self) -> JobNews | None:
        """The training job's news, or None when there is no job to ask about (or its backend cannot say)."""
        if not self.state.job or self.state.lease:
            return None
        try:
            return self.executor.news(self.state.job)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("issue #%s: cannot read the job's status: %s", self.number, public_text(str(exc), self.settings))
            return None
