"""Faults (a testing aid): the forge fails on purpose, before or after doing the work, as told."""

from __future__ import annotations

import re

import httpx
import pytest
from github import GithubException

from tests.forge.conftest import REPO


def test_an_outage_fails_every_request_until_cleared(forge, gh, server):
    forge.add_fault(503, times=0)
    repo = gh("alice")
    for _ in range(2):
        with pytest.raises(GithubException) as err:
            repo.get_repo(REPO)
        assert err.value.status == 503
        assert err.value.data == {"message": "Service Unavailable", "documentation_url": "https://docs.github.com/rest",
                                  "status": "503"}
    assert httpx.get(f"{server.url}/{REPO}").status_code == 200  # the web view is not the API
    assert [(f["fired"], f["remaining"], f["active"]) for f in forge.faults()] == [(2, None, True)]
    assert forge.clear_faults() == 1
    assert repo.get_repo(REPO).full_name == REPO


def test_a_fault_matches_method_and_path_and_counts_down(forge, gh):
    repo = gh("alice").get_repo(REPO)
    forge.add_fault(500, method="post", path=r"/issues$", times=2, message="Server Error")
    for _ in range(2):
        with pytest.raises(GithubException) as err:
            repo.create_issue(title="refused")
        assert (err.value.status, err.value.data["message"]) == (500, "Server Error")
        assert repo.get_issues().totalCount == 0  # GETs pass
    assert repo.create_issue(title="third time").number == 1  # nothing was written before
    [f] = forge.faults()
    assert (f["fired"], f["remaining"], f["active"]) == (2, 0, False)


def test_a_fault_after_the_write_saves_it_and_still_fails(forge, gh, receiver):
    forge.add_hook(REPO, url=receiver.url, secret="s", events=["issue_comment"])
    issue = gh("alice").get_repo(REPO).create_issue(title="t")
    forge.add_fault(502, method="POST", path=r"/issues/\d+/comments$", when="after")
    with pytest.raises(GithubException) as err:
        issue.create_comment("saved anyway")
    assert err.value.status == 502
    assert [c.body for c in issue.get_comments()] == ["saved anyway"]
    assert forge.wait_for_deliveries(timeout=10)
    assert [r["json"]["action"] for r in receiver.requests] == ["created"]


def test_faults_refuse_nonsense(forge):
    for bad in ({"status": 200}, {"status": 500, "when": "during"}, {"status": 500, "times": -1},
                {"status": 500, "path": "("}):
        with pytest.raises((ValueError, re.error)):
            forge.add_fault(**bad)
    assert forge.faults() == []
