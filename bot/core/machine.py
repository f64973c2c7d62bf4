"""The phase machine: `step(state, event, facts) -> (state, effects)`, a pure function.

new -> planned (PR open, awaiting /approve-train) -> training -> trained (awaiting
/approve-publish) -> published, plus failed and cancelled. README draws the same diagram.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable

from bot.core import effects as fx
from bot.core.commands import Command, may_run
from bot.core.events import TRIGGER_LABEL, CommentEvent, Facts, IssueEvent, JobNews, PollEvent, PushEvent
from bot.core.jobs import follow_job, progress_line, stop_job
from bot.core.render import note, render
from bot.core.state import PHASE_LABELS, IssueState, Phase
from bot.planner.vocabulary import normalize_overrides

Result = tuple[IssueState, list[fx.Effect]]


def step(state: IssueState, event: object, facts: Facts) -> Result:
    """Apply one event to a copy of the state; never touches the network."""
    state = copy.deepcopy(state)
    handler = _HANDLERS.get(type(event))
    return handler(state, event, facts) if handler else (state, [])


def short(sha: str | None) -> str:
    return (sha or "")[:7]


def _is_self(login: str, facts: Facts) -> bool:
    return login.lower() == facts.bot_login.lower()


def _wants_bot(event: IssueEvent) -> bool:
    has_command = any(cmd.name == "ml-intern" for cmd in event.commands)
    return TRIGGER_LABEL in event.labels or has_command


def _goal(title: str, body: str) -> str:
    return f"{title}\n\n{body}".strip()


def _start_research(state: IssueState, goal: str, comment_id: int | None = None) -> Result:
    state.phase, state.activity, state.notice = Phase.NEW, note("researching"), ""
    state.failed_step = state.error = state.interrupted = None
    return state, [fx.React("eyes", comment_id), fx.Research(goal, dict(state.overrides))]


def _reply(state: IssueState, key: str, template: str, **context) -> fx.Reply:
    return fx.Reply(key, render(template, state=state, **context))


def _note(key: str, name: str, **context) -> fx.Reply:
    """A short reply, keyed so a repeated event never posts it twice; its words are in comments/notes.md.j2."""
    return fx.Reply(key, note(name, **context) + "\n")


# --- events from GitHub -------------------------------------------------------------------


def _on_issue(state: IssueState, event: IssueEvent, facts: Facts) -> Result:
    if event.sender.type == "Bot" or _is_self(event.sender.login, facts):
        return state, []
    if event.action == "labeled" and event.label in PHASE_LABELS:
        return state, []  # a hand-added phase label grants nothing; labels mirror the marker
    if not _wants_bot(event) or state.phase != Phase.NEW or state.activity:
        return state, []
    return _start_research(state, _goal(event.title, event.body))


def _refused(state: IssueState, event: CommentEvent, facts: Facts) -> Result | None:
    """Why this comment runs nothing (with the reply saying so), or None when its command may run."""
    if _is_self(event.sender.login, facts) or event.comment_id in state.handled:
        return state, []
    if event.command_error:
        state.remember(event.comment_id)
        return state, [_note(f"cmd-{event.comment_id}", "unreadable", error=event.command_error)]
    if not event.commands:
        return state, []
    state.remember(event.comment_id)
    command = event.commands[0]
    key = f"cmd-{event.comment_id}"
    if event.sender.type == "Bot":
        if not command.privileged:
            return state, []
        return state, [_note(key, "from_a_bot", command=command.name, login=event.sender.login)]
    if not may_run(command, sender_type=event.sender.type, permission=facts.permission):
        return state, [_note(key, "needs_write", command=command.name, login=event.sender.login,
                             permission=facts.permission)]
    if state.phase == Phase.PUBLISHED and command.name in ("plan", "retry", "cancel"):
        return state, [_note(key, "published_is_final", command=command.name)]
    return None


def _answered_where_typed(handler: Callable[..., Result]) -> Callable[..., Result]:
    """The reply to a command goes to the thread it was typed in (the issue, or the bot's PR)."""
    def answer(state: IssueState, event: CommentEvent, facts: Facts) -> Result:
        state, effects = handler(state, event, facts)
        key = f"cmd-{event.comment_id}"
        return state, [dataclasses.replace(e, on=event.number) if isinstance(e, fx.Reply) and e.key == key else e
                       for e in effects]
    return answer


@_answered_where_typed
def _on_comment(state: IssueState, event: CommentEvent, facts: Facts) -> Result:
    refused = _refused(state, event, facts)
    if refused is not None:
        return refused
    command = event.commands[0]
    return _COMMANDS[command.name](state, command, event, facts)


def _on_push(state: IssueState, event: PushEvent, facts: Facts) -> Result:
    if state.pr_number != event.pr_number or event.head_sha == state.head_sha:
        return state, []
    state.head_sha = event.head_sha
    if state.phase == Phase.PUBLISHED:
        return state, []  # what was published stays as published; the PR is the user's now
    voided = state.approved_sha and state.approved_sha != event.head_sha
    if not voided:
        return state, []
    old = state.approved_sha
    state.approved_sha = state.approved_by = None
    stop = stop_job(state)
    if state.phase in (Phase.TRAINING, Phase.TRAINED):
        state.phase, state.activity, state.interrupted = Phase.PLANNED, "", None
    return state, [*stop, _note(f"push-{event.head_sha}", "push_voids", pr=event.pr_number, head=event.head_sha,
                                old=old)]


def _on_poll(state: IssueState, event: PollEvent, facts: Facts) -> Result:
    return follow_job(state, facts)


# --- slash commands -----------------------------------------------------------------------


def _cmd_help(state, command, event, facts) -> Result:
    return state, [_reply(state, f"cmd-{event.comment_id}", "comments/help.md.j2")]


def _cmd_status(state, command, event, facts) -> Result:
    state, effects = follow_job(state, facts)
    return state, [_reply(state, f"cmd-{event.comment_id}", "comments/status_reply.md.j2"), *effects]


def _cmd_start(state, command, event, facts) -> Result:
    if state.interrupted and state.phase != Phase.NEW:
        return state, [_note(f"cmd-{event.comment_id}", "interrupted_use_retry", step=state.interrupted["step"])]
    if state.phase != Phase.NEW or state.activity:
        return state, [_note(f"cmd-{event.comment_id}", "already_on_it", phase=state.phase.value)]
    return _start_research(state, _goal(event.issue_title, event.issue_body), event.comment_id)


def _cmd_plan(state, command, event, facts) -> Result:
    key = f"cmd-{event.comment_id}"
    if state.phase == Phase.TRAINING:
        return state, [_note(key, "plan_while_training")]
    try:
        overrides = normalize_overrides(command.options, state.columns or None)
    except ValueError as exc:
        return state, [_note(key, "plan_refused", reason=str(exc))]
    state.overrides.update(overrides)
    state.approved_sha = state.approved_by = None
    state.run = None
    return _start_research(state, _goal(event.issue_title, event.issue_body), event.comment_id)


SHA_ARG = re.compile(r"^[0-9a-f]{7,40}$")


def _approval(state: IssueState, command: Command, event: CommentEvent, facts: Facts) -> tuple[str | None, str]:
    """(the commit to train, "") or (None, why not): a bare approval means what the bot announced."""
    reasons = {
        Phase.NEW: ("no_plan_yet", {}), Phase.TRAINING: ("already_training", {"sha": state.approved_sha}),
        Phase.TRAINED: ("already_trained", {}), Phase.PUBLISHED: ("already_published", {}),
        Phase.FAILED: ("step_failed_retry_first", {"step": state.failed_step}), Phase.CANCELLED: ("was_cancelled", {}),
    }
    if state.interrupted:
        return None, note("interrupted", step=state.interrupted["step"])
    if state.phase != Phase.PLANNED:
        name, context = reasons[state.phase]
        return None, note(name, **context)
    head = facts.pr_head_sha
    if not head:
        return None, note("no_head")
    if command.args:
        return _explicit_approval(state, command.args[0].lower(), head)
    if event.created_at and state.tested_at and event.created_at < state.tested_at:
        return None, note("typed_before_announcement", tested=state.tested_sha)
    if head != state.tested_sha:
        return None, note("head_moved", tested=state.tested_sha, head=head, commits=list(facts.new_commits))
    return head, ""


def _explicit_approval(state: IssueState, wanted: str, head: str) -> tuple[str | None, str]:
    if not SHA_ARG.match(wanted):
        return None, note("not_a_sha", argument=wanted)
    if not head.startswith(wanted):
        return None, note("not_the_head", argument=wanted, pr=state.pr_number, head=head)
    return head, ""


def _cmd_approve_train(state, command, event, facts) -> Result:
    sha, refusal = _approval(state, command, event, facts)
    if sha is None:
        return state, [_note(f"cmd-{event.comment_id}", "train_refused", reason=refusal)]
    state.head_sha = state.approved_sha = sha
    state.approved_by = event.sender.login
    state.approved_untested = sha != state.tested_sha
    state.phase, state.activity, state.run, state.notice = Phase.TRAINING, note("training", sha=sha), None, ""
    return state, [fx.React("+1", event.comment_id), fx.Train(sha, state.plan or {})]


def _cmd_approve_publish(state, command, event, facts) -> Result:
    key = f"cmd-{event.comment_id}"
    if state.phase == Phase.PUBLISHED:
        return state, [_reply(state, key, "comments/published.md.j2", again=True)]
    if state.phase != Phase.TRAINED or not state.run:
        return state, [_note(key, "no_run_to_publish")]
    if facts.pr_head_sha != state.run.sha:
        return state, [_note(key, "run_is_not_the_head", trained=state.run.sha, head=facts.pr_head_sha)]
    state.activity = note("publishing")
    return state, [fx.React("+1", event.comment_id), fx.Publish(state.run.sha, state.plan or {}, state.run)]


def _cmd_retry(state, command, event, facts) -> Result:
    goal = _goal(event.issue_title, event.issue_body)
    step_name = (state.interrupted or {}).get("step") or (state.failed_step if state.phase == Phase.FAILED else None)
    if state.phase == Phase.CANCELLED or step_name in ("research", "smoke"):
        return _start_research(state, goal, event.comment_id)
    if step_name == "training" or state.phase == Phase.TRAINING:
        return _train_again(state, event, facts)
    if step_name == "publish" and state.run:
        state.phase, state.activity, state.interrupted = Phase.TRAINED, note("publishing", again=True), None
        return state, [fx.React("+1", event.comment_id), fx.Publish(state.run.sha, state.plan or {}, state.run)]
    return state, [_note(f"cmd-{event.comment_id}", "nothing_to_retry", phase=state.phase.value)]


def _train_again(state: IssueState, event: CommentEvent, facts: Facts) -> Result:
    """The approved commit once more, if it is still the head; otherwise the approval is void."""
    if state.job and state.phase == Phase.TRAINING:
        state.interrupted = None  # the job is followed again; the next poll or `/status` reads its news
        return state, [_note(f"cmd-{event.comment_id}", "job_still_followed", job=state.job)]
    state.interrupted = None
    if state.approved_sha and state.approved_sha == facts.pr_head_sha:
        state.phase, state.activity = Phase.TRAINING, note("training", sha=state.approved_sha, again=True)
        return state, [fx.React("+1", event.comment_id), fx.Train(state.approved_sha, state.plan or {})]
    state.phase, state.approved_sha, state.activity = Phase.PLANNED, None, ""
    return state, [_note(f"cmd-{event.comment_id}", "head_moved_since_approval")]


def _cmd_cancel(state, command, event, facts) -> Result:
    if state.phase in (Phase.PUBLISHED, Phase.CANCELLED):
        return state, [_note(f"cmd-{event.comment_id}", "nothing_to_cancel", phase=state.phase.value)]
    stop = stop_job(state) if state.phase == Phase.TRAINING else []
    state.phase, state.interrupted, state.lease = Phase.CANCELLED, None, None
    state.activity = note("stopping_job") if stop else ""
    state.approved_sha = state.approved_by = None
    return state, [*stop, _note(f"cmd-{event.comment_id}", "cancelled")]


_COMMANDS: dict[str, Callable[..., Result]] = {
    "help": _cmd_help, "status": _cmd_status, "ml-intern": _cmd_start, "plan": _cmd_plan,
    "approve-train": _cmd_approve_train, "approve-publish": _cmd_approve_publish,
    "retry": _cmd_retry, "cancel": _cmd_cancel,
}


# --- outcomes of slow effects -------------------------------------------------------------


def _on_planned(state: IssueState, event: fx.Planned, facts: Facts) -> Result:
    state.plan, state.activity, state.lease = event.plan, note("smoke_testing"), None
    state.columns = list(event.research.get("inspection", {}).get("columns", []))
    body = render("comments/plan.md.j2", state=state, plan=event.plan, research=event.research)
    return state, [fx.Sticky("plan", body), fx.OpenPullRequest(event.plan, event.research)]


def _on_pr_ready(state: IssueState, event: fx.PullRequestReady, facts: Facts) -> Result:
    state.phase, state.activity, state.lease = Phase.PLANNED, "", None
    state.pr_number, state.branch, state.head_sha = event.pr_number, event.branch, event.head_sha
    state.tested_sha, state.tested_at = event.head_sha, event.tested_at or None
    return state, [_note(f"ready-{event.head_sha}", "pull_request_ready", pr=event.pr_number, sha=event.head_sha)]


def _on_submitted(state: IssueState, event: fx.RunSubmitted, facts: Facts) -> Result:
    state.lease = None
    if state.phase != Phase.TRAINING or event.sha != state.approved_sha:
        return state, [fx.CancelRun(event.job)]  # cancelled or voided while it was being submitted
    state.job = {**event.job, "sha": event.sha}
    state.activity = progress_line(state.job, JobNews("queued"))
    return state, []


def _on_job_ended(state: IssueState, event: fx.JobEnded, facts: Facts) -> Result:
    state.lease = None
    if state.activity == note("stopping_job"):
        state.activity = ""
    state.notice = note("job_stopped", stage=event.stage, seconds=event.seconds, cost=event.cost_usd)
    return state, []


def _on_trained(state: IssueState, event: fx.Trained, facts: Facts) -> Result:
    state.lease, state.job = None, None
    if state.phase != Phase.TRAINING or event.sha != state.approved_sha:
        return state, []  # the approval was voided or cancelled while it ran
    state.phase, state.activity, state.run = Phase.TRAINED, "", event.run
    body = render("comments/report.md.j2", state=state, run=event.run, metrics=event.metrics)
    return state, [fx.Sticky(f"report:{event.sha}", body)]  # a retrain adds a report; earlier ones stay


def _on_published(state: IssueState, event: fx.Published, facts: Facts) -> Result:
    state.phase, state.activity, state.published, state.lease = Phase.PUBLISHED, "", event.published, None
    return state, [_reply(state, f"published-{event.sha}", "comments/published.md.j2", again=False)]


def _on_progress(state: IssueState, event: fx.Progress, facts: Facts) -> Result:
    state.activity = event.activity
    return state, []


def _on_failed(state: IssueState, event: fx.StepFailed, facts: Facts) -> Result:
    state.lease = None
    if event.step == "training":
        state.job = None
    if state.phase == Phase.CANCELLED:
        return state, []
    state.phase, state.activity, state.interrupted = Phase.FAILED, "", None
    state.failed_step, state.error = event.step, event.message
    state.attempts += 1
    reply = _reply(state, f"failed-{event.step}-{state.attempts}", "comments/failed.md.j2", failure=event)
    return state, [reply]


def _on_stopped(state: IssueState, event: fx.Stopped, facts: Facts) -> Result:
    state.lease, state.activity = None, event.activity
    return state, []


def _on_interrupted(state: IssueState, event: fx.Interrupted, facts: Facts) -> Result:
    """Say so in the status: nothing is running any more, and `/retry` picks the step up again."""
    state.lease, state.activity = None, ""
    state.interrupted = {"step": event.step, "since": event.since}
    return state, []


_HANDLERS: dict[type, Callable[..., Result]] = {
    IssueEvent: _on_issue, CommentEvent: _on_comment, PushEvent: _on_push, PollEvent: _on_poll,
    fx.Planned: _on_planned, fx.PullRequestReady: _on_pr_ready, fx.RunSubmitted: _on_submitted,
    fx.JobEnded: _on_job_ended, fx.Trained: _on_trained,
    fx.Published: _on_published, fx.Progress: _on_progress, fx.StepFailed: _on_failed,
    fx.Stopped: _on_stopped, fx.Interrupted: _on_interrupted,
}
