"""IssueSession (bot/shell/handler.py) against the in-memory repository: the order of effects, leases,
recovery from disk, failures and where replies go, in milliseconds (the slow steps' ML is stubbed)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
import requests
from github import GithubException

from bot.core.routing import pr_marker
from bot.core.state import IssueState, Phase
from bot.errors import UserError
from bot.shell import lease as leases
from bot.shell.executor import branch_for, folder_for
from bot.shell.github import StaleState
from bot.shell.handler import IssueSession
from bot.shell.ports import Repository
from tests.shell.fake_github import FakeRepository
from tests.shell.support import MAINTAINER, READER, REPO, commented, labeled, polled, pushed

_: type[Repository] = FakeRepository  # the fake keeps the port (checked when mypy reads this file)


def seed(github: FakeRepository, settings, number: int, **fields) -> IssueState:
    """A state saved by the bot earlier, as if by another process."""
    session = IssueSession(github, settings, REPO, number)
    session.state = dataclasses.replace(github.stored_state(number), **fields)
    session.save()
    return session.state


def replies(github: FakeRepository, number: int) -> list[str]:
    return [c.body for c in github.bot_comments(number, "reply:")]


# --- the story, end to end through handle_event -----------------------------------------------------


def test_an_issue_goes_from_label_to_report_with_one_comment_of_each_kind(github, deliver, planned, slow, settings):
    issue, pr = planned
    state = github.stored_state(issue)
    assert state.tested_sha == github.branches[branch_for(issue)] == state.head_sha
    assert github.pulls[pr].branch == branch_for(issue) and pr_marker(issue) in github.threads[pr].body
    assert sorted(p for p in github.commits[state.tested_sha].tree if p.startswith(folder_for(issue))) == [
        f"{folder_for(issue)}/{name}" for name in
        ("README.md", "app.py", "config.yaml", "evaluate.py", "requirements.txt", "research.json", "train.py")]
    assert len(github.bot_comments(issue, "plan")) == 1 and github.labels(issue) == {"ml-intern", "ml-intern:planned"}

    deliver(commented(github, issue, "/approve-train", sender=READER))  # read permission: refused, nothing runs
    assert "needs write" in replies(github, issue)[-1] and not slow.backend.runs

    deliver(commented(github, issue, "/approve-train"))
    state = github.stored_state(issue)
    assert state.phase == Phase.TRAINING and state.job and state.job["id"] == "job1" and state.lease is None
    assert "[watch the job](https://jobs.example/1)" in github.status_body(issue)
    assert slow.backend.runs[0]["train.py"] == github.commits[state.tested_sha].tree[f"{folder_for(issue)}/train.py"]
    slow.backend.stage = "succeeded"
    deliver(polled(issue))
    state = github.stored_state(issue)
    assert state.phase == Phase.TRAINED and state.run and state.run.sha == state.tested_sha and state.lease is None
    report = github.bot_comments(issue, f"report:{state.tested_sha}")
    assert len(report) == 1 and "Training report" in report[0].body
    assert github.labels(issue) == {"ml-intern", "ml-intern:trained"}
    assert len(github.bot_comments(issue, "state")) == 1 and slow.smoke_tests == 1


def test_a_push_by_a_person_makes_a_bare_approval_name_the_new_commit_and_its_author(github, deliver, planned, slow):
    issue, pr = planned
    deliver(pushed(github, pr, {f"{folder_for(issue)}/train.py": "print('mine')\n"}, sender=READER))
    deliver(commented(github, issue, "/approve-train"))
    head = github.branches[branch_for(issue)]
    assert f"`{head[:7]}` by @{READER}" in replies(github, issue)[-1] and not slow.backend.runs
    deliver(commented(github, issue, f"/approve-train {head[:7]}"))
    assert slow.backend.runs[0]["train.py"] == "print('mine')\n"
    assert github.stored_state(issue).approved_untested


# --- crash safety: quick effects first, then the save ---------------------------------------------


def test_quick_effects_happen_before_the_state_is_saved(github, deliver, planned):
    issue, _ = planned
    github.calls.clear()
    deliver(commented(github, issue, "/status", sender=READER))
    calls = [c for c in github.calls if c in ("upsert_keyed", "react", "save_status")]
    assert calls == ["upsert_keyed", "save_status"]

    github.calls.clear()
    deliver(commented(github, issue, "/approve-train"))
    assert github.calls.index("react") < github.calls.index("save_status")


@pytest.mark.parametrize(("method", "error", "when"), [
    ("save_status", "connection", "before"),  # the process dies between the reply and the save
    ("save_status", "500", "after"),  # the save was kept, its answer lost
    ("upsert_keyed", "500", "after"),  # the reply was kept, its answer lost
])
def test_an_event_cut_short_replays_without_a_second_reply(github, deliver, planned, method, error, when):
    issue, _ = planned
    github.fail(method, error, when=when)
    delivery = commented(github, issue, "/status", sender=READER)
    with pytest.raises((requests.ConnectionError, GithubException)):
        deliver(delivery)
    deliver(delivery)  # the queue tries the event again
    version = github.stored_state(issue).version
    deliver(delivery)  # and a third time (a redelivery)
    comment_id = delivery[1]["comment"]["id"]
    assert len(github.bot_comments(issue, f"reply:cmd-{comment_id}")) == 1
    assert len(github.bot_comments(issue, "state")) == 1 and comment_id in github.stored_state(issue).handled
    assert github.stored_state(issue).version == version


def test_a_reaction_repeated_by_a_replay_is_one_reaction(github, deliver, slow):
    issue = github.open_issue("Label tickets")
    delivery = commented(github, issue, "/ml-intern", sender=READER)
    github.fail("save_status", "connection")
    with pytest.raises(requests.ConnectionError):
        deliver(delivery)
    deliver(delivery)
    assert github.threads[issue].comments[0].reactions == {(github.bot_login, "eyes")}
    assert len(slow.researched) == 1 and github.stored_state(issue).phase == Phase.PLANNED


# --- leases --------------------------------------------------------------------------------------


def _lease(step: str, **details: str) -> dict:
    """A lease this process took and gave up without clearing it from the state: a worker that died."""
    held = leases.take(step, **details)
    leases.release(held)
    return held


@pytest.mark.parametrize("lease", [
    _lease("training", sha="a" * 40),  # this process, but no step of it holds that token
    {**_lease("training"), "holder": "elsewhere:1:1", "beat": leases.iso(leases.now() - timedelta(minutes=5))},
])
def test_a_dead_lease_becomes_interrupted_during_its_step(github, deliver, settings, planned, lease):
    issue, _ = planned
    seed(github, settings, issue, phase=Phase.TRAINING, approved_sha="a" * 40, lease=lease, activity="Training…")
    deliver(commented(github, issue, "/status", sender=READER))
    state = github.stored_state(issue)
    assert state.interrupted == {"step": "training", "since": lease["beat"]} and state.lease is None
    assert state.phase == Phase.TRAINING and "Interrupted during **training**" in github.status_body(issue)


def test_a_live_lease_elsewhere_is_left_alone(github, deliver, settings, planned):
    issue, _ = planned
    lease = {**_lease("training"), "holder": "elsewhere:1:1", "beat": leases.iso(leases.now())}
    seed(github, settings, issue, phase=Phase.TRAINING, approved_sha="a" * 40, lease=lease)
    deliver(commented(github, issue, "/status", sender=READER))
    state = github.stored_state(issue)
    assert state.lease == lease and state.interrupted is None


def test_a_running_job_shows_its_progress_and_status_answers_with_it(github, deliver, planned, slow):
    issue, _ = planned
    deliver(commented(github, issue, "/approve-train"))
    slow.backend.events = [{"event": "epoch", "epoch": 1, "epochs": 3, "val_macro_f1": 0.71, "elapsed": 60},
                           {"event": "progress", "step": 40, "total_steps": 90, "loss": 0.52, "elapsed": 75}]
    deliver(polled(issue))
    assert "step 40/90 (44 %), loss 0.520" in github.status_body(issue)
    assert "Epoch 1/3 done: validation macro-F1 0.710" in github.status_body(issue)
    slow.backend.events.append({"event": "progress", "step": 60, "total_steps": 90, "loss": 0.4, "elapsed": 99})
    deliver(commented(github, issue, "/status", sender=READER))
    assert "step 60/90" in replies(github, issue)[-1] and github.stored_state(issue).phase == Phase.TRAINING


def test_the_report_of_a_paid_job_states_where_it_ran_and_what_it_cost(github, deliver, planned, slow):
    issue, _ = planned
    slow.backend.name = "hf-jobs"
    deliver(commented(github, issue, "/approve-train"))
    slow.backend.stage, slow.backend.cost = "succeeded", 0.0125
    deliver(polled(issue))
    state = github.stored_state(issue)
    (report,) = github.bot_comments(issue, f"report:{state.run.sha}")
    assert "**Compute:** trained on Hugging Face Jobs in 3 s; cost $0.0125." in report.body
    assert "([the job](https://jobs.example/1))" in report.body and state.run.cost_usd == 0.0125


def test_a_job_that_ended_while_github_was_down_is_reported_once_it_answers(github, deliver, planned, slow):
    issue, _ = planned
    deliver(commented(github, issue, "/approve-train"))
    slow.backend.stage = "succeeded"
    github.fail("upsert_keyed", "connection")  # GitHub is down when the report is posted
    with pytest.raises(requests.ConnectionError):
        deliver(polled(issue))
    deliver(polled(issue))  # the queue retries; or the next poll comes
    state = github.stored_state(issue)
    assert state.phase == Phase.TRAINED and len(slow.backend.runs) == 1
    assert len(github.bot_comments(issue, f"report:{state.run.sha}")) == 1


def test_a_collect_cut_short_is_collected_again_by_the_next_poll(github, deliver, settings, planned, slow):
    issue, _ = planned
    deliver(commented(github, issue, "/approve-train"))
    seed(github, settings, issue, lease=_lease("training", sha="a" * 40))  # the collecting worker died
    slow.backend.stage = "succeeded"
    deliver(polled(issue))  # its lease reads dead: interrupted, then the job is followed again
    state = github.stored_state(issue)
    assert state.phase == Phase.TRAINED and state.interrupted is None and len(slow.backend.runs) == 1


def test_cancel_stops_the_job_and_the_status_says_billing_stopped(github, deliver, planned, slow):
    issue, _ = planned
    deliver(commented(github, issue, "/approve-train"))
    deliver(commented(github, issue, "/cancel"))
    state = github.stored_state(issue)
    assert slow.backend.cancelled == ["job1"] and state.phase == Phase.CANCELLED and state.job is None
    assert "The training job stopped after 3 s; billing stopped (it cost $0.00)." in github.status_body(issue)
    deliver(polled(issue))  # a late poll changes nothing
    assert github.stored_state(issue).phase == Phase.CANCELLED


def test_a_push_during_training_cancels_the_job(github, deliver, planned, slow):
    issue, pr = planned
    deliver(commented(github, issue, "/approve-train"))
    deliver(pushed(github, pr, {f"{folder_for(issue)}/train.py": "print('mine')\n"}, sender=READER))
    state = github.stored_state(issue)
    assert slow.backend.cancelled == ["job1"] and state.phase == Phase.PLANNED and state.job is None


@pytest.mark.parametrize("method, error, when", [("save_status", "500", "after"),
                                                 ("change_labels", "connection", "before")])
def test_a_lease_stored_by_a_save_that_then_failed_does_not_hold_the_issue(github, deliver, slow, method, error,
                                                                          when):
    """Regression: the lease was taken, the save stored it and then failed, and the token was never released."""
    issue = github.open_issue("Label tickets")
    github.fail(method, error, when=when)
    delivery = labeled(github, issue, "ml-intern")
    with pytest.raises((requests.ConnectionError, GithubException)):
        deliver(delivery)
    deliver(delivery)  # the queue retries the event
    assert github.stored_state(issue).phase == Phase.PLANNED and len(slow.researched) == 1


def test_an_ended_job_whose_metrics_break_the_contract_becomes_a_failure(github, deliver, planned, slow):
    issue, _ = planned
    deliver(commented(github, issue, "/approve-train"))
    slow.backend.stage, slow.backend.metrics = "succeeded", {"dataset": "x"}
    deliver(polled(issue))
    state = github.stored_state(issue)
    assert state.phase == Phase.FAILED and state.failed_step == "training" and "metrics.json" in (state.error or "")


# --- failures in slow steps ---------------------------------------------------------------------


@pytest.mark.parametrize("error", [requests.ConnectionError("down"), GithubException(502, {"message": "Bad"})])
def test_a_transient_failure_in_a_slow_step_propagates_and_its_lease_reads_as_interrupted(github, deliver,
                                                                                          slow, error):
    issue = github.open_issue("Label tickets")
    slow.research_error = error
    with pytest.raises(type(error)):
        deliver(labeled(github, issue, "ml-intern"))
    assert github.stored_state(issue).lease["step"] == "research"  # saved before the step ran
    slow.research_error = None
    deliver(commented(github, issue, "/status", sender=READER))
    assert github.stored_state(issue).interrupted["step"] == "research"
    deliver(commented(github, issue, "/retry"))
    assert github.stored_state(issue).phase == Phase.PLANNED and len(slow.researched) == 2


def test_a_user_error_in_a_slow_step_is_a_public_failure_comment(github, deliver, slow, settings):
    issue = github.open_issue("Label tickets")
    where = settings.workdir.resolve() / "issues"
    slow.research_error = UserError(f"the data at {where} is unusable (token {settings.hf_token})")
    deliver(labeled(github, issue, "ml-intern"))
    state = github.stored_state(issue)
    assert state.phase == Phase.FAILED and state.failed_step == "research" and state.lease is None
    (failure,) = github.bot_comments(issue, "reply:failed-research-1")
    assert "the data at <workdir>/issues is unusable (token ***)" in failure.body
    assert str(where) not in github.status_body(issue) and settings.hf_token not in github.status_body(issue)


def test_an_unexpected_error_is_one_sentence_naming_a_bug(github, deliver, slow):
    issue = github.open_issue("Label tickets")
    slow.research_error = KeyError("column")
    deliver(labeled(github, issue, "ml-intern"))
    (failure,) = github.bot_comments(issue, "reply:failed-research-1")
    assert "unexpected KeyError" in failure.body and "Traceback" not in failure.body


def test_a_broken_config_file_fails_research_with_how_to_fix_it(github, deliver):
    issue = github.open_issue("Label tickets")
    github.commit("main", {".github/ml-intern.yml": "epochs: [3\n"}, author=MAINTAINER)
    deliver(labeled(github, issue, "ml-intern"))  # the real research step: it reads the config first
    state = github.stored_state(issue)
    assert state.phase == Phase.FAILED and "not valid YAML" in (state.error or "")


# --- concurrent writers -------------------------------------------------------------------------


def test_a_save_over_a_newer_state_raises_stale_state(github, settings, planned):
    issue, _ = planned
    first, second = IssueSession(github, settings, REPO, issue), IssueSession(github, settings, REPO, issue)
    first.state = github.stored_state(issue)
    second.state = github.stored_state(issue)
    first.state.activity = "first"
    first.save()
    second.state.activity = "second"
    loaded = second.state.version
    with pytest.raises(StaleState):
        second.save()
    assert second.state.version == loaded and github.stored_state(issue).activity == "first"


def test_a_cancel_saved_while_research_ran_wins_over_its_outcome(github, deliver, slow):
    issue = github.open_issue("Label tickets")
    slow.during_research = lambda: deliver(commented(github, issue, "/cancel"))  # another worker, meanwhile
    delivery = labeled(github, issue, "ml-intern")
    with pytest.raises(StaleState):
        deliver(delivery)
    slow.during_research = None
    deliver(delivery)  # the queue retries the event on the newer state
    assert github.stored_state(issue).phase == Phase.CANCELLED and len(slow.researched) == 1
    assert not github.bot_comments(issue, "reply:ready-") and not github.pulls


# --- where things go ----------------------------------------------------------------------------


def test_a_comment_on_the_bots_pr_is_answered_on_the_pr(github, deliver, planned, slow):
    issue, pr = planned
    before = len(replies(github, issue))
    deliver(commented(github, pr, "/help", sender=READER))
    assert len(replies(github, pr)) == 1 and len(replies(github, issue)) == before
    assert not github.bot_comments(pr, "state")  # the state stays on the issue
    deliver(commented(github, pr, "/approve-train"))  # from the PR, with the goal read from the issue
    assert github.stored_state(issue).phase == Phase.TRAINING and slow.backend.runs
    assert github.threads[pr].comments[-1].reactions == {(github.bot_login, "+1")}


def test_a_comment_on_someone_elses_pr_is_ignored(github, deliver, planned):
    github.commit("feature", {"x.py": "1\n"})
    other = github.ensure_pull("feature", "A feature", "body")
    github.calls.clear()
    deliver(commented(github, other, "/approve-train"))
    assert not github.bot_comments(other) and "save_status" not in github.calls


def test_a_hand_added_phase_label_is_undone_and_grants_nothing(github, deliver, planned, slow):
    issue, _ = planned
    deliver(labeled(github, issue, "ml-intern:trained", sender=MAINTAINER))
    assert github.labels(issue) == {"ml-intern", "ml-intern:planned"}
    deliver(commented(github, issue, "/approve-publish"))
    assert github.stored_state(issue).phase == Phase.PLANNED
