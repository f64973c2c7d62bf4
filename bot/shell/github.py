"""The GitHub adapter: the only module that imports PyGithub.

Every write is find-then-create or edit-in-place keyed by a hidden marker, so a redelivered
webhook, a retried request or a restarted process never makes a second comment, branch or pull
request. Every request goes through the one retry policy in `bot.shell.retry`.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import requests
import yaml
from github import Auth, Github, GithubException, InputGitTreeElement

from bot.config import Settings
from bot.core.state import MARKER_PREFIX, IssueState, decode_marker
from bot.errors import UserError
from bot.shell.retry import create_once, github_retry

log = logging.getLogger(__name__)
CONFIG_PATH = ".github/ml-intern.yml"


def marker(key: str) -> str:
    return f"<!-- ml-intern:{key} -->"


def _is_loopback(url: str) -> bool:
    return (urlparse(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


class StaleState(requests.RequestException):
    """Another writer saved the issue's state first; like an outage, the event is handled again later."""


class ConfigFileError(UserError):
    """`.github/ml-intern.yml` cannot be read; the message says how to fix it."""


def connect(settings: Settings) -> Github:
    """A PyGithub client with the bot's retry policy; the local forge gets no write throttling."""
    retry = github_retry(backoff_s=settings.retry_base_s / 10)
    auth = Auth.Token(settings.require_token())
    if _is_loopback(settings.github_api_url):
        return Github(auth=auth, base_url=settings.github_api_url, retry=retry,
                      seconds_between_requests=None, seconds_between_writes=None)
    return Github(auth=auth, base_url=settings.github_api_url, retry=retry)


