"""The GitHub adapter: the only module that imports PyGithub.

Every write is find-then-create or edit-in-place keyed by a hidden marker, so a redelivered
webhook or a restarted process never makes a second comment, branch or pull request.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import yaml
from github import Auth, Github, GithubException, InputGitTreeElement

from bot.config import Settings
from bot.core.commands import WRITE_PERMISSIONS, CommandError, parse_commands
from bot.core.state import MARKER_PREFIX, PHASE_LABELS, IssueState, decode_marker, encode_marker

log = logging.getLogger(__name__)
CONFIG_PATH = ".github/ml-intern.yml"


def marker(key: str) -> str:
    return f"<!-- ml-intern:{key} -->"


def _is_loopback(url: str) -> bool:
    return (urlparse(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


def connect(settings: Settings) -> Github:
    """A PyGithub client; the local forge gets no write throttling (GitHub.com keeps PyGithub's)."""
    throttle = {} if not _is_loopback(settings.github_api_url) else {
        "seconds_between_requests": None, "seconds_between_writes": None, "retry": 0}
    return Github(auth=Auth.Token(settings.require_token()), base_url=settings.github_api_url, **throttle)


class RepoClient:
    """One repository, seen by the bot."""

    def __init__(self, gh: Github, full_name: str, bot_login: str):
        self.repo = gh.get_repo(full_name)
        self.bot_login = bot_login.lower()
        self._comments: dict[int, list] = {}

    # --- comments and state ---------------------------------------------------------------

    def _bot_comments(self, number: int) -> list:
        if number not in self._comments:
            issue = self.repo.get_issue(number)
            self._comments[number] = [c for c in issue.get_comments() if c.user.login.lower() == self.bot_login]
        return self._comments[number]

    def _find(self, number: int, prefix: str):
        return next((c for c in self._bot_comments(number) if c.body.startswith(prefix)), None)

    def has_status(self, number: int) -> bool:
        return self._find(number, MARKER_PREFIX) is not None

    def load_state(self, number: int) -> IssueState:
        """Rebuild the state from the bot's own status comment; anyone else's marker is ignored."""
        comment = self._find(number, MARKER_PREFIX)
        return (decode_marker(comment.body) if comment else None) or IssueState()

    def save_state(self, number: int, state: IssueState, body: str) -> None:
        self.upsert(number, MARKER_PREFIX, f"{encode_marker(state)}\n{body}")
        self.sync_labels(number, state)

    def upsert_keyed(self, number: int, key: str, body: str, *, edit: bool) -> None:
        """A comment identified by `key`: edited in place when `edit`, else created only once."""
        prefix = marker(key)
        existing = self._find(number, prefix)
        if existing and not edit:
            return
        self.upsert(number, prefix, f"{prefix}\n{body}")

    def upsert(self, number: int, prefix: str, body: str) -> None:
        existing = self._find(number, prefix)
        if existing is None:
            created = self.repo.get_issue(number).create_comment(body)
            self._bot_comments(number).append(created)
        elif existing.body != body:
            existing.edit(body)

    def sync_labels(self, number: int, state: IssueState) -> None:
        """Labels mirror the phase; a stray phase label is removed, never trusted."""
        issue = self.repo.get_issue(number)
        current = {label.name for label in issue.labels}
        wanted = state.phase.label
        for name in (current & PHASE_LABELS) - {wanted}:
            issue.remove_from_labels(name)
        if wanted not in current:
            issue.add_to_labels(wanted)

    def react(self, number: int, content: str, comment_id: int | None = None) -> None:
        issue = self.repo.get_issue(number)
        target = issue.get_comment(comment_id) if comment_id else issue
        target.create_reaction(content)

    def cancel_requested(self, number: int, since: datetime) -> bool:
        """Whether someone with write access commented `/cancel` after `since` (polled during a run)."""
        for comment in self.repo.get_issue(number).get_comments(since=since):
            if comment.created_at < since or comment.user.login.lower() == self.bot_login or comment.user.type == "Bot":
                continue
            try:
                commands = parse_commands(comment.body)
            except CommandError:
                continue
            if any(c.name == "cancel" for c in commands) and self.permission(comment.user.login) in WRITE_PERMISSIONS:
                return True
        return False

    # --- facts for the core ---------------------------------------------------------------

    def permission(self, login: str) -> str:
        """The sender's repository permission as the API reports it (never author_association)."""
        try:
            return self.repo.get_collaborator_permission(login)
        except GithubException as exc:
            if exc.status == 404:
                return "none"
            raise

    def pull_head(self, pr_number: int | None) -> str | None:
        return self.repo.get_pull(pr_number).head.sha if pr_number else None

    def pull_branch(self, pr_number: int) -> str:
        return self.repo.get_pull(pr_number).head.ref

    def issue_text(self, number: int) -> tuple[str, str]:
        issue = self.repo.get_issue(number)
        return issue.title or "", issue.body or ""

    def read_config(self) -> dict:
        """The repository's `.github/ml-intern.yml`, or {} when it has none."""
        try:
            content = self.repo.get_contents(CONFIG_PATH)
        except GithubException as exc:
            if exc.status == 404:
                return {}
            raise
        data = yaml.safe_load(base64.b64decode(content.content).decode("utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{CONFIG_PATH} must be a mapping of settings")  # noqa: TRY004 -- a user's file, not a type bug
        return data

    # --- branches, pull requests and checkouts --------------------------------------------

    def push_files(self, branch: str, files: dict[str, str], message: str) -> str:
        """Commit `files` on `branch` (created from the default branch); no-op when unchanged."""
        parent_sha = self._ref_sha(branch) or self._ref_sha(self.repo.default_branch)
        parent = self.repo.get_git_commit(parent_sha)
        elements = [InputGitTreeElement(path, "100644", "blob", content=text) for path, text in sorted(files.items())]
        tree = self.repo.create_git_tree(elements, parent.tree)
        if tree.sha == parent.tree.sha and self._ref_sha(branch):
            return parent_sha
        commit = self.repo.create_git_commit(message, tree, [parent])
        if self._ref_sha(branch):
            self.repo.get_git_ref(f"heads/{branch}").edit(commit.sha)
        else:
            self.repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
        return commit.sha

    def _ref_sha(self, branch: str) -> str | None:
        try:
            return self.repo.get_git_ref(f"heads/{branch}").object.sha
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise

    def ensure_pull(self, branch: str, title: str, body: str) -> int:
        """The open PR for `branch`, its body refreshed; created when there is none."""
        owner = self.repo.owner.login
        for pull in self.repo.get_pulls(state="open", head=f"{owner}:{branch}"):
            if pull.body != body or pull.title != title:
                pull.edit(title=title, body=body)
            return pull.number
        return self.repo.create_pull(title=title, body=body, head=branch, base=self.repo.default_branch).number

    def checkout(self, sha: str, folder: str, dest: Path) -> list[str]:
        """Write the files under `folder` at exactly commit `sha` into `dest`."""
        tree = self.repo.get_git_tree(self.repo.get_git_commit(sha).tree.sha, recursive=True)
        written = []
        prefix = folder.rstrip("/") + "/"
        for entry in tree.tree:
            if entry.type != "blob" or not entry.path.startswith(prefix):
                continue
            target = dest / entry.path[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(self.repo.get_git_blob(entry.sha).content))
            written.append(entry.path)
        if not written:
            raise FileNotFoundError(f"commit {sha[:7]} has no files under {folder}/")
        return written
