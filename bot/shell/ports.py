"""The one port between the shell and GitHub: what `IssueSession` and `Executor` ask of a repository.

`bot.shell.github.RepoClient` is the adapter that speaks to GitHub (or the local forge) with PyGithub;
tests drive the shell with an in-memory fake (`tests/shell/fake_github.py`). The signatures are
RepoClient's own, so mypy checks that it is a `Repository` (below, and wherever one is passed in).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bot.core.state import IssueState


class Repository(Protocol):
    """One repository as the bot sees it; writes are keyed, so doing one twice changes nothing."""

    # --- comments and state (handler.py) ---
    def load_state(self, number: int) -> IssueState: ...

    def has_status(self, number: int) -> bool: ...

    def save_status(self, number: int, body: str, *, expected_version: int) -> None: ...

    def upsert_keyed(self, number: int, key: str, body: str, *, edit: bool) -> None: ...

    def labels(self, number: int) -> set[str]: ...

    def change_labels(self, number: int, add: set[str], remove: set[str]) -> None: ...

    def react(self, number: int, content: str, comment_id: int | None = None) -> None: ...

    def comments_since(self, number: int, since: datetime) -> list[tuple[str, str, str]]: ...

    # --- facts for the core (handler.py; permission also executor.py's CancelWatch) ---
    def permission(self, login: str) -> str: ...

    def pull_head(self, pr_number: int | None) -> str | None: ...

    def pull_branch(self, pr_number: int) -> str: ...

    def commits_after(self, pr_number: int, sha: str) -> list[tuple[str, str]]: ...

    def issue_text(self, number: int) -> tuple[str, str]: ...

    # --- configuration, branches, pull requests and checkouts (executor.py) ---
    def read_config(self) -> dict: ...

    def push_files(self, branch: str, folder: str, files: dict[str, str], message: str) -> tuple[str, str]: ...

    def ensure_pull(self, branch: str, title: str, body: str) -> int: ...

    def checkout(self, sha: str, paths: list[str], dest: Path) -> list[str]: ...

    def fetch_default_branch(self, path: str, dest: Path) -> Path | None: ...


if TYPE_CHECKING:  # mypy: the GitHub adapter keeps the port (no import of PyGithub at run time)
    from bot.shell.github import RepoClient

    _adapter_keeps_the_port: type[Repository] = RepoClient
