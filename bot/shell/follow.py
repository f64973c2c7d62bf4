"""Following training jobs from outside a delivery: which issues have one, and one poll for each.

The server's watcher (bot/edge/watcher.py) queues these polls every few seconds; the Action's scheduled
run handles them directly (`poll_training_issues`). The `ml-intern:training` label mirrors the phase,
so one API call per repository finds the issues to ask about.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.config import Settings
from bot.core.events import POLL_EVENT
from bot.core.state import Phase

Lister = Callable[[str], list[int]]


def poll_payload(repo: str, number: int) -> dict:
    """The bot's own poll event, shaped like GitHub's payloads (repository.full_name, issue.number)."""
    return {"repository": {"full_name": repo}, "issue": {"number": number}}


def training_issues(settings: Settings) -> Lister:
    """repo -> its open issues labelled as training, read through the GitHub API."""
    from bot.shell.github import connect

    clients: list = []  # connected on first use: a server without deliveries never needs GitHub

    def listed(repo: str) -> list[int]:
        if not clients:
            clients.append(connect(settings))
        issues = clients[0].get_repo(repo).get_issues(state="open", labels=[Phase.TRAINING.label])
        return [issue.number for issue in issues]

    return listed


def poll_training_issues(repo: str, *, settings: Settings) -> list[int]:
    """Follow every training job of `repo` once (the Action's scheduled run: HF Jobs send no webhook)."""
    from bot.shell.handler import handle_event

    numbers = training_issues(settings)(repo)
    for number in numbers:
        handle_event(POLL_EVENT, poll_payload(repo, number), settings=settings)
    return numbers