class RepoClient:
    """One repository, seen by the bot."""

    def __init__(self, gh: Github, full_name: str, bot_login: str):
        self.repo = gh.get_repo(full_name)
        self.bot_login = bot_login.lower()
        self._comments: dict[int, list] = {}

    # --- comments and state ---------------------------------------------------------------

    def _bot_comments(self, number: int, *, fresh: bool = False) -> list:
        if fresh or number not in self._comments:
            issue = self.repo.get_issue(number)
            self._comments[number] = [c for c in issue.get_comments() if c.user.login.lower() == self.bot_login]
        return self._comments[number]

    def _find(self, number: int, prefix: str, *, fresh: bool = False):
        return next((c for c in self._bot_comments(number, fresh=fresh) if c.body.startswith(prefix)), None)

    def has_status(self, number: int) -> bool:
        return self._find(number, MARKER_PREFIX) is not None

    def load_state(self, number: int) -> IssueState:
        """Rebuild the state from the bot's own status comment; anyone else's marker is ignored."""
        comment = self._find(number, MARKER_PREFIX)
        return (decode_marker(comment.body) if comment else None) or IssueState()

    def save_status(self, number: int, body: str, *, expected_version: int) -> None:
        """Write the status comment, unless someone saved a newer state since we read ours (StaleState)."""
        existing = self._find(number, MARKER_PREFIX) or self._find(number, MARKER_PREFIX, fresh=True)
        if existing is not None:
            current = self.repo.get_issue(number).get_comment(existing.id)
            stored = decode_marker(current.body)
            if stored is not None and stored.version != expected_version:
                raise StaleState(f"the state of #{number} was saved by another writer (version {stored.version}, "
                                 f"expected {expected_version}); handling the event again on the newer state")
        self.upsert(number, MARKER_PREFIX, body)

    def upsert_keyed(self, number: int, key: str, body: str, *, edit: bool) -> None:
        """A comment identified by `key`: edited in place when `edit`, else created only once."""
        prefix = marker(key)
        existing = self._find(number, prefix)
        if existing and not edit:
            return
        self.upsert(number, prefix, f"{prefix}\n{body}")

    def upsert(self, number: int, prefix: str, body: str) -> None:
        """Edit the bot's comment that starts with `prefix`, or create it exactly once."""
        existing = self._find(number, prefix)
        if existing is None:
            existing = create_once(lambda: self._find(number, prefix, fresh=True),
                                   lambda: self._create_comment(number, body))
        if existing.body != body:
            existing.edit(body)

    def _create_comment(self, number: int, body: str):
        created = self.repo.get_issue(number).create_comment(body)
        self._bot_comments(number).append(created)
        return created

    def labels(self, number: int) -> set[str]:
        return {label.name for label in self.repo.get_issue(number).labels}

    def change_labels(self, number: int, add: set[str], remove: set[str]) -> None:
        issue = self.repo.get_issue(number)
        for name in sorted(remove):
            issue.remove_from_labels(name)
        if add:
            issue.add_to_labels(*sorted(add))

    def react(self, number: int, content: str, comment_id: int | None = None) -> None:
        issue = self.repo.get_issue(number)
        target = issue.get_comment(comment_id) if comment_id else issue
        target.create_reaction(content)

    def comments_since(self, number: int, since: datetime) -> list[tuple[str, str, str]]:
        """(login, account type, body) of the comments made after `since`, the bot's own left out."""
        return [(c.user.login, c.user.type, c.body) for c in self.repo.get_issue(number).get_comments(since=since)
                if c.created_at >= since and c.user.login.lower() != self.bot_login]

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

    def commits_after(self, pr_number: int, sha: str) -> list[tuple[str, str]]:
        """(sha, author login) of the PR's commits after `sha`, oldest first: what a maintainer must review."""
        commits = list(self.repo.get_pull(pr_number).get_commits())
        shas = [c.sha for c in commits]
        later = commits[shas.index(sha) + 1:] if sha in shas else commits
        return [(c.sha, (c.author.login if c.author else None) or c.commit.author.name or "unknown") for c in later]

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
        if isinstance(content, list):  # a folder of that name, not the file
            raise ConfigFileError(f"`{CONFIG_PATH}` is a folder; it must be a YAML file.")
        try:
            data = yaml.safe_load(base64.b64decode(content.content).decode("utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigFileError(f"`{CONFIG_PATH}` is not valid YAML ({type(exc).__name__}); fix it, then "
                                  "comment `/retry`.") from None
        if not isinstance(data, dict):
            raise ConfigFileError(f"`{CONFIG_PATH}` must be a mapping of settings (key: value lines).")
        return data

    # --- branches, pull requests and checkouts --------------------------------------------

    def push_files(self, branch: str, folder: str, files: dict[str, str], message: str) -> tuple[str, str]:
        """Commit `folder` holding exactly `files` on `branch` (created from the default branch).

        Anything else in the folder is removed, so the commit holds only what the bot smoke-tested.
        Returns (commit SHA, commit time on GitHub's clock); no new commit when nothing changed.
        """
        parent_sha = self._ref_sha(branch) or self._ref_sha(self.repo.default_branch)
        if parent_sha is None:
            raise UserError(f"the repository has no `{self.repo.default_branch}` branch to open a pull request against.")
        parent = self.repo.get_git_commit(parent_sha)
        wanted = {f"{folder}/{name}": text for name, text in files.items()}
        elements = [InputGitTreeElement(path, "100644", "blob", content=text) for path, text in sorted(wanted.items())]
        stale = [e.path for e in self.repo.get_git_tree(parent.tree.sha, recursive=True).tree
                 if e.type == "blob" and e.path.startswith(folder + "/") and e.path not in wanted]
        elements += [InputGitTreeElement(path, "100644", "blob", sha=None) for path in stale]
        tree = self.repo.create_git_tree(elements, parent.tree)
        if tree.sha == parent.tree.sha and self._ref_sha(branch):
            return parent_sha, _github_time(parent)
        commit = self.repo.create_git_commit(message, tree, [parent])
        self._move_branch(branch, commit.sha)
        return commit.sha, _github_time(commit)

    def _move_branch(self, branch: str, sha: str) -> None:
        """Point `branch` at `sha`, creating it if needed (a retried create finds the ref already there)."""
        if self._ref_sha(branch):
            self.repo.get_git_ref(f"heads/{branch}").edit(sha)
            return
        create_once(lambda: self._ref_sha(branch), lambda: self.repo.create_git_ref(f"refs/heads/{branch}", sha))
        if self._ref_sha(branch) != sha:
            self.repo.get_git_ref(f"heads/{branch}").edit(sha)

    def _ref_sha(self, branch: str) -> str | None:
        try:
            return self.repo.get_git_ref(f"heads/{branch}").object.sha
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise

    def ensure_pull(self, branch: str, title: str, body: str) -> int:
        """The open PR for `branch`, its body refreshed; created exactly once when there is none."""
        owner = self.repo.owner.login

        def find():
            return next(iter(self.repo.get_pulls(state="open", head=f"{owner}:{branch}")), None)

        pull = create_once(find, lambda: self.repo.create_pull(title=title, body=body, head=branch,
                                                               base=self.repo.default_branch))
        if pull.body != body or pull.title != title:
            pull.edit(title=title, body=body)
        return pull.number

    def checkout(self, sha: str, paths: list[str], dest: Path) -> list[str]:
        """Write the files under each of `paths` (folders or files) at exactly commit `sha` into `dest`."""
        tree = self.repo.get_git_tree(self.repo.get_git_commit(sha).tree.sha, recursive=True)
        written = []
        for entry in tree.tree:
            if entry.type != "blob" or not any(entry.path == p or entry.path.startswith(p.rstrip("/") + "/")
                                               for p in paths):
                continue
            target = dest / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(self.repo.get_git_blob(entry.sha).content))
            written.append(entry.path)
        if not written:
            raise FileNotFoundError(f"commit {sha[:7]} has no files under {', '.join(paths)}")
        return written

    def fetch_default_branch(self, path: str, dest: Path) -> Path | None:
        """A file or folder of the default branch, copied under `dest`; None when the repository has none."""
        sha = self._ref_sha(self.repo.default_branch)
        if sha is None:
            return None
        written = self.checkout_if_present(sha, path, dest)
        return dest / path if written else None

    def checkout_if_present(self, sha: str, path: str, dest: Path) -> list[str]:
        try:
            return self.checkout(sha, [path], dest)
        except FileNotFoundError:
            return []


def _github_time(commit) -> str:
    """A git commit's committer time, as GitHub's ISO 8601 string."""
    moment = commit.committer.date if commit.committer else None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""
