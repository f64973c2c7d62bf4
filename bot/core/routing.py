"""Which goal issue a delivery belongs to: the one key that puts an issue's events in one queue.

The webhook server keys its inbox with it, and the Action's routing step keys the workflow's
`concurrency` group with it, so an issue and its PR are never handled at the same time anywhere.
Standard library only: the Action runs this file as a script before anything is installed
(`python3 bot/core/routing.py` prints `issue=<n>` for `$GITHUB_OUTPUT`).
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

BRANCH_PREFIX = "ml-intern/issue-"
_BRANCH = re.compile(rf"^{re.escape(BRANCH_PREFIX)}(\d+)$")
_PR_MARKER = re.compile(r"<!-- ml-intern:pr issue=(\d+) -->")
_RUN_TITLE = re.compile(r"^train issue #(\d+) at [0-9a-f]{40}$")  # train.yml's run-name


def issue_for_branch(ref: str) -> int | None:
    """The issue number of a bot branch `ml-intern/issue-<n>`, else None."""
    match = _BRANCH.match(ref or "")
    return int(match.group(1)) if match else None


def issue_for_run_title(title: str) -> int | None:
    """The issue of a train.yml run, from its run-name `train issue #<n> at <sha>`, else None."""
    match = _RUN_TITLE.match(title or "")
    return int(match.group(1)) if match else None


def pr_marker(number: int) -> str:
    """The hidden line in the bot's PR body that names its goal issue."""
    return f"<!-- ml-intern:pr issue={number} -->"


def goal_of(payload: dict[str, Any], bot_login: str) -> int | None:
    """The goal issue of an `issues`, `issue_comment`, `pull_request` or train `workflow_run` payload.

    A push to the bot's branch belongs to the issue the branch is named after; a comment on the
    bot's own PR to the issue its body's marker names. A PR the bot did not open keeps its own
    number (the handler then ignores it). The handler checks the PR's branch through the API too.
    """
    run = payload.get("workflow_run")
    if isinstance(run, dict):
        return issue_for_run_title(str(run.get("display_title") or ""))
    pull = payload.get("pull_request")
    if isinstance(pull, dict):
        head = pull.get("head") or {}
        branch_issue = issue_for_branch(str(head.get("ref") or ""))
        return branch_issue if branch_issue is not None else _number(pull)
    issue = payload.get("issue")
    if not isinstance(issue, dict):
        return None
    if issue.get("pull_request"):
        marker = _PR_MARKER.search(str(issue.get("body") or ""))
        author = str((issue.get("user") or {}).get("login") or "")
        if marker and author.lower() == bot_login.lower():
            return int(marker.group(1))
    return _number(issue)


def _number(item: dict[str, Any]) -> int | None:
    number = item.get("number")
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def main() -> int:
    """The Action's routing step: print `issue=<n>` (or `issue=none`) for the event of this job."""
    with open(os.environ["GITHUB_EVENT_PATH"], encoding="utf-8") as event:
        payload = json.load(event)
    goal = goal_of(payload if isinstance(payload, dict) else {}, os.environ.get("ML_INTERN_BOT_LOGIN", ""))
    print(f"issue={goal if goal is not None else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
