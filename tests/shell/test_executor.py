"""The Executor (bot/shell/executor.py) against the in-memory repository, with the ML stubbed: what it
pushes, what it checks out, what it keeps on disk before reporting, and who may stop a run."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.core import effects as fx
from bot.errors import Interrupted
from bot.shell.executor import RESULT_FILE, CancelWatch, Executor, RepoData, branch_for, folder_for
from tests.shell.support import BOT, MAINTAINER, PLAN, READER, REPO, RESEARCH


@pytest.fixture
def executor(github, settings, slow) -> Executor:
    return Executor(github, settings, REPO, github.open_issue("Label tickets"), lambda _activity: None)


def opened(executor: Executor, plan: dict = PLAN) -> fx.PullRequestReady:
    outcome = executor.open_pull_request(fx.OpenPullRequest(plan, RESEARCH))
    assert isinstance(outcome, fx.PullRequestReady), outcome
    return outcome


def test_the_pr_commit_holds_exactly_the_rendered_files_and_a_replan_reuses_the_pr(github, executor):
    folder = folder_for(executor.number)
    github.commit(branch_for(executor.number), {f"{folder}/notes.txt": "someone's file\n"}, author=READER)
    first = opened(executor)
    assert first.head_sha == github.branches[branch_for(executor.number)]
    assert f"{folder}/notes.txt" not in github.commits[first.head_sha].tree  # only what was smoke-tested
    again = opened(executor, {**PLAN, "epochs": 2})
    assert again.pr_number == first.pr_number
    assert again.head_sha != first.head_sha and "epochs: 2" in github.commits[again.head_sha].tree[f"{folder}/config.yaml"]
    assert len(github.pulls) == 1


def test_a_failed_smoke_test_pushes_nothing(github, executor, monkeypatch):
    from bot.writing import smoke

    monkeypatch.setattr(smoke, "smoke_test", lambda *a, **k: smoke.SmokeResult(False, 1.0, "boom", "Traceback…"))
    outcome = executor.open_pull_request(fx.OpenPullRequest(PLAN, RESEARCH))
    assert isinstance(outcome, fx.StepFailed) and outcome.step == "smoke" and outcome.log_tail == "Traceback…"
    assert branch_for(executor.number) not in github.branches and not github.pulls


def test_training_checks_out_the_approved_commit_not_the_branch_tip(github, executor, slow):
    sha, folder = opened(executor).head_sha, folder_for(executor.number)
    github.commit(branch_for(executor.number), {f"{folder}/train.py": "print('pushed later')\n"}, author=READER)
    outcome = executor.train(fx.Train(sha, PLAN))
    assert isinstance(outcome, fx.Trained) and outcome.sha == sha
    tree = github.commits[sha].tree
    assert slow.runner.runs == [{"train.py": tree[f"{folder}/train.py"], "config.yaml": tree[f"{folder}/config.yaml"]}]
    record = json.loads((executor.run_dir(sha) / RESULT_FILE).read_text())
    assert record["status"] == "succeeded"  # kept on disk before it is reported


@pytest.mark.parametrize(("status", "outcome"), [("cancelled", fx.Stopped), ("failed", fx.StepFailed)])
def test_a_run_that_did_not_succeed_is_reported_as_such(github, executor, slow, status, outcome):
    sha = opened(executor).head_sha
    slow.runner.status = status
    assert isinstance(executor.train(fx.Train(sha, PLAN)), outcome)
    assert isinstance(executor.recover({"step": "training", "sha": sha}, None), outcome)


def test_a_run_stopped_by_shutdown_raises_and_is_not_recovered(github, executor, slow):
    sha = opened(executor).head_sha
    slow.runner.status = "interrupted"
    with pytest.raises(Interrupted):
        executor.train(fx.Train(sha, PLAN))
    assert executor.recover({"step": "training", "sha": sha}, None) is None


def test_repository_data_is_read_from_the_default_branch(github, executor, tmp_path):
    github.commit("main", {"data/tickets.csv": "text,label\nhi,a\n"}, author=MAINTAINER)
    github.commit("other", {"data/only-here.csv": "x\n"}, author=READER)
    data = RepoData(github, tmp_path / "scratch")
    fetched = data.fetch("data/tickets.csv")
    assert fetched is not None and fetched.read_text() == "text,label\nhi,a\n"
    assert data.fetch("data/only-here.csv") is None


def test_only_a_cancel_from_someone_with_write_permission_stops_a_run(github):
    issue = github.open_issue("Label tickets")
    watch = CancelWatch(github, issue, lambda: None)
    early = github.add_comment(issue, MAINTAINER, "/cancel")
    early.created_at = watch.since - timedelta(seconds=5)  # typed before the run started
    github.add_comment(issue, READER, "/cancel")
    github.add_comment(issue, BOT, "/cancel", type="Bot")
    github.add_comment(issue, MAINTAINER, "```\n/cancel\n```")  # code is never a command
    assert not watch._requested()
    github.add_comment(issue, MAINTAINER, "Stop, please.\n/cancel")
    assert watch._requested()
