"""The whole loop through the local forge over real HTTP: PyGithub, signed webhooks, real training.

One module-scoped story (a few hundred real Bitext rows, one epoch) with the trust checks made at
the moments a user would try them.
"""

import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest
from github import InputGitTreeElement
from huggingface_hub import ModelCard

from bot.core.state import Phase
from bot.playground.world import OTHER_BOT, world
from bot.writing.artifacts import shipped_eval

GOAL_TITLE = "Classify support tickets"
GOAL_BODY = "Build a text classification model that labels customer support tickets by issue type."
PLAN = {"max_train_rows": 300, "epochs": 1, "budget_minutes": 2}


@pytest.fixture(scope="module")
def w(tmp_path_factory, bitext_sample, hf_home):
    with world(tmp_path_factory.mktemp("loop"), str(bitext_sample), PLAN) as w:
        yield w


@pytest.fixture(scope="module")
def planned(w):
    issue = w.as_user("alice").create_issue(title=GOAL_TITLE, body=GOAL_BODY)
    w.settle()
    assert w.bot_comments(issue.number) == [], "an issue without the trigger gets no bot comment"
    w.as_user("maintainer").get_issue(issue.number).add_to_labels("ml-intern")
    w.settle()
    return issue.number


def comment(w, login, number, body):
    w.as_user(login).get_issue(number).create_comment(body)
    w.settle()


def replies(w, number):
    return "\n".join(body for body in w.bot_comments(number) if "ml-intern:reply" in body)


def push_change(w, branch, path, text):
    """A maintainer pushes a commit on the bot's branch through the git data API."""
    repo = w.as_user("maintainer")
    head = repo.get_git_commit(repo.get_git_ref(f"heads/{branch}").object.sha)
    tree = repo.create_git_tree([InputGitTreeElement(path, "100644", "blob", content=text)], head.tree)
    commit = repo.create_git_commit("maintainer tweak", tree, [head])
    repo.get_git_ref(f"heads/{branch}").edit(commit.sha)
    w.settle()
    return commit.sha


def test_goal_gets_a_plan_comment_and_a_smoke_tested_pull_request(w, planned):
    state = w.state(planned)
    assert state.phase == Phase.PLANNED, state.error
    bodies = w.bot_comments(planned)
    plan = [b for b in bodies if "ml-intern:plan" in b]
    assert len(plan) == 1 and "Baseline" in plan[0] and "`category`" in plan[0]
    pull = w.as_user("alice").get_pull(state.pr_number)
    assert f"#{planned}" in pull.body and "Smoke test" in pull.body
    files = {f.filename for f in pull.get_files()}
    folder = f"ml-intern/issue-{planned}"
    assert {f"{folder}/{name}" for name in ("train.py", "evaluate.py", "app.py", "config.yaml")} <= files
    labels = {label.name for label in w.as_user("alice").get_issue(planned).labels}
    assert "ml-intern:planned" in labels


def test_redelivered_webhook_makes_no_second_plan(w, planned):
    labeled = [d for d in w.forge.deliveries() if d["event"] == "issues" and d["action"] == "labeled"]
    w.forge.redeliver(labeled[-1]["id"])
    w.settle()
    assert sum("ml-intern:plan" in b for b in w.bot_comments(planned)) == 1
    assert sum("ml-intern:state" in b for b in w.bot_comments(planned)) == 1


def test_unsigned_and_wrongly_signed_deliveries_get_401_and_change_nothing(w, planned):
    before = w.bot_comments(planned)
    payload = json.dumps({"action": "created", "issue": {"number": planned}, "comment": {"id": 1, "body": "/approve-train"},
                          "repository": {"full_name": "acme/support-bot"}, "sender": {"login": "maintainer"}}).encode()
    headers = {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "forged-1", "Content-Type": "application/json"}
    assert httpx.post(f"{w.bot_url}/webhook", content=payload, headers=headers).status_code == 401
    wrong = "sha256=" + hmac.new(b"not-the-secret", payload, hashlib.sha256).hexdigest()
    response = httpx.post(f"{w.bot_url}/webhook", content=payload, headers={**headers, "X-Hub-Signature-256": wrong})
    assert response.status_code == 401
    w.settle()
    assert w.bot_comments(planned) == before and w.state(planned).phase == Phase.PLANNED


def test_read_only_and_bot_approvals_are_refused_and_train_nothing(w, planned):
    comment(w, "reader", planned, "/approve-train")
    comment(w, OTHER_BOT, planned, "/approve-train")
    text = replies(w, planned)
    assert "@reader, `/approve-train` needs write" in text
    assert "commands from bot accounts are never accepted" in text
    assert w.state(planned).phase == Phase.PLANNED
    assert not list((w.settings.workdir / "issues").rglob("runs")), "no training may start"


def test_author_association_in_the_payload_grants_nothing(w, planned):
    """A signed delivery claiming reader is the OWNER: the bot asks the API and refuses."""
    payload = json.dumps({
        "action": "created", "repository": {"full_name": "acme/support-bot"},
        "issue": {"number": planned, "title": GOAL_TITLE, "body": GOAL_BODY},
        "comment": {"id": 990001, "body": "/approve-train", "author_association": "OWNER"},
        "sender": {"login": "reader", "type": "User"},
    }).encode()
    signature = "sha256=" + hmac.new(w.settings.webhook_secret.encode(), payload, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "claims-owner", "X-Hub-Signature-256": signature,
               "Content-Type": "application/json"}
    assert httpx.post(f"{w.bot_url}/webhook", content=payload, headers=headers).status_code == 202
    w.settle()
    answer = [b for b in w.bot_comments(planned) if "ml-intern:reply:cmd-990001" in b]
    assert len(answer) == 1 and "@reader, `/approve-train` needs write" in answer[0]
    assert w.state(planned).phase == Phase.PLANNED


