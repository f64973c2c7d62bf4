"""The Executor (bot/shell/executor.py) against the in-memory repository, with the ML and the training
backend stubbed: what it pushes, what it submits, how it reads an ended job, and how it stops one."""

from __future__ import annotations

import pytest

from bot.core import effects as fx
from bot.core.records import MetricsError
from bot.shell.executor import Executor, RepoData, branch_for, folder_for
from tests.shell.support import MAINTAINER, METRICS, PLAN, READER, REPO, RESEARCH


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


def test_training_submits_the_approved_commit_not_the_branch_tip(github, executor, slow):
    sha, folder = opened(executor).head_sha, folder_for(executor.number)
    github.commit(branch_for(executor.number), {f"{folder}/train.py": "print('pushed later')\n"}, author=READER)
    outcome = executor.train(fx.Train(sha, PLAN))
    assert isinstance(outcome, fx.RunSubmitted) and outcome.sha == sha
    assert outcome.job == {"backend": "local", "id": "job1", "url": "https://jobs.example/1", "artifacts": ""}
    tree = github.commits[sha].tree
    assert slow.backend.runs == [{"train.py": tree[f"{folder}/train.py"], "config.yaml": tree[f"{folder}/config.yaml"]}]


def test_an_ended_job_is_collected_with_its_metrics_and_cost(github, executor, slow):
    sha = opened(executor).head_sha
    job = executor.train(fx.Train(sha, PLAN)).job
    slow.backend.stage, slow.backend.cost = "succeeded", 0.0125
    outcome = executor.collect(fx.Collect(sha, job))
    assert isinstance(outcome, fx.Trained) and outcome.run.job == job and outcome.run.cost_usd == 0.0125
    assert outcome.run.summary.macro_f1 == METRICS["finetuned"]["macro_f1"]


@pytest.mark.parametrize(("stage", "words"), [
    ("failed", "exited with an error"),
    ("timed_out", ("went past its time limit, the training budget plus the evaluation allowance, and was stopped "
                   "(Job timeout after 600s). Billing stopped; the job cost $0.0125")),
    ("cancelled", "cancelled outside the bot"),
])
def test_a_job_that_did_not_succeed_is_a_training_failure_that_says_why(github, executor, slow, stage, words):
    sha = opened(executor).head_sha
    job = executor.train(fx.Train(sha, PLAN)).job
    slow.backend.stage, slow.backend.cost = stage, 0.0125
    outcome = executor.collect(fx.Collect(sha, job))
    assert isinstance(outcome, fx.StepFailed) and outcome.step == "training" and words in outcome.message
    assert outcome.log_tail == "epoch 1/1"


def test_metrics_that_break_the_contract_are_refused_by_name(github, executor, slow):
    sha = opened(executor).head_sha
    job = executor.train(fx.Train(sha, PLAN)).job
    slow.backend.stage, slow.backend.metrics = "succeeded", {"dataset": "x"}
    with pytest.raises(MetricsError, match="model"):
        executor.collect(fx.Collect(sha, job))


def test_cancelling_a_job_waits_for_its_backend_to_confirm(github, executor, slow):
    sha = opened(executor).head_sha
    job = executor.train(fx.Train(sha, PLAN)).job
    outcome = executor.cancel_run(fx.CancelRun(job))
    assert slow.backend.cancelled == ["job1"]
    assert outcome == fx.JobEnded("job1", "cancelled", 3.0, 0.0)


def test_repository_data_is_read_from_the_default_branch(github, executor, tmp_path):
    github.commit("main", {"data/tickets.csv": "text,label\nhi,a\n"}, author=MAINTAINER)
    github.commit("other", {"data/only-here.csv": "x\n"}, author=READER)
    data = RepoData(github, tmp_path / "scratch")
    fetched = data.fetch("data/tickets.csv")
    assert fetched is not None and fetched.read_text() == "text,label\nhi,a\n"
    assert data.fetch("data/only-here.csv") is None
