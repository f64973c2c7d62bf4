"""The job watcher (bot/edge/watcher.py): one poll per running job at a time, through the durable inbox."""

from __future__ import annotations

from bot.core.events import POLL_EVENT, PollEvent, parse_event
from bot.core.routing import goal_of
from bot.edge.inbox import Inbox
from bot.edge.watcher import Watcher


def test_a_poll_is_queued_for_each_training_issue_and_never_piles_up(tmp_path):
    inbox = Inbox(tmp_path / "deliveries.sqlite")
    inbox.accept("d1", "issues", "acme/a#3", {})  # the repositories the server has heard from
    inbox.accept("d2", "issues", "acme/b#1", {})
    training = {"acme/a": [3, 5], "acme/b": []}
    woken = []
    watcher = Watcher(inbox, lambda: woken.append(1), lambda repo: training[repo], every_s=60)

    assert watcher.poll_once() == 2 and woken == [1]
    assert watcher.poll_once() == 0, "a poll still waiting to be handled is enough"
    polls = [d for d in _drain(inbox) if d.event == POLL_EVENT]
    assert sorted(d.key for d in polls) == ["acme/a#3", "acme/a#5"]
    assert parse_event(POLL_EVENT, polls[0].payload) == PollEvent("acme/a", int(polls[0].key.split("#")[1]))
    assert watcher.poll_once() == 2, "once handled, the next round polls again"


def _drain(inbox: Inbox) -> list:
    handled = []
    while (delivery := inbox.ready(set())) is not None:
        inbox.done(delivery.id)
        handled.append(delivery)
    return handled


def test_a_train_workflow_run_names_its_issue_and_others_are_ignored():
    run = {"display_title": "train issue #12 at " + "a" * 40}
    payload = {"action": "completed", "workflow_run": run, "repository": {"full_name": "acme/a"}}
    assert parse_event("workflow_run", payload) == PollEvent("acme/a", 12)
    assert goal_of(payload, "bot") == 12  # the Action's route job puts it in the issue's concurrency group
    other = {**payload, "workflow_run": {"display_title": "CI on main"}}
    assert parse_event("workflow_run", other) is None and goal_of(other, "bot") is None