def test_approval_for_a_sha_that_is_no_longer_the_head_is_refused(w, planned):
    state = w.state(planned)
    old = state.head_sha
    new = push_change(w, state.branch, f"ml-intern/issue-{planned}/NOTES.md", "maintainer was here\n")
    assert w.state(planned).head_sha == new
    comment(w, "maintainer", planned, f"/approve-train {old[:7]}")
    assert "is no longer the head" in replies(w, planned)
    assert w.state(planned).phase == Phase.PLANNED


@pytest.fixture(scope="module")
def trained(w, planned):
    head = w.state(planned).head_sha  # the maintainer's own NOTES.md commit: the bot did not smoke-test it
    comment(w, "maintainer", planned, "/approve-train")
    assert "did not smoke-test" in replies(w, planned) and w.state(planned).phase == Phase.PLANNED
    comment(w, "maintainer", planned, f"/approve-train {head[:7]}")
    state = w.wait_for(planned, {Phase.TRAINED, Phase.FAILED}, timeout=600)
    assert state.phase == Phase.TRAINED, f"{state.failed_step}: {state.error}"
    return state


def test_training_runs_on_exactly_the_approved_sha_and_reports(w, planned, trained):
    assert trained.run.sha == trained.approved_sha == trained.head_sha and trained.approved_untested
    job = w.settings.workdir / "jobs" / trained.run.job["id"]  # the local job's own copy of the approved commit
    assert trained.run.job["backend"] == "local" and trained.run.cost_usd == 0.0
    assert (job / "repo" / f"ml-intern/issue-{planned}" / "NOTES.md").read_text() == "maintainer was here\n"
    out = job / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert (out / "confusion_matrix.png").stat().st_size > 1000
    report = [b for b in w.bot_comments(planned) if "ml-intern:report" in b]
    assert len(report) == 1
    assert f"{100 * shipped_eval(metrics)['accuracy']:.1f} %" in report[0]
    assert "TF-IDF baseline" in report[0] and "Per-class" in report[0]
    assert "trained on the bot's machine" in report[0] and "cost $0.00" in report[0]
    assert str(w.settings.workdir.resolve()) not in "".join(w.bot_comments(planned))  # no server path in comments


def test_a_push_after_training_voids_publishing(w, planned, trained):
    push_change(w, trained.branch, f"ml-intern/issue-{planned}/NOTES.md", "second thoughts\n")
    state = w.state(planned)
    assert state.phase == Phase.PLANNED and state.approved_sha is None
    assert "void the approval" in replies(w, planned)
    comment(w, "maintainer", planned, "/approve-publish")
    assert "`/approve-publish` refused" in replies(w, planned)
    assert not (w.settings.publish_target / "models").exists()


def test_retrained_run_publishes_once_with_card_and_space(w, planned, trained):
    comment(w, "maintainer", planned, f"/approve-train {w.state(planned).head_sha[:7]}")
    state = w.wait_for(planned, {Phase.TRAINED, Phase.FAILED}, timeout=600)
    assert state.phase == Phase.TRAINED, state.error
    comment(w, "maintainer", planned, "/approve-publish")
    state = w.wait_for(planned, {Phase.PUBLISHED, Phase.FAILED})
    assert state.phase == Phase.PUBLISHED, state.error
    model, space = Path(state.published.model), Path(state.published.space)
    card = ModelCard((model / "README.md").read_text())
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert {"config.json", "model.safetensors"} <= {p.name for p in model.iterdir()}
    assert "sdk: gradio" in (space / "README.md").read_text() and (space / "app.py").exists()
    stamp = (model / "README.md").stat().st_mtime_ns
    comment(w, "maintainer", planned, "/approve-publish")
    assert "Already published" in replies(w, planned)
    assert (model / "README.md").stat().st_mtime_ns == stamp


def test_cancel_stops_a_running_training_promptly(w):
    import time

    issue = w.as_user("alice").create_issue(title="Ticket intents", body=GOAL_BODY)
    comment(w, "maintainer", issue.number, "/plan epochs=20 rows=800 budget=15")
    assert w.state(issue.number).phase == Phase.PLANNED
    w.as_user("maintainer").get_issue(issue.number).create_comment("/approve-train")
    deadline = time.monotonic() + 120
    while not w.state(issue.number).activity.startswith(("Training:", "Epoch")):
        assert time.monotonic() < deadline, "training never reported progress"
        time.sleep(1)
    job = w.settings.workdir / "jobs" / w.state(issue.number).job["id"]
    cancelled_at = time.monotonic()
    comment(w, "maintainer", issue.number, "/cancel")
    assert time.monotonic() - cancelled_at < 90, "20 epochs would take minutes; /cancel must stop them"
    state = w.state(issue.number)
    assert state.phase == Phase.CANCELLED and state.run is None
    assert "Cancelled" in replies(w, issue.number)
    assert "billing stopped" in w.status_body(issue.number)
    assert json.loads((job / "result.json").read_text())["status"] == "cancelled"
    assert not (job / "out" / "metrics.json").exists()
