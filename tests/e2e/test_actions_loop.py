"""Training on GitHub Actions, offline, with the bot as a server: the forge's Actions emulation runs the
repository's real train.yml at the approved SHA, the bot follows the run (its polls and the `workflow_run`
webhook), answers `/status` while it runs, and `/cancel` stops it. The whole loop on fresh runners, report
and publishing included, is tests/e2e/test_action_mode.py.
"""

from __future__ import annotations

import time

import pytest

from bot.core.state import Phase
from bot.playground.world import world
from tests.e2e.test_whole_loop import GOAL_BODY, GOAL_TITLE, PLAN, comment, replies


@pytest.fixture(scope="module")
def w(tmp_path_factory, bitext_sample, hf_home):
    with world(tmp_path_factory.mktemp("actions"), str(bitext_sample), PLAN, runner="actions") as w:
        yield w


def start_training(w, extra_plan: str = "") -> int:
    issue = w.as_user("alice").create_issue(title=GOAL_TITLE, body=GOAL_BODY)
    w.as_user("maintainer").get_issue(issue.number).add_to_labels("ml-intern")
    w.settle()
    if extra_plan:
        comment(w, "maintainer", issue.number, f"/plan {extra_plan}")
    assert w.state(issue.number).phase == Phase.PLANNED, w.state(issue.number).error
    comment(w, "maintainer", issue.number, "/approve-train")
    return issue.number


def test_a_run_is_followed_status_answered_at_once_and_cancel_stops_it(w):
    number = start_training(w, "epochs=20 rows=800 budget=15")
    state = w.state(number)
    run_id = int(state.job["id"])
    run = w.as_user("maintainer").get_workflow_run(run_id)
    assert run.display_title == f"train issue #{number} at {state.approved_sha}" and run.event == "workflow_dispatch"
    assert f"[watch the job]({run.html_url})" in w.status_body(number)
    deadline = time.monotonic() + 120
    while "Training: step" not in w.status_body(number):
        assert time.monotonic() < deadline, "the run's progress never showed"
        time.sleep(1)

    asked = time.monotonic()
    comment(w, "reader", number, "/status")
    assert time.monotonic() - asked < 10 and "Training: step" in replies(w, number)

    comment(w, "maintainer", number, "/cancel")
    state = w.wait_for(number, {Phase.CANCELLED})
    run = w.as_user("maintainer").get_workflow_run(run_id)
    assert run.status == "completed" and run.conclusion == "cancelled"
    assert "billing stopped" in w.status_body(number) and state.job is None
