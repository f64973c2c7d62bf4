"""Approval binds to what the maintainer saw, and only visible commands count: real forge, real serve."""

from __future__ import annotations

import time

import pytest
from github import InputGitTreeElement

from bot.core.state import Phase
from tests.core.test_commands_and_state import HIDDEN_COMMANDS
from tests.trust.conftest import planned_issue


@pytest.fixture(scope="module")
def planned(trust_world):
    return planned_issue(trust_world)


def push_as(world, login: str, branch: str, path: str, text: str) -> str:
    """`login` pushes one changed file to `branch` through the git data API; returns the new head."""
    repo = world.repo(login)
    head = repo.get_git_commit(repo.get_git_ref(f"heads/{branch}").object.sha)
    tree = repo.create_git_tree([InputGitTreeElement(path, "100644", "blob", content=text)], head.tree)
    commit = repo.create_git_commit(f"{login} was here", tree, [head])
    repo.get_git_ref(f"heads/{branch}").edit(commit.sha)
    return commit.sha


def test_a_push_between_approval_and_its_handling_never_runs(trust_world, planned, tmp_path, figures):
    """Regression: the bot approved the head at handling time and trained code pushed 0.2 s after `/approve-train`."""
    world, number = trust_world, planned
    state = world.state(number)
    marker = tmp_path / "pushed-code-ran"
    train_py = world.repo("maintainer").get_contents(f"ml-intern/issue-{number}/train.py", ref=state.branch)
    hostile = f"open({str(marker)!r}, 'w').write('ran')\n" + train_py.decoded_content.decode()
    world.bot.pause()  # the bot is slow to get to the comment: the push lands first
    try:
        world.repo("maintainer").get_issue(number).create_comment("/approve-train")
        time.sleep(0.2)
        pushed = push_as(world, "mallory", state.branch, f"ml-intern/issue-{number}/train.py", hostile)
    finally:
        world.bot.resume()
    refusal = world.wait_for_reply(number, "`/approve-train` refused")
    after = world.wait_for(number, {Phase.PLANNED, Phase.TRAINING, Phase.TRAINED, Phase.FAILED}, timeout=120)
    time.sleep(5)  # long enough for a wrongly started run to reach the marker line
    figures.update(pushed_code_runs=int(marker.exists()), trained=int(after.phase != Phase.PLANNED))
    assert not marker.exists(), "the pushed train.py ran without an approval of its SHA"
    assert after.phase == Phase.PLANNED and after.approved_sha is None
    assert state.tested_sha[:7] in refusal and pushed[:7] in refusal and "@mallory" in refusal
    assert f"/approve-train {pushed[:7]}" in refusal
    status = world.status_body(number)
    assert "not smoke-tested by the bot" in status and pushed[:7] in status


def test_commands_a_reader_cannot_see_are_not_obeyed(trust_world, planned, figures):
    world, number = trust_world, planned
    before = len(world.bot_comments(number))
    issue = world.repo("maintainer").get_issue(number)
    for body in HIDDEN_COMMANDS.values():
        issue.create_comment(body)
    issue.create_comment("/status")  # a visible one last: once it is answered, the hidden ones were read
    world.wait_for_reply(number, "ml-intern status")
    state = world.state(number)
    answered = len(world.bot_comments(number)) - before
    figures.update(hidden_commands=len(HIDDEN_COMMANDS), obeyed=answered - 1)
    assert answered == 1, "only the visible /status may get an answer"
    assert state.phase == Phase.PLANNED and state.approved_sha is None


def test_several_issues_labelled_at_once_are_all_planned(trust_world, figures):
    """Regression: research in parallel worker threads failed with `ImportError: cannot import name 'AutoTokenizer'`."""
    world = trust_world
    numbers = [world.repo("alice").create_issue(title=f"Tickets {n}", body="Label support tickets by issue type.").number
               for n in range(3)]
    for number in numbers:
        world.repo("maintainer").get_issue(number).add_to_labels("ml-intern")
    states = [world.wait_for(number, {Phase.PLANNED, Phase.FAILED}, timeout=600) for number in numbers]
    figures.update(issues=len(numbers), planned=sum(s.phase == Phase.PLANNED for s in states))
    assert all(s.phase == Phase.PLANNED for s in states), [s.error for s in states]
