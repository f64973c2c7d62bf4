"""The loop with training on GitHub Actions, offline: the forge's Actions emulation runs the repository's
real train.yml at the approved SHA, the bot follows the run (its `workflow_run` webhook and its own polls),
answers `/status` while it runs, and publishes from the run's artifact after the runner that trained is
gone (the bot's own disk wiped, as each Actions job starts on a fresh runner).
"""

from __future__ import annotations

import shutil
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


def test_a_run_on_actions_is_followed_reported_and_published_from_its_artifact(w):
    number = start_training(w)
    state = w.state(number)
    assert state.phase == Phase.TRAINING and state.job["backend"] == "actions"
    run = w.as_user("maintainer").get_workflow_run(int(state.job["id"]))
    assert run.display_title == f"train issue #{number} at {state.approved_sha}" and run.event == "workflow_dispatch"
    assert f"[watch the job]({run.html_url})" in w.status_body(number)

    asked = time.monotonic()
    comment(w, "reader", number, "/status")
    assert time.monotonic() - asked < 10 and "GitHub Actions" in replies(w, number) + w.status_body(number)

    state = w.wait_for(number, {Phase.TRAINED, Phase.FAILED}, timeout=600)
    assert state.phase == Phase.TRAINED, f"{state.failed_step}: {state.error}"
    report = next(b for b in w.bot_comments(number) if "ml-intern:report" in b)
    assert "trained on GitHub Actions" in report and "cost $0.00" in report
    assert f"ml-intern-issue-{number}-{state.approved_sha}" in report

    shutil.rmtree(w.settings.workdir / "issues")  # a fresh runner: nothing of the training is on this disk
    comment(w, "maintainer", number, "/approve-publish")
    state = w.wait_for(number, {Phase.PUBLISHED, Phase.FAILED})
    assert state.phase == Phase.PUBLISHED, state.error
    model = w.settings.publish_target / "models" / f"acme/support-bot-issue-{number}"
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in model.iterdir()}


def test_cancel_stops_the_workflow_run_and_says_billing_stopped(w):
    number = start_training(w, "epochs=20 rows=800 budget=15")
    run_id = int(w.state(number).job["id"])
    deadline = time.monotonic() + 120
    while w.as_user("maintainer").get_workflow_run(run_id).status != "in_progress":
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(1)
    comment(w, "maintainer", number, "/cancel")
    state = w.wait_for(number, {Phase.CANCELLED})
    run = w.as_user("maintainer").get_workflow_run(run_id)
    assert run.status == "completed" and run.conclusion == "cancelled"
    assert "billing stopped" in w.status_body(number) and state.job is None
